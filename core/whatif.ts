/**
 * Policy what-if, pure: replays stored history under a candidate idle policy
 * and burst policy, without touching anything. Time advances in fixed steps
 * (the enforcer's evaluation interval); at each step every workload recorded
 * as running is judged by the live system's own functions (core/idle.ts and
 * core/idleMachine.ts assessIdle, fed the same evidence shape the store
 * gives: per GPU-minute rollups over the lookback, the hourly history before
 * it, kernel polls, and the simulation's own warn / stop actions), the
 * enforcer's planning (alerts/enforcer/plan.ts planActions) decides warnings
 * and stops, and each burst pool is stepped by alerts/burst/policy.ts
 * stepBurst. Those functions come in through `WhatifEngine`, so core imports
 * no alerts code at run time.
 *
 * Rules of the replay:
 * - warnings are assumed delivered (a warn row acted); exemption labels are
 *   not known for the past, so nothing is exempt;
 * - a stopped workload frees its GPUs from the stop to its recorded end (or
 *   the window end): that is the reclaimed GPU-hours, summed exactly from its
 *   pods' intervals;
 * - false stop = after the stop, its recorded evidence shows activity within
 *   graceMs (before its recorded end): a GPU reading reaching utilBelow (the
 *   policy's activityStat), or, for notebooks, a busy kernel poll or a kernel
 *   last_activity later than the stop; `null` when the window ends first;
 * - reclaimed GPUs serve pending demand of the same cluster (GPU counts, not
 *   placement: an upper bound) — that is the pending wait avoided — and the
 *   served pods are allocated where the GPUs were freed, so cloud burst sees
 *   less pending demand;
 * - burst nodes absorb the pending demand left (so a burst does not grow
 *   until maxBurstGpus because the history still shows the pods pending);
 *   the history is assumed to hold no burst capacity of its own;
 * - each pool's burst is run twice: `baseline`, the policy on the recorded
 *   history (nothing reclaimed), and `whatif`, with the reclaimed GPUs.
 *   A policy that stops nothing gives equal tracks. Burst spend starts at 0
 *   at the window start (and each UTC month).
 */
import type { stepBurst, BurstDecision, PoolObservation, PoolState, ScaleChange } from '../alerts/burst/policy'
import type { EnforcerPolicy, planActions, StopOutcome } from '../alerts/enforcer/plan'
import type { BurstPoolConfig } from '../config/alerts'
import { activityFloor, readingOf, reaches, type ActionEvidence, type GpuMinute, type IdleHistory, type IdlePolicy, type KernelEvidence, type WorkloadEvidence } from './idle'
import { IDLE_ACTIONS, IDLE_CLASS, assessIdle } from './idleMachine'
import type { WorkloadRef } from './insights'

const MINUTE_MS = 60_000
const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
/** How far back the live /idle reads the hourly history (api/routes/idle.ts HISTORY_MS). */
const HISTORY_MS = 30 * DAY_MS
/**
 * The live evaluation's minute lookback covers at least this (api/routes/idle.ts
 * DEFAULT_IDLE_WINDOW_MS, used by the enforcer): keeping it keeps idle-since at
 * minute resolution through the warning and grace period, as live.
 */
export const LIVE_LOOKBACK_MS = 6 * HOUR_MS

/** The live decision functions the replay runs (passed in so core stays free of alerts/ code). */
export interface WhatifEngine {
  planActions: typeof planActions
  stepBurst: typeof stepBurst
}

/** One pod of a workload as recorded: [startMs, endMs) on a node of a pool; pending from createdMs until bound. */
export interface WhatifPod {
  pod: string
  node: string
  pool: string
  gpus: number
  createdMs: number
  /** Undefined: never bound (pending until it ended, or still). */
  startMs?: number | undefined
  /** Undefined: not ended by the end of the history read. */
  endMs?: number | undefined
}

/** A workload (pods grouped by cluster, namespace, kind and name) as recorded. */
export interface WhatifWorkload extends WorkloadRef {
  pods: WhatifPod[]
}

/** A node_state row: the node's schedulable GPUs (0 unless Ready and schedulable) from tsMs until its next row. */
export interface NodeCapacityRow {
  tsMs: number
  cluster: string
  node: string
  pool: string
  gpus: number
}

/** One kernel poll of a notebook (any kernel not idle = busy, the Kubeflow culler's rule). */
export interface KernelPoll {
  tsMs: number
  busy: boolean
  lastActivityMs: number | undefined
}

/** What to replay and under which policy. */
export interface WhatifOptions {
  /** Evaluations at fromMs, fromMs + stepMs, ... before toMs. */
  fromMs: number
  toMs: number
  stepMs: number
  idle: IdlePolicy
  /** The enforcer as it would run (enabled, live); its graceMs is the idle policy's. */
  enforcer: EnforcerPolicy
  pools: readonly BurstPoolConfig[]
}

