/**
 * Policy what-if, the replay (rules in core/whatif.ts): steps through the
 * window, rebuilds each running workload's idle evidence as the store gives it
 * (GPU-minutes over the lookback, the hourly history folded before it, kernel
 * polls, the simulated actions), judges it with assessIdle, lets the enforcer's
 * planning warn and stop, and judges each stop false or not over its grace
 * period. Pending demand and burst run in core/whatifBurst.ts.
 */
import type { StopOutcome } from '../alerts/enforcer/plan'
import { activityFloor, readingOf, reaches, type ActionEvidence, type GpuMinute, type IdleHistory, type WorkloadEvidence } from './idle'
import { IDLE_ACTIONS, IDLE_CLASS, assessIdle } from './idleMachine'
import { kernelOf, lookbackFromOf, whatifKey, type KernelPoll, type NodeCapacityRow, type WhatifEngine, type WhatifOptions, type WhatifPod, type WhatifReport, type WhatifStop, type WhatifWorkload } from './whatif'
import { BurstReplay } from './whatifBurst'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
/** How far back the live /idle reads the hourly history (api/routes/idle.ts HISTORY_MS). */
const HISTORY_MS = 30 * DAY_MS

interface HourAcc { grN: number; grMax: number | null; utilN: number; utilMax: number | null }
interface Summary { firstSampleMs?: number; lastActiveEndMs?: number; sampledHours: number; maxUtil: number | null }
interface FalseCheck { stop: WhatifStop; untilMs: number; cut: boolean }

/** Per-workload replay state: the evidence window (minutes, polls), the folded hourly history, and the simulated actions. */
interface WState {
  w: WhatifWorkload
  key: string
  firstStartMs: number
  minutes: GpuMinute[]
  polls: KernelPoll[]
  hours: Map<number, HourAcc>
  summary: Summary
  actions: ActionEvidence[]
  stopped?: FalseCheck
}

const runningAt = (p: WhatifPod, t: number): boolean => p.startMs !== undefined && p.startMs <= t && (p.endMs === undefined || t < p.endMs)

/**
 * A what-if replay. Feed it the history in time order — addMinutes / addPolls
 * for a span, then advanceTo the span's end — and read report() at the end.
 * Memory is bounded by the running workloads' lookback, not by the window.
 */
export class WhatifReplay {
  private readonly states = new Map<string, WState>()
  private readonly order: WState[]
  private nextLive = 0
  private readonly live = new Set<WState>()
  private nextT: number
  private steps = 0
  private readonly blocked = new Map<StopOutcome, Set<string>>()
  private readonly stops: WhatifStop[] = []
  private readonly open = new Set<WState>()
  private readonly evaluated = new Set<string>()
  private readonly warnedKeys = new Set<string>()
  private acc = { evaluatedGpuHours: 0, unknownGpuHours: 0, warnings: 0 }
  private readonly burst: BurstReplay

  constructor(workloads: readonly WhatifWorkload[], nodes: readonly NodeCapacityRow[], private readonly o: WhatifOptions, private readonly engine: WhatifEngine) {
    this.nextT = o.fromMs
    for (const w of workloads) {
      const starts = w.pods.flatMap((p) => (p.startMs === undefined ? [] : [p.startMs]))
      if (starts.length === 0) continue
      const st: WState = { w, key: whatifKey(w), firstStartMs: Math.min(...starts), minutes: [], polls: [], hours: new Map(), summary: { sampledHours: 0, maxUtil: null }, actions: [] }
      this.states.set(st.key, st)
    }
    this.order = [...this.states.values()].sort((a, b) => a.firstStartMs - b.firstStartMs)
    this.burst = new BurstReplay(workloads, nodes, o, engine)
  }

  /** GPU-minute rows of workloads (by whatifKey), for a span not yet fed; rows of unknown workloads are ignored. */
  addMinutes(rows: ReadonlyArray<{ key: string; minute: GpuMinute }>): void {
    for (const { key, minute } of [...rows].sort((a, b) => a.minute.minuteMs - b.minute.minuteMs)) {
      const st = this.states.get(key)
      if (!st) continue
      if (st.stopped) this.checkMinute(st, minute)
      else st.minutes.push(minute)
    }
  }

