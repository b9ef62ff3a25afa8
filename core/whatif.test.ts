import { describe, expect, it } from 'vitest'
import { stepBurst } from '../alerts/burst/policy'
import { planActions, type EnforcerPolicy } from '../alerts/enforcer/plan'
import type { BurstPoolConfig } from '../config/alerts'
import { defaultIdlePolicy, type GpuMinute, type IdlePolicy } from './idle'
import { kernelOf, whatifKey, type KernelPoll, type WhatifOptions, type WhatifWorkload } from './whatif'
import { replayWhatif } from './whatifReplay'

// Hand-made histories whose answers are known. T0 is a whole hour; the window is
// [T0, T0 + 8 h) in 5-minute steps; samples every minute on every GPU. Jobs use a
// 1 h idle window and a 30 min grace period.
const MIN = 60_000
const HOUR = 60 * MIN
const T0 = Date.UTC(2026, 0, 5, 0, 0, 0)
const at = (h: number) => T0 + h * HOUR
const engine = { planActions, stepBurst }

interface Spec { name: string; kind?: string; gpus?: number; startH: number; endH?: number; util?: (h: number) => number | undefined; kernelBusy?: boolean; ns?: string }

function workload(s: Spec): WhatifWorkload {
  return {
    cluster: 'c1', namespace: s.ns ?? 'ml', kind: s.kind ?? 'Job', name: s.name, team: 'ml', project: 'p', user: 'ana',
    pods: [{ pod: `${s.name}-0`, node: 'n1', pool: 'dgx', gpus: s.gpus ?? 1, createdMs: at(s.startH), startMs: at(s.startH), endMs: s.endH === undefined ? undefined : at(s.endH) }],
  }
}

function minutesOf(s: Spec, toH: number): Array<{ key: string; minute: GpuMinute }> {
  const out: Array<{ key: string; minute: GpuMinute }> = []
  if (!s.util) return out
  for (let m = at(s.startH); m < at(s.endH ?? toH); m += MIN) {
    const v = s.util((m - T0) / HOUR)
    if (v === undefined) continue
    for (let g = 0; g < (s.gpus ?? 1); g++) {
      out.push({ key: whatifKey(workload(s)), minute: { device: `${s.name}-0/GPU-${s.name}-${g}`, minuteMs: m, grN: 4, grSum: 4 * v, grMax: v, utilN: 0, utilSum: 0, utilMax: null, fbUsedMaxBytes: null } })
    }
  }
  return out
}

function pollsOf(s: Spec, toH: number): Array<{ key: string; poll: KernelPoll }> {
  if (s.kernelBusy === undefined) return []
  const out: Array<{ key: string; poll: KernelPoll }> = []
  for (let t = at(s.startH); t < at(s.endH ?? toH); t += 5 * MIN) out.push({ key: whatifKey(workload(s)), poll: { tsMs: t, busy: s.kernelBusy, lastActivityMs: s.kernelBusy ? t : at(s.startH) } })
  return out
}

const step = (a: number, b: number, from: number) => (h: number) => (h < from ? a : b)

// c1/dgx: one 7-GPU node, fully allocated until idle-3h ends at T0+4h; a 2-GPU pod pending from T0+2h to T0+6h.
const FLEET: Spec[] = [
  { name: 'idle-3h', gpus: 2, startH: -2, endH: 4, util: step(0.5, 0, 1) }, // idle from T0+1h to its end at T0+4h
  { name: 'resumes', startH: -2, endH: 6, util: (h) => (h < 1 ? 0.5 : h < 2 + 40 / 60 ? 0 : 0.6) }, // active again at T0+2h40
  { name: 'busy', startH: -2, util: () => 0.7 },
  { name: 'nb-hung', kind: 'Notebook', startH: -2, util: () => 0, kernelBusy: true },
  { name: 'no-samples', startH: -2 },
  { name: 'dip', startH: -2, util: (h) => (h >= 1 && h < 1.75 ? 0 : 0.5) }, // 45 min below the threshold, shorter than the 1 h window
]
const PENDING: WhatifWorkload = {
  cluster: 'c1', namespace: 'ml', kind: 'Job', name: 'waiting', team: 'ml', project: 'p', user: 'bo',
  pods: [{ pod: 'waiting-0', node: '', pool: '', gpus: 2, createdMs: at(2), startMs: undefined, endMs: at(6) }],
}
const POOL: BurstPoolConfig = {
  cluster: 'c1', pool: 'dgx', thresholdRatio: 1, minPendingGpus: 1, forMs: 10 * MIN, maxBurstGpus: 8, monthlyBudgetUsd: 10_000, budgetLookaheadMs: HOUR,
  cooldownMs: 30 * MIN, scaleInAfterMs: 30 * MIN, reclaimFirst: false,
  targets: [{ name: 'spot', provider: 'gcp', lifecycle: 'spot', pool: 'gcp-spot', gpusPerNode: 2, maxNodes: 4, usdPerGpuHour: 2, adapter: { type: 'webhook', webhookUrl: 'http://127.0.0.1:9/never', signingSecret: '', timeoutMs: 1000 } }],
}
const ENFORCER: EnforcerPolicy = { enabled: true, dryRun: false, namespaceAllowList: [], protectedNamespaces: ['kube-system'], maxActionsPerRun: 5, deleteBarePods: false, clusters: ['c1'], graceMs: 0 }
const JOB_POLICY: IdlePolicy = { ...defaultIdlePolicy(), jobWindowMs: HOUR, graceMs: 30 * MIN }
const NEVER_STOP: IdlePolicy = { ...JOB_POLICY, utilBelow: 0, stuckUtilBelow: 0 }