/** A stop the policy would have made. */
export interface WhatifStop {
  cluster: string
  namespace: string
  kind: string
  name: string
  team: string
  user: string
  gpus: number
  idleSinceMs: number | null
  warnedAtMs: number | null
  stoppedAtMs: number
  recordedEndMs: number | null
  reclaimedGpuHours: number
  /** Active again within the grace period after the stop; null when the window ended first. */
  falseStop: boolean | null
  resumedAtMs: number | null
}

/** One run of a pool's burst policy over the window. */
export interface BurstTrack {
  scaleOuts: number
  scaleIns: number
  cloudGpuHours: number
  costUsd: number
  /** Pending GPU-hours the burst nodes served. */
  burstServedGpuHours: number
  /** Steps held, by reason code (steady left out). */
  holds: Partial<Record<BurstDecision['code'], number>>
  decisions: Array<{ atMs: number; action: BurstDecision['action']; code: BurstDecision['code']; changes: ScaleChange[] }>
}

/** The what-if answer. */
export interface WhatifReport {
  window: { fromMs: number; toMs: number; stepMs: number; steps: number }
  idle: {
    workloadsEvaluated: number
    /** GPU-hours judged (running workloads × steps), and the part without enough samples (unknown: never idle). */
    evaluatedGpuHours: number
    unknownGpuHours: number
    warnedWorkloads: number
    warnings: number
    stoppedWorkloads: number
    falseStops: number
    /** Stops whose grace period ran past the window end (not judged). */
    falseStopsUnjudged: number
    reclaimedGpuHours: number
    /** Of the reclaimed GPU-hours, those of false stops. */
    falseStopReclaimedGpuHours: number
    /** Workloads warned whose stop the enforcer would not make, by why (hung, unsupported, not-allowed, ...). */
    blocked: Partial<Record<StopOutcome, number>>
  }
  demand: { pendingGpuHours: number; pendingWaitAvoidedGpuHours: number }
  burst: Array<{ cluster: string; pool: string; baseline: BurstTrack; whatif: BurstTrack }>
  stops: WhatifStop[]
}

/** The minute lookback each evaluation reads (6 h or the longest idle window, plus staleness), as api/routes/idle.ts assessRunning reads it for the enforcer. */
export const lookbackMsOf = (p: IdlePolicy): number => Math.max(LIVE_LOOKBACK_MS, p.notebookWindowMs, p.jobWindowMs, ...Object.values(p.windowsByKindMs)) + p.stalenessMs

/** Start of the minute lookback of an evaluation at tMs: hour-aligned, so the hourly history ends exactly there. */
export const lookbackFromOf = (p: IdlePolicy, tMs: number): number => Math.floor((Math.floor(tMs / MINUTE_MS) * MINUTE_MS - lookbackMsOf(p)) / HOUR_MS) * HOUR_MS

/** A workload's identity: cluster/namespace/kind/name (alerts/audit.ts workloadKey). */
export const whatifKey = (w: { cluster: string; namespace: string; kind: string; name: string }): string => `${w.cluster}/${w.namespace}/${w.kind}/${w.name}`

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

const emptyTrack = (): BurstTrack => ({ scaleOuts: 0, scaleIns: 0, cloudGpuHours: 0, costUsd: 0, burstServedGpuHours: 0, holds: {}, decisions: [] })
interface TrackState { report: BurstTrack; state: PoolState; sizes: Map<string, number>; spent: Map<string, number>; monthMs: number; lastScaleMs: number | undefined }
const monthOf = (ms: number): number => {
  const d = new Date(ms)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}