  /** Kernel polls of notebooks (by whatifKey), for a span not yet fed. */
  addPolls(rows: ReadonlyArray<{ key: string; poll: KernelPoll }>): void {
    for (const { key, poll } of [...rows].sort((a, b) => a.poll.tsMs - b.poll.tsMs)) {
      const st = this.states.get(key)
      if (!st) continue
      if (st.stopped) this.checkPoll(st, poll)
      else st.polls.push(poll)
    }
  }

  /** Runs every evaluation at or before untilMs (and before toMs): minutes before it and polls up to it must have been fed. */
  advanceTo(untilMs: number): void {
    for (; this.nextT <= untilMs && this.nextT < this.o.toMs; this.nextT += this.o.stepMs) this.step(this.nextT)
  }

  private step(t: number): void {
    this.steps++
    const dtH = (Math.min(t + this.o.stepMs, this.o.toMs) - t) / HOUR_MS
    while (this.nextLive < this.order.length && (this.order[this.nextLive] as WState).firstStartMs <= t) this.live.add(this.order[this.nextLive++] as WState)
    for (const st of [...this.open]) if (st.stopped && st.stopped.untilMs <= t) this.closeCheck(st)
    const lookbackFromMs = lookbackFromOf(this.o.idle, t)
    const assessed = []
    for (const st of this.live) {
      const running = st.w.pods.filter((p) => runningAt(p, t))
      if (running.length === 0) {
        if (st.w.pods.every((p) => p.endMs !== undefined && p.endMs <= t)) this.drop(st)
        continue
      }
      const evidence = this.evidenceOf(st, running, lookbackFromMs, t)
      const assessment = assessIdle(evidence, this.o.idle, { nowMs: t, lookbackFromMs })
      this.evaluated.add(st.key)
      this.acc.evaluatedGpuHours += evidence.gpus * dtH
      if (assessment.verdict === 'unknown') this.acc.unknownGpuHours += evidence.gpus * dtH
      const w = st.w
      assessed.push({ st, workload: { cluster: w.cluster, namespace: w.namespace, kind: w.kind, name: w.name, team: w.team, project: w.project, user: w.user, pods: running.map((p) => p.pod), nodes: [...new Set(running.map((p) => p.node))], evidence }, assessment })
    }
    this.enforce(assessed, t)
    const idleGpus = new Map<string, number>()
    for (const x of assessed) if (!x.st.stopped && IDLE_CLASS.has(x.assessment.verdict)) idleGpus.set(x.workload.cluster, (idleGpus.get(x.workload.cluster) ?? 0) + x.workload.evidence.gpus)
    this.burst.step(t, dtH, idleGpus)
  }

  private evidenceOf(st: WState, running: WhatifPod[], lookbackFromMs: number, t: number): WorkloadEvidence {
    this.fold(st, lookbackFromMs)
    let end = 0
    while (end < st.minutes.length && (st.minutes[end] as GpuMinute).minuteMs < t) end++
    // Live evidence holds the running pods' GPUs only; a one-pod workload needs no filter.
    const devices = st.w.pods.length > 1 ? new Set(running.map((p) => `${p.pod}/`)) : undefined
    const minutes = devices ? st.minutes.slice(0, end).filter((m) => devices.has(m.device.slice(0, m.device.indexOf('/') + 1))) : st.minutes.slice(0, end)
    const polls = st.polls.length === 0 ? [] : st.polls.filter((p) => p.tsMs >= lookbackFromMs && p.tsMs <= t)
    const s = st.summary
    const history: IdleHistory | undefined = s.firstSampleMs === undefined ? undefined
      : { fromMs: lookbackFromMs - HISTORY_MS, toMs: lookbackFromMs, lastActiveEndMs: s.lastActiveEndMs, firstSampleMs: s.firstSampleMs, sampledHours: s.sampledHours, maxUtil: s.maxUtil }
    return {
      kind: st.w.kind, startMs: Math.min(...running.map((p) => p.startMs as number)), gpus: running.reduce((n, p) => n + p.gpus, 0),
      minutes, history, kernel: kernelOf(polls), actions: st.actions,
    }
  }