function run(idle: IdlePolicy, specs: Spec[] = FLEET, over: Partial<WhatifOptions> = {}) {
  const opts: WhatifOptions = { fromMs: T0, toMs: at(8), stepMs: 5 * MIN, idle, enforcer: ENFORCER, pools: [POOL], ...over }
  return replayWhatif({
    workloads: [...specs.map(workload), PENDING],
    nodes: [{ tsMs: at(-3), cluster: 'c1', node: 'n1', pool: 'dgx', gpus: 7 }],
    minutes: specs.flatMap((s) => minutesOf(s, 8)),
    polls: specs.flatMap((s) => pollsOf(s, 8)),
  }, opts, engine)
}

describe('what-if replay on hand-made histories', () => {
  const r = run(JOB_POLICY)
  const stop = (name: string) => r.stops.find((s) => s.name === name)

  it.each([
    { name: 'idle 3 h, 1 h window, 30 min grace: warned at idle + 1 h, stopped 30 min later, frees 2 GPUs until its end', workload: 'idle-3h', warnedH: 2, stoppedH: 2.5, reclaimed: 2 * 1.5, falseStop: false, resumedH: null },
    { name: 'active again 10 min after the stop: a false stop', workload: 'resumes', warnedH: 2, stoppedH: 2.5, reclaimed: 1 * 3.5, falseStop: true, resumedH: 2 + 40 / 60 },
  ])('$name', ({ workload: name, warnedH, stoppedH, reclaimed, falseStop, resumedH }) => {
    const s = stop(name)
    expect(s).toBeDefined()
    expect(s?.idleSinceMs).toBe(at(1))
    expect(s?.warnedAtMs).toBe(at(warnedH))
    expect(s?.stoppedAtMs).toBe(at(stoppedH))
    expect(s?.reclaimedGpuHours).toBeCloseTo(reclaimed, 9)
    expect(s?.falseStop).toBe(falseStop)
    expect(s?.resumedAtMs).toBe(resumedH === null ? null : at(resumedH))
  })

  it('never stops busy work, a hung notebook (warned, blocked as hung) or a workload without samples (unknown)', () => {
    expect(r.stops.map((s) => s.name).sort()).toEqual(['idle-3h', 'resumes'])
    expect(r.idle).toMatchObject({ stoppedWorkloads: 2, falseStops: 1, falseStopsUnjudged: 0, warnedWorkloads: 3, blocked: { hung: 1 } })
    expect(r.idle.reclaimedGpuHours).toBeCloseTo(6.5, 9)
    expect(r.idle.falseStopReclaimedGpuHours).toBeCloseTo(3.5, 9)
    // no-samples holds 1 GPU for the whole 8 h window: all of it unknown.
    expect(r.idle.unknownGpuHours).toBeCloseTo(8, 9)
  })

  it('reclaimed GPUs serve the pending pod: 2 GPUs from the stops to T0+4h, then the 1 GPU still reclaimed until T0+6h', () => {
    expect(r.demand.pendingGpuHours).toBeCloseTo(2 * 4, 9)
    expect(r.demand.pendingWaitAvoidedGpuHours).toBeCloseTo(2 * 1.5 + 1 * 2, 9)
  })

  it('baseline burst: out 10 min after saturation, in 30 min after the pending pod ends; the what-if scales in once reclaimed GPUs serve it', () => {
    const [pool] = r.burst
    expect(pool?.baseline.decisions.map((d) => [d.action, (d.atMs - T0) / MIN])).toEqual([['scale-out', 130], ['scale-in', 390]])
    expect(pool?.baseline.cloudGpuHours).toBeCloseTo(2 * (390 - 130) / 60, 9)
    expect(pool?.baseline.costUsd).toBeCloseTo(2 * 2 * (390 - 130) / 60, 9)
    expect(pool?.whatif.decisions.map((d) => [d.action, (d.atMs - T0) / MIN])).toEqual([['scale-out', 130], ['scale-in', 180]])
    expect(pool?.whatif.cloudGpuHours).toBeCloseTo(2 * 50 / 60, 9)
  })

  it('a policy that never stops anything: no warnings, no stops, and the burst tracks equal', () => {
    const n = run(NEVER_STOP)
    expect(n.idle).toMatchObject({ warnedWorkloads: 0, warnings: 0, stoppedWorkloads: 0, falseStops: 0, reclaimedGpuHours: 0 })
    expect(n.stops).toEqual([])
    expect(n.demand.pendingWaitAvoidedGpuHours).toBe(0)
    expect(n.burst[0]?.whatif).toEqual(n.burst[0]?.baseline)
    expect(n.burst[0]?.baseline).toEqual(r.burst[0]?.baseline)
  })

  it('a stricter policy (30 min window, 10 min grace) reclaims more, and reports the dip it stops as a false stop', () => {
    const strict = run({ ...JOB_POLICY, jobWindowMs: 30 * MIN, graceMs: 10 * MIN })
    expect(strict.idle.reclaimedGpuHours).toBeGreaterThan(r.idle.reclaimedGpuHours)
    // idle-3h: idle from T0+1h, warned at T0+1h30, stopped at T0+1h40: 2 GPUs × 2h20.
    expect(strict.stops.find((s) => s.name === 'idle-3h')).toMatchObject({ stoppedAtMs: at(1) + 40 * MIN, falseStop: false })
    expect(strict.stops.find((s) => s.name === 'idle-3h')?.reclaimedGpuHours).toBeCloseTo(2 * (4 - 1 - 40 / 60), 9)
    // resumes: stopped at T0+1h40, active again only at T0+2h40, after the 10 min grace: not a false stop under this definition.
    expect(strict.stops.find((s) => s.name === 'resumes')).toMatchObject({ stoppedAtMs: at(1) + 40 * MIN, falseStop: false, resumedAtMs: null })
    // dip: stopped at T0+1h40, active again at T0+1h45.
    expect(strict.stops.find((s) => s.name === 'dip')).toMatchObject({ stoppedAtMs: at(1) + 40 * MIN, falseStop: true, resumedAtMs: at(1.75) })
    expect(strict.idle.falseStops).toBe(1)
    expect(r.stops.find((s) => s.name === 'dip')).toBeUndefined()
  })

  it('a stop whose grace runs past the window end is not judged', () => {
    // Idle from T0+6h15: warned at T0+7h15, stopped at T0+7h45; the grace would end at T0+8h15, after the window.
    const late = run(JOB_POLICY, [{ name: 'late', startH: 4, util: step(0.5, 0, 6.25) }])
    expect(late.stops.map((s) => [s.name, (s.stoppedAtMs - T0) / MIN, s.falseStop])).toEqual([['late', 7 * 60 + 45, null]])
    expect(late.idle.falseStopsUnjudged).toBe(1)
  })

  it('a namespace outside the allow-list is warned but not stopped', () => {
    const r2 = run(JOB_POLICY, [{ ...FLEET[0] as Spec, ns: 'prod' }], { enforcer: { ...ENFORCER, namespaceAllowList: ['ml'] } })
    expect(r2.stops).toEqual([])
    expect(r2.idle).toMatchObject({ warnedWorkloads: 1, blocked: { 'not-allowed': 1 } })
  })
})

describe('kernelOf', () => {
  it.each([
    { name: 'no polls: unknown', polls: [], want: undefined },
    { name: 'busy streak after an idle poll', polls: [[0, false, 0], [5, true, 5], [10, true, 10]] as const, want: { firstPollMs: 0, latestPollMs: 10, busyNow: true, busySinceMs: 5, lastActivityMs: 10 } },
    { name: 'idle now', polls: [[0, true, 0], [5, false, 3]] as const, want: { firstPollMs: 0, latestPollMs: 5, busyNow: false, busySinceMs: undefined, lastActivityMs: 3 } },
  ])('$name', ({ polls, want }) => {
    expect(kernelOf(polls.map(([tsMs, busy, lastActivityMs]) => ({ tsMs, busy, lastActivityMs })))).toEqual(want)
  })
})