const add = <K>(m: Map<K, number>, k: K, v: number): void => void m.set(k, (m.get(k) ?? 0) + v)
const runningAt = (p: WhatifPod, t: number): boolean => p.startMs !== undefined && p.startMs <= t && (p.endMs === undefined || t < p.endMs)
const poolKey = (cluster: string, pool: string): string => `${cluster}\u0000${pool}`

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
  private readonly allocEvents: Array<{ t: number; key: string; d: number }> = []
  private readonly pendEvents: Array<{ t: number; cluster: string; d: number }> = []
  private ev = { alloc: 0, pend: 0, cap: 0 }
  private readonly alloc = new Map<string, number>()
  private readonly pending = new Map<string, number>()
  private readonly cap = new Map<string, number>()
  private readonly nodeCap = new Map<string, { key: string; gpus: number }>()
  private readonly reclaimSpans: Array<{ cluster: string; key: string; s: number; e: number; gpus: number }> = []
  private readonly tracks: Array<{ p: BurstPoolConfig; baseline: TrackState; whatif: TrackState }>
  private readonly blocked = new Map<StopOutcome, Set<string>>()
  private readonly stops: WhatifStop[] = []
  private readonly open = new Set<WState>()
  private readonly evaluated = new Set<string>()
  private readonly warnedKeys = new Set<string>()
  private acc = { evaluatedGpuHours: 0, unknownGpuHours: 0, warnings: 0, pendingGpuHours: 0, avoidedGpuHours: 0 }

  constructor(workloads: readonly WhatifWorkload[], private readonly nodes: readonly NodeCapacityRow[], private readonly o: WhatifOptions, private readonly engine: WhatifEngine) {
    this.nextT = o.fromMs
    for (const w of workloads) {
      const starts = w.pods.flatMap((p) => (p.startMs === undefined ? [] : [p.startMs]))
      for (const p of w.pods) {
        if (p.startMs !== undefined) {
          this.allocEvents.push({ t: p.startMs, key: poolKey(w.cluster, p.pool), d: p.gpus })
          if (p.endMs !== undefined) this.allocEvents.push({ t: p.endMs, key: poolKey(w.cluster, p.pool), d: -p.gpus })
        }
        const boundMs = p.startMs ?? p.endMs
        if (boundMs === undefined || boundMs > p.createdMs) {
          this.pendEvents.push({ t: p.createdMs, cluster: w.cluster, d: p.gpus })
          if (boundMs !== undefined) this.pendEvents.push({ t: boundMs, cluster: w.cluster, d: -p.gpus })
        }
      }
      if (starts.length === 0) continue
      const st: WState = { w, key: whatifKey(w), firstStartMs: Math.min(...starts), minutes: [], polls: [], hours: new Map(), summary: { sampledHours: 0, maxUtil: null }, actions: [] }
      this.states.set(st.key, st)
    }
    this.order = [...this.states.values()].sort((a, b) => a.firstStartMs - b.firstStartMs)
    this.allocEvents.sort((a, b) => a.t - b.t)
    this.pendEvents.sort((a, b) => a.t - b.t)
    this.nodes = [...nodes].sort((a, b) => a.tsMs - b.tsMs)
    const track = (): TrackState => ({ report: emptyTrack(), state: {}, sizes: new Map(), spent: new Map(), monthMs: monthOf(o.fromMs), lastScaleMs: undefined })
    this.tracks = o.pools.map((p) => ({ p, baseline: track(), whatif: track() }))
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
    this.applyEvents(t)
    const idleGpus = new Map<string, number>()
    for (const x of assessed) if (!x.st.stopped && IDLE_CLASS.has(x.assessment.verdict)) add(idleGpus, x.workload.cluster, x.workload.evidence.gpus)
    this.burst(t, dtH, idleGpus)
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
      this.reclaimSpans.push({ cluster: w.cluster, key: poolKey(w.cluster, p.pool), s, e, gpus: p.gpus })
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

  private applyEvents(t: number): void {
    const e = this.ev
    for (; e.alloc < this.allocEvents.length && (this.allocEvents[e.alloc] as { t: number }).t <= t; e.alloc++) add(this.alloc, this.allocEvents[e.alloc]!.key, this.allocEvents[e.alloc]!.d)
    for (; e.pend < this.pendEvents.length && (this.pendEvents[e.pend] as { t: number }).t <= t; e.pend++) add(this.pending, this.pendEvents[e.pend]!.cluster, this.pendEvents[e.pend]!.d)
    for (; e.cap < this.nodes.length && (this.nodes[e.cap] as NodeCapacityRow).tsMs <= t; e.cap++) {
      const n = this.nodes[e.cap] as NodeCapacityRow
      const id = `${n.cluster}\u0000${n.node}`
      const prev = this.nodeCap.get(id)
      if (prev) add(this.cap, prev.key, -prev.gpus)
      const key = poolKey(n.cluster, n.pool)
      add(this.cap, key, n.gpus)
      this.nodeCap.set(id, { key, gpus: n.gpus })
    }
  }

  /** Pending demand and the reclaimed GPUs serving it at t, then each pool's burst policy on both tracks. */
  private burst(t: number, dtH: number, idleGpus: Map<string, number>): void {
    const reclaimedPool = new Map<string, number>()
    const reclaimedCluster = new Map<string, number>()
    for (let i = this.reclaimSpans.length - 1; i >= 0; i--) {
      const s = this.reclaimSpans[i]!
      if (s.e <= t) this.reclaimSpans.splice(i, 1)
      else if (s.s <= t) (add(reclaimedPool, s.key, s.gpus), add(reclaimedCluster, s.cluster, s.gpus))
    }
    const served = new Map<string, number>()
    const servedPool = new Map<string, number>()
    for (const [cluster, pend] of this.pending) {
      if (pend <= 0) continue
      this.acc.pendingGpuHours += pend * dtH
      let left = Math.min(pend, reclaimedCluster.get(cluster) ?? 0)
      served.set(cluster, left)
      this.acc.avoidedGpuHours += left * dtH
      for (const [key, gpus] of [...reclaimedPool].sort((a, b) => a[0].localeCompare(b[0]))) {
        if (left <= 0 || !key.startsWith(`${cluster}\u0000`)) continue
        const n = Math.min(left, gpus)
        servedPool.set(key, n)
        left -= n
      }
    }
    for (const name of ['baseline', 'whatif'] as const) {
      const absorb = new Map<string, number>()
      for (const tr of this.tracks) {
        const ts = tr[name]
        const p = tr.p
        const key = poolKey(p.cluster, p.pool)
        const whatif = name === 'whatif'
        const pendingC = Math.max(0, (this.pending.get(p.cluster) ?? 0) - (whatif ? (served.get(p.cluster) ?? 0) : 0))
        let free = Math.max(0, pendingC - (absorb.get(p.cluster) ?? 0))
        const targets = p.targets.map((tg) => {
          const gpus = ts.sizes.get(tg.name) ?? 0
          const allocatedGpus = Math.min(gpus, free)
          free -= allocatedGpus
          add(absorb, p.cluster, allocatedGpus)
          return { name: tg.name, gpus, allocatedGpus, spentUsd: ts.spent.get(tg.name) ?? 0 }
        })
        const burstServed = targets.reduce((n, x) => n + x.allocatedGpus, 0)
        const reclaimedHere = reclaimedCluster.get(p.cluster) ?? 0
        const obs: PoolObservation = {
          nowMs: t, capacityGpus: this.cap.get(key) ?? 0,
          allocatedGpus: (this.alloc.get(key) ?? 0) - (whatif ? (reclaimedPool.get(key) ?? 0) - (servedPool.get(key) ?? 0) : 0),
          pendingGpus: Math.max(0, pendingC - burstServed),
          idleAllocatedGpus: (idleGpus.get(p.cluster) ?? 0) + (whatif ? 0 : reclaimedHere),
          targets, lastScaleMs: ts.lastScaleMs,
        }
        this.stepTrack(p, ts, obs, dtH, burstServed)
      }
    }
  }

  private stepTrack(p: BurstPoolConfig, ts: TrackState, obs: PoolObservation, dtH: number, burstServed: number): void {
    const t = obs.nowMs
    if (monthOf(t) !== ts.monthMs) (ts.monthMs = monthOf(t)), ts.spent.clear()
    const { state, decision } = this.engine.stepBurst(p, ts.state, obs)
    ts.state = state
    const r = ts.report
    if (decision.action === 'hold') {
      if (decision.code !== 'steady') r.holds[decision.code] = (r.holds[decision.code] ?? 0) + 1
    } else {
      for (const c of decision.changes) ts.sizes.set(c.target, c.toGpus)
      ts.lastScaleMs = t
      if (decision.action === 'scale-out') r.scaleOuts++
      else r.scaleIns++
      r.decisions.push({ atMs: t, action: decision.action, code: decision.code, changes: decision.changes })
    }
    r.burstServedGpuHours += burstServed * dtH
    for (const tg of p.targets) {
      const gpus = ts.sizes.get(tg.name) ?? 0
      r.cloudGpuHours += gpus * dtH
      r.costUsd += gpus * dtH * tg.usdPerGpuHour
      add(ts.spent, tg.name, gpus * dtH * tg.usdPerGpuHour)
    }
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
      demand: { pendingGpuHours: this.acc.pendingGpuHours, pendingWaitAvoidedGpuHours: this.acc.avoidedGpuHours },
      burst: this.tracks.map((x) => ({ cluster: x.p.cluster, pool: x.p.pool, baseline: x.baseline.report, whatif: x.whatif.report })),
      stops,
    }
  }
}

/** Kernel evidence from the polls of the lookback, as store/queries/idle.ts KERNELS summarises them; undefined without polls. */
export function kernelOf(polls: readonly KernelPoll[]): KernelEvidence | undefined {
  if (polls.length === 0) return undefined
  const latest = polls[polls.length - 1] as KernelPoll
  let busySinceMs: number | undefined
  for (let i = polls.length - 1; i >= 0 && (polls[i] as KernelPoll).busy; i--) busySinceMs = (polls[i] as KernelPoll).tsMs
  const acts = polls.flatMap((p) => (p.lastActivityMs === undefined ? [] : [p.lastActivityMs]))
  return {
    firstPollMs: (polls[0] as KernelPoll).tsMs, latestPollMs: latest.tsMs, busyNow: latest.busy,
    busySinceMs: latest.busy ? busySinceMs : undefined, lastActivityMs: acts.length > 0 ? Math.max(...acts) : undefined,
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