  /** Moves minutes before the lookback into hourly buckets and folds whole hours into the history summary (the store's hourly rollup read). */
  private fold(st: WState, lookbackFromMs: number): void {
    let i = 0
    for (; i < st.minutes.length && (st.minutes[i] as GpuMinute).minuteMs < lookbackFromMs; i++) {
      const m = st.minutes[i] as GpuMinute
      const h = Math.floor(m.minuteMs / HOUR_MS) * HOUR_MS
      const a = st.hours.get(h) ?? { grN: 0, grMax: null, utilN: 0, utilMax: null }
      a.grN += m.grN
      a.utilN += m.utilN
      if (m.grMax !== null) a.grMax = Math.max(a.grMax ?? 0, m.grMax)
      if (m.utilMax !== null) a.utilMax = Math.max(a.utilMax ?? 0, m.utilMax)
      st.hours.set(h, a)
    }
    if (i > 0) st.minutes.splice(0, i)
    if (st.polls.length > 0 && (st.polls[0] as KernelPoll).tsMs < lookbackFromMs) st.polls = st.polls.filter((p) => p.tsMs >= lookbackFromMs)
    if (st.hours.size === 0) return
    const floor = activityFloor(this.o.idle.utilBelow)
    for (const h of [...st.hours.keys()].sort((a, b) => a - b)) {
      if (h + HOUR_MS > lookbackFromMs) break
      const a = st.hours.get(h) as HourAcc
      st.hours.delete(h)
      if (a.grN + a.utilN === 0) continue
      const act = (a.grN > 0 ? a.grMax : a.utilMax) ?? 0
      const s = st.summary
      s.firstSampleMs ??= h
      s.maxUtil = Math.max(s.maxUtil ?? 0, act)
      if (act >= floor) (s.lastActiveEndMs = h + HOUR_MS), (s.sampledHours = 0)
      else s.sampledHours++
    }
  }

  private enforce(assessed: Array<{ st: WState; workload: Parameters<WhatifEngine['planActions']>[0][number]['workload']; assessment: ReturnType<typeof assessIdle> }>, t: number): void {
    const byKey = new Map(assessed.map((x) => [whatifKey(x.workload), x]))
    const plan = this.engine.planActions(assessed, { ...this.o.enforcer, graceMs: this.o.idle.graceMs }, { exempt: new Map(), unverified: new Map() }, t)
    for (const warn of plan.warns) {
      const x = byKey.get(whatifKey(warn.workload))
      if (!x) continue
      x.st.actions.push({ tsMs: t, action: IDLE_ACTIONS.warn, acted: true, dryRun: false })
      this.warnedKeys.add(x.st.key)
      this.acc.warnings++
      if (warn.outcome !== 'stop' && warn.outcome !== 'dry-run') this.block(warn.outcome, x.st.key)
    }
    for (const stop of plan.stops) {
      const x = byKey.get(whatifKey(stop.workload))
      if (!x || stop.outcome === 'limit') continue
      if (stop.outcome === 'stop' || stop.outcome === 'dry-run') this.stop(x.st, stop.assessment, t)
      else this.block(stop.outcome, x.st.key)
    }
  }

  private block(outcome: StopOutcome, key: string): void {
    const set = this.blocked.get(outcome) ?? new Set<string>()
    set.add(key)
    this.blocked.set(outcome, set)
  }

  private stop(st: WState, a: ReturnType<typeof assessIdle>, t: number): void {
    const w = st.w
    let reclaimed = 0
    for (const p of w.pods) {
      if (p.startMs === undefined) continue
      const s = Math.max(t, p.startMs)
      const e = Math.min(p.endMs ?? this.o.toMs, this.o.toMs)
      if (e <= s) continue
      reclaimed += (p.gpus * (e - s)) / HOUR_MS
      this.burst.reclaim(w.cluster, p.pool, s, e, p.gpus)
    }
    const ends = w.pods.map((p) => p.endMs)
    const recordedEndMs = ends.some((e) => e === undefined) ? null : Math.max(...(ends as number[]))
    const stop: WhatifStop = {
      cluster: w.cluster, namespace: w.namespace, kind: w.kind, name: w.name, team: w.team, user: w.user,
      gpus: w.pods.filter((p) => runningAt(p, t)).reduce((n, p) => n + p.gpus, 0), idleSinceMs: a.idleSinceMs ?? null, warnedAtMs: a.warnedAtMs ?? null,
      stoppedAtMs: t, recordedEndMs, reclaimedGpuHours: reclaimed, falseStop: null, resumedAtMs: null,
    }
    this.stops.push(stop)
    const graceEnd = t + this.o.idle.graceMs
    st.stopped = { stop, untilMs: Math.min(graceEnd, recordedEndMs ?? Infinity, this.o.toMs), cut: graceEnd > this.o.toMs && (recordedEndMs === null || recordedEndMs > this.o.toMs) }
    this.live.delete(st)
    this.open.add(st)
    const minutes = st.minutes
    const polls = st.polls
    st.minutes = []
    st.polls = []
    for (const m of minutes) this.checkMinute(st, m)
    for (const p of polls) this.checkPoll(st, p)
  }

  private resumed(st: WState, atMs: number): void {
    const c = st.stopped as FalseCheck
    if (atMs < c.stop.stoppedAtMs || atMs >= c.untilMs) return
    c.stop.resumedAtMs = Math.min(c.stop.resumedAtMs ?? Infinity, atMs)
  }

  private checkMinute(st: WState, m: GpuMinute): void {
    const r = readingOf(m, this.o.idle.activityStat)
    if (r && reaches(r.value, this.o.idle.utilBelow)) this.resumed(st, m.minuteMs)
  }

  private checkPoll(st: WState, p: KernelPoll): void {
    if (p.busy) this.resumed(st, p.tsMs)
    else if (p.lastActivityMs !== undefined && p.lastActivityMs > (st.stopped as FalseCheck).stop.stoppedAtMs) this.resumed(st, p.lastActivityMs)
  }

  private closeCheck(st: WState): void {
    const c = st.stopped as FalseCheck
    c.stop.falseStop = c.stop.resumedAtMs !== null ? true : c.cut ? null : false
    this.open.delete(st)
    this.drop(st)
  }

  private drop(st: WState): void {
    this.live.delete(st)
    if (!this.open.has(st)) this.states.delete(st.key)
  }

  /** The answer, once every evaluation up to toMs has run (advanceTo(toMs)). */
  report(): WhatifReport {
    for (const st of [...this.open]) this.closeCheck(st)
    const stops = [...this.stops].sort((a, b) => a.stoppedAtMs - b.stoppedAtMs || whatifKey(a).localeCompare(whatifKey(b)))
    const falseStops = stops.filter((s) => s.falseStop === true)
    return {
      window: { fromMs: this.o.fromMs, toMs: this.o.toMs, stepMs: this.o.stepMs, steps: this.steps },
      idle: {
        workloadsEvaluated: this.evaluated.size, evaluatedGpuHours: this.acc.evaluatedGpuHours, unknownGpuHours: this.acc.unknownGpuHours,
        warnedWorkloads: this.warnedKeys.size, warnings: this.acc.warnings, stoppedWorkloads: stops.length,
        falseStops: falseStops.length, falseStopsUnjudged: stops.filter((s) => s.falseStop === null).length,
        reclaimedGpuHours: stops.reduce((n, s) => n + s.reclaimedGpuHours, 0), falseStopReclaimedGpuHours: falseStops.reduce((n, s) => n + s.reclaimedGpuHours, 0),
        blocked: Object.fromEntries([...this.blocked].map(([k, v]) => [k, v.size])),
      },
      demand: this.burst.demand(),
      burst: this.burst.report(),
      stops,
    }
  }
}

/** Runs a whole replay over history already in memory (tests, small histories): every minute and poll fed at once. */
export function replayWhatif(input: { workloads: readonly WhatifWorkload[]; nodes: readonly NodeCapacityRow[]; minutes: ReadonlyArray<{ key: string; minute: GpuMinute }>; polls: ReadonlyArray<{ key: string; poll: KernelPoll }> }, o: WhatifOptions, engine: WhatifEngine): WhatifReport {
  const r = new WhatifReplay(input.workloads, input.nodes, o, engine)
  r.addMinutes(input.minutes)
  r.addPolls(input.polls)
  r.advanceTo(o.toMs)
  return r.report()
}
