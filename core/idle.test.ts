import { describe, expect, it } from 'vitest'
import { idleSchema } from '../config/idle'
import { defaultIdlePolicy, utilizationSeries, type ActionEvidence, type GpuMinute, type IdleHistory, type IdlePolicy, type KernelEvidence, type WorkloadEvidence } from './idle'
import { assessIdle } from './idleMachine'

const MIN = 60_000
const HOUR = 60 * MIN
/** A whole minute; `now` is 30 s into the next one, so evaluation ends at T0. */
const T0 = Date.UTC(2026, 2, 2, 12, 0, 0)
const NOW = T0 + 30_000
const at = (minutes: number) => T0 + minutes * MIN
const LOOKBACK = at(-360)

/** GR_ENGINE_ACTIVE rows of one device for minutes [from, to) (relative to T0), every `every` minutes, all at `value`. */
function gr(device: string, from: number, to: number, value: number, every = 1): GpuMinute[] {
  const out: GpuMinute[] = []
  for (let k = from; k < to; k += every) out.push({ device, minuteMs: at(k), grN: 4, grSum: value * 4, grMax: value, utilN: 4, utilSum: value * 4, utilMax: value, fbUsedMaxBytes: 2 ** 30 })
  return out
}
/** The same with only DEV_GPU_UTIL (a Pascal GPU without profiling metrics). */
const utilOnly = (device: string, from: number, to: number, value: number): GpuMinute[] =>
  gr(device, from, to, value).map((m) => ({ ...m, grN: 0, grSum: 0, grMax: null }))
/** Active (0.5) until `minutesAgo`, then 0 up to T0. */
const idleFor = (minutesAgo: number, device = 'p/GPU-0', since = -360) => [...gr(device, since, -minutesAgo, 0.5), ...gr(device, -minutesAgo, 0, 0)]

const job = (over: Partial<WorkloadEvidence>): WorkloadEvidence => ({ kind: 'Job', startMs: at(-600), gpus: 1, minutes: [], actions: [], ...over })
const notebook = (over: Partial<WorkloadEvidence>): WorkloadEvidence => job({ kind: 'Notebook', ...over })
const kernel = (over: Partial<KernelEvidence>): KernelEvidence => ({ firstPollMs: at(-360), latestPollMs: at(-1), busyNow: false, lastActivityMs: at(-300), ...over })
const history = (over: Partial<IdleHistory>): IdleHistory => ({ fromMs: at(-48 * 60), toMs: LOOKBACK, sampledHours: 0, maxUtil: 0, ...over })
const action = (action: string, minutes: number, acted = true): ActionEvidence => ({ tsMs: at(minutes), action, acted, dryRun: !acted })

interface Case {
  name: string
  ev: WorkloadEvidence
  policy?: Partial<IdlePolicy>
  want: { verdict: string; state?: string; idleSince?: number | undefined; wasted?: number; exact?: boolean; metric?: string; next?: { action: string; at: number } | undefined }
}

const run = (c: Case) => assessIdle(c.ev, { ...defaultIdlePolicy(), ...c.policy }, { nowMs: NOW, lookbackFromMs: LOOKBACK })

function check(c: Case): void {
  const a = run(c)
  expect(a.verdict).toBe(c.want.verdict)
  expect(a.state).toBe(c.want.state ?? c.want.verdict)
  if ('idleSince' in c.want) expect(a.idleSinceMs).toBe(c.want.idleSince === undefined ? undefined : at(c.want.idleSince))
  if (c.want.wasted !== undefined) expect(a.wastedGpuHours).toBeCloseTo(c.want.wasted, 12)
  if (c.want.exact !== undefined) expect(a.idleSinceExact).toBe(c.want.exact)
  if (c.want.metric !== undefined) expect(a.metric).toBe(c.want.metric)
  if ('next' in c.want) expect(a.nextAction).toEqual(c.want.next === undefined ? undefined : { action: c.want.next.action, atMs: at(c.want.next.at) })
}

describe('idle verdicts of jobs (window 60 min, hold 10 min, threshold 0.05)', () => {
  it.each<Case>([
    { name: 'busy in the newest whole minute is active', ev: job({ minutes: gr('p/GPU-0', -360, 0, 0.5) }), want: { verdict: 'active', idleSince: undefined, wasted: 0 } },
    { name: 'below the threshold for 5 min (under holdFor) stays active', ev: job({ minutes: idleFor(5) }), want: { verdict: 'active', idleSince: undefined } },
    { name: 'below for exactly holdFor (10 min) is suspect', ev: job({ minutes: idleFor(10) }), want: { verdict: 'suspect', idleSince: -10, wasted: 0, next: undefined } },
    { name: 'below for 59 min, one short of the window, is suspect', ev: job({ minutes: idleFor(59) }), want: { verdict: 'suspect', idleSince: -59 } },
    { name: 'below for exactly the window is idle: 1 GPU x 1 h wasted', ev: job({ minutes: idleFor(60) }), want: { verdict: 'idle', idleSince: -60, wasted: 1, exact: true, next: { action: 'warn', at: 0 } } },
    { name: 'a reading equal to the threshold is activity', ev: job({ minutes: [...idleFor(90), ...gr('p/GPU-0', -1, 0, 0.05)] }), want: { verdict: 'active' } },
    { name: 'a Float32-stored reading equal to the threshold (0.7 kept as 0.699999988) is activity', ev: job({ minutes: [...idleFor(90), ...gr('p/GPU-0', -1, 0, Math.fround(0.7))] }), policy: { utilBelow: 0.7 }, want: { verdict: 'active' } },
    { name: 'readings just under the threshold for the window are idle', ev: job({ minutes: [...gr('p/GPU-0', -360, -120, 0.5), ...gr('p/GPU-0', -120, 0, 0.0499)] }), want: { verdict: 'idle', idleSince: -120, wasted: 2 } },
    { name: 'no samples at all is unknown, never idle', ev: job({ minutes: [] }), want: { verdict: 'unknown', idleSince: undefined, wasted: 0 } },
    { name: 'samples stop 40 min ago (coverage 24/60 < 0.8) is unknown', ev: job({ minutes: [...gr('p/GPU-0', -360, -120, 0.5), ...gr('p/GPU-0', -120, -40, 0)] }), want: { verdict: 'unknown' } },
    { name: 'samples every 5 min (the staleness) cover every minute: idle', ev: job({ minutes: [...gr('p/GPU-0', -360, -120, 0.5, 5), ...gr('p/GPU-0', -120, 0, 0, 5)] }), want: { verdict: 'idle', idleSince: -120, wasted: 2 } },
    { name: 'a 10-min hole in the window (50/60 covered) is still idle', ev: job({ minutes: [...idleFor(120).filter((m) => m.minuteMs < at(-40) || m.minuteMs >= at(-30))] }), want: { verdict: 'idle', idleSince: -120 } },
    { name: 'one of 4 GPUs busy keeps a 4-GPU job active', ev: job({ gpus: 4, minutes: [...idleFor(120, 'p/GPU-0'), ...idleFor(120, 'p/GPU-1'), ...idleFor(120, 'p/GPU-2'), ...gr('p/GPU-3', -360, 0, 0.3)] }), want: { verdict: 'active' } },
    { name: '4 GPUs idle for 2 h waste 8 GPU-hours', ev: job({ gpus: 4, minutes: ['0', '1', '2', '3'].flatMap((d) => idleFor(120, `p/GPU-${d}`)) }), want: { verdict: 'idle', idleSince: -120, wasted: 8 } },
    { name: 'a GPU of 4 that never reports makes the job unknown', ev: job({ gpus: 4, minutes: ['0', '1', '2'].flatMap((d) => idleFor(120, `p/GPU-${d}`)) }), want: { verdict: 'unknown' } },
    { name: 'a MIG slice (1/7 GPU) idle for 90 min wastes 1.5/7 GPU-hours', ev: job({ gpus: 1 / 7, minutes: idleFor(90) }), want: { verdict: 'idle', idleSince: -90, wasted: 1.5 / 7 } },
    { name: 'a Pascal GPU is judged by DEV_GPU_UTIL', ev: job({ minutes: [...utilOnly('p/GPU-0', -360, -70, 0.4), ...utilOnly('p/GPU-0', -70, 0, 0)] }), want: { verdict: 'idle', idleSince: -70, metric: 'gpuUtil' } },
    { name: 'minutes without profiling fall back to DEV_GPU_UTIL: mixed', ev: job({ minutes: [...gr('p/GPU-0', -360, -100, 0.4), ...utilOnly('p/GPU-0', -100, -30, 0), ...gr('p/GPU-0', -30, 0, 0)] }), want: { verdict: 'idle', idleSince: -100, metric: 'mixed' } },
    { name: 'max 0.08 but mean 0.02 per minute: active by max (default)', ev: job({ minutes: gr('p/GPU-0', -360, 0, 0.02).map((m) => ({ ...m, grMax: 0.08 })) }), want: { verdict: 'active' } },
    { name: 'max 0.08 but mean 0.02 per minute: idle by mean, since the lookback at least', ev: job({ minutes: gr('p/GPU-0', -360, 0, 0.02).map((m) => ({ ...m, grMax: 0.08 })) }), policy: { activityStat: 'mean' }, want: { verdict: 'idle', idleSince: -360, exact: false, wasted: 6 } },
    { name: 'a per-kind window override (Deployment 2 h) keeps 90 min below suspect', ev: job({ kind: 'Deployment', minutes: idleFor(90) }), policy: { windowsByKindMs: { Deployment: 2 * HOUR } }, want: { verdict: 'suspect', idleSince: -90 } },
  ])('$name', check)
})

describe('stuck jobs and the history before the lookback', () => {
  it.each<Case>([
    { name: 'zero since a start 40 min ago (older than stuckMinAge 30 min) is stuck', ev: job({ startMs: at(-40), minutes: gr('p/GPU-0', -40, 0, 0) }), want: { verdict: 'stuck', state: 'idle', idleSince: -40, wasted: 40 / 60, exact: true, next: { action: 'warn', at: -10 } } },
    { name: 'zero since a start 20 min ago is only suspect', ev: job({ startMs: at(-20), minutes: gr('p/GPU-0', -20, 0, 0) }), want: { verdict: 'suspect', idleSince: -20 } },
    { name: '0.02 since the start is low, not zero: suspect, not stuck', ev: job({ startMs: at(-40), minutes: gr('p/GPU-0', -40, 0, 0.02) }), want: { verdict: 'suspect', idleSince: -40 } },
    { name: 'a notebook is never stuck (kernels decide)', ev: notebook({ startMs: at(-40), minutes: gr('p/GPU-0', -40, 0, 0), kernel: kernel({ lastActivityMs: at(-40) }) }), want: { verdict: 'idle', idleSince: -40, wasted: 40 / 60 } },
    { name: 'idle through the lookback, active 3 h before it: idle since the end of that hour (9 h), not exact (hour resolution)', ev: job({ startMs: at(-48 * 60), minutes: gr('p/GPU-0', -360, 0, 0), history: history({ lastActiveEndMs: LOOKBACK - 3 * HOUR, sampledHours: 3, maxUtil: 0.6 }) }), want: { verdict: 'idle', idleSince: -540, wasted: 9, exact: false } },
    { name: 'history too sparse after the last activity (1 of 3 hours): idle since the lookback, a lower bound', ev: job({ startMs: at(-48 * 60), minutes: gr('p/GPU-0', -360, 0, 0), history: history({ lastActiveEndMs: LOOKBACK - 3 * HOUR, sampledHours: 1, maxUtil: 0.6 }) }), want: { verdict: 'idle', idleSince: -360, wasted: 6, exact: false } },
    { name: 'without history: idle since the lookback, a lower bound', ev: job({ startMs: at(-48 * 60), minutes: gr('p/GPU-0', -360, 0, 0) }), want: { verdict: 'idle', idleSince: -360, exact: false } },
    { name: 'zero since a start 2 days ago, history sampled from the start: stuck', ev: job({ startMs: at(-48 * 60), minutes: gr('p/GPU-0', -360, 0, 0), history: history({ firstSampleMs: at(-48 * 60), sampledHours: 42, maxUtil: 0 }) }), want: { verdict: 'stuck', state: 'idle', idleSince: -48 * 60, wasted: 48 } },
    { name: 'history from the start with 0.02 at most: idle since the start, not stuck', ev: job({ startMs: at(-48 * 60), minutes: gr('p/GPU-0', -360, 0, 0), history: history({ firstSampleMs: at(-48 * 60), sampledHours: 42, maxUtil: 0.02 }) }), want: { verdict: 'idle', idleSince: -48 * 60, exact: true } },
    { name: 'hourly samples begin mid-idle 26 h ago: idle since the end of that first hour (25 h), a lower bound', ev: job({ startMs: at(-48 * 60), minutes: gr('p/GPU-0', -360, 0, 0), history: history({ firstSampleMs: at(-26 * 60), sampledHours: 20, maxUtil: 0 }) }), want: { verdict: 'idle', idleSince: -25 * 60, wasted: 25, exact: false } },
    { name: 'samples begin 2 h ago on a job running for 2 days: idle since the first sample, a lower bound', ev: job({ startMs: at(-48 * 60), minutes: gr('p/GPU-0', -120, 0, 0) }), want: { verdict: 'idle', idleSince: -120, exact: false, wasted: 2 } },
  ])('$name', check)
})

describe('GPU-aware notebook verdicts (window 30 min): kernel x GPU x samples missing', () => {
  it.each<Case>([
    { name: 'kernels idle 2 h, GPUs idle 45 min: idle since the GPUs went quiet', ev: notebook({ minutes: idleFor(45), kernel: kernel({ lastActivityMs: at(-120) }) }), want: { verdict: 'idle', idleSince: -45, wasted: 0.75 } },
    { name: 'kernels idle 35 min, GPUs idle 60 min: idle since the kernel activity', ev: notebook({ minutes: idleFor(60), kernel: kernel({ lastActivityMs: at(-35) }) }), want: { verdict: 'idle', idleSince: -35, wasted: 35 / 60 } },
    { name: 'kernel activity 20 min ago on idle GPUs: active (CPU work)', ev: notebook({ minutes: idleFor(45), kernel: kernel({ lastActivityMs: at(-20) }) }), want: { verdict: 'active', idleSince: undefined } },
    { name: 'kernel busy for 40 min while the GPUs are idle for the window: hung', ev: notebook({ minutes: idleFor(45), kernel: kernel({ busyNow: true, busySinceMs: at(-40), lastActivityMs: at(-1) }) }), want: { verdict: 'hung', state: 'idle', idleSince: -45, wasted: 0.75, next: { action: 'warn', at: -15 } } },
    { name: 'kernel busy for 10 min on idle GPUs: active', ev: notebook({ minutes: idleFor(45), kernel: kernel({ busyNow: true, busySinceMs: at(-10) }) }), want: { verdict: 'active' } },
    { name: 'GPUs busy, kernels idle: active', ev: notebook({ minutes: gr('p/GPU-0', -360, 0, 0.5), kernel: kernel({}) }), want: { verdict: 'active' } },
    { name: 'GPU samples missing, kernels idle: unknown', ev: notebook({ minutes: [], kernel: kernel({}) }), want: { verdict: 'unknown' } },
    { name: 'GPU samples missing, kernel busy: unknown', ev: notebook({ minutes: [], kernel: kernel({ busyNow: true, busySinceMs: at(-300) }) }), want: { verdict: 'unknown' } },
    { name: 'GPUs idle, no kernel data: unknown', ev: notebook({ minutes: idleFor(45) }), want: { verdict: 'unknown', idleSince: undefined } },
    { name: 'GPUs idle, no kernel data, kernels not required: idle', ev: notebook({ minutes: idleFor(45) }), policy: { requireKernelActivity: false }, want: { verdict: 'idle', idleSince: -45 } },
    { name: 'GPUs idle, newest kernel poll older than the window: unknown', ev: notebook({ minutes: idleFor(45), kernel: kernel({ latestPollMs: at(-40) }) }), want: { verdict: 'unknown' } },
    { name: 'GPUs below for 20 min, kernels idle: suspect', ev: notebook({ minutes: idleFor(20), kernel: kernel({}) }), want: { verdict: 'suspect', idleSince: -20 } },
    { name: 'GPUs quiet in the hour ending 9 h ago (hourly history), kernel last active 9 h 20 min ago: idle since the kernel, exact', ev: notebook({ startMs: at(-48 * 60), minutes: gr('p/GPU-0', -360, 0, 0), kernel: kernel({ lastActivityMs: at(-560) }), history: history({ lastActiveEndMs: at(-540), sampledHours: 3, maxUtil: 0.6 }) }), want: { verdict: 'idle', idleSince: -560, exact: true, wasted: 560 / 60 } },
    { name: 'GPUs quiet in the hour ending 9 h ago, kernel last active exactly then: idle since then, exact', ev: notebook({ startMs: at(-48 * 60), minutes: gr('p/GPU-0', -360, 0, 0), kernel: kernel({ lastActivityMs: at(-540) }), history: history({ lastActiveEndMs: at(-540), sampledHours: 3, maxUtil: 0.6 }) }), want: { verdict: 'idle', idleSince: -540, exact: true } },
    { name: 'GPUs quiet in the hour ending 9 h ago, kernel last active before that hour: idle since the hour end, not exact', ev: notebook({ startMs: at(-48 * 60), minutes: gr('p/GPU-0', -360, 0, 0), kernel: kernel({ lastActivityMs: at(-700) }), history: history({ lastActiveEndMs: at(-540), sampledHours: 3, maxUtil: 0.6 }) }), want: { verdict: 'idle', idleSince: -540, exact: false } },
  ])('$name', check)
})

describe('warned and stopped come from the actions of the current idle episode', () => {
  it.each<Case>([
    { name: 'a warning after idle began: warned, stop due a grace period (2 h) later', ev: job({ minutes: idleFor(90), actions: [action('warn', -30)] }), want: { verdict: 'idle', state: 'warned', next: { action: 'stop', at: 90 } } },
    { name: 'a warning from an earlier episode does not count', ev: job({ minutes: idleFor(90), actions: [action('warn', -200)] }), want: { verdict: 'idle', state: 'idle', next: { action: 'warn', at: -30 } } },
    { name: 'a performed stop: stopped, nothing more due', ev: job({ minutes: idleFor(240), actions: [action('warn', -170), action('stop', -50)] }), want: { verdict: 'idle', state: 'stopped', next: undefined } },
    { name: 'a warning decided but not sent (Slack failed) leaves it idle, warn still due', ev: job({ minutes: idleFor(90), actions: [action('warn', -30, false)] }), want: { verdict: 'idle', state: 'idle', next: { action: 'warn', at: -30 } } },
    { name: 'a dry-run stop leaves it warned', ev: job({ minutes: idleFor(240), actions: [action('warn', -170), action('stop', -50, false)] }), want: { verdict: 'idle', state: 'warned', next: { action: 'stop', at: -50 } } },
    { name: 'active again after a warning: the warning stands down', ev: job({ minutes: gr('p/GPU-0', -360, 0, 0.5), actions: [action('warn', -30)] }), want: { verdict: 'active', state: 'active', next: undefined } },
    { name: 'a warned hung notebook is never due a stop (busy kernel = active for Kubeflow)', ev: notebook({ minutes: idleFor(90), kernel: kernel({ busyNow: true, busySinceMs: at(-80) }), actions: [action('warn', -20)] }), want: { verdict: 'hung', state: 'warned', next: undefined } },
  ])('$name', check)
})

describe('evidence', () => {
  it('names the signals behind an idle verdict', () => {
    const a = run({ name: '', ev: job({ minutes: idleFor(60) }), want: { verdict: 'idle' } })
    expect(Object.fromEntries(a.signals.map((s) => [s.name, s.value]))).toEqual({
      devices: '1/1', metric: 'DCGM_FI_PROF_GR_ENGINE_ACTIVE', maxUtilRatio: 0, lastGpuActivityMs: at(-60), belowThresholdForMs: 60 * MIN, coverage: 1, wastedGpuHours: 1,
    })
    expect(a.fbUsedMaxBytes).toBe(2 ** 30)
  })

  it('notes a warning decided but not sent as a signal', () => {
    const a = run({ name: '', ev: job({ minutes: idleFor(90), actions: [action('warn', -30, false)] }), want: { verdict: 'idle' } })
    expect(a.signals.find((s) => s.name === 'warnNotSentAtMs')).toMatchObject({ value: at(-30) })
    expect(a.warnedAtMs).toBeUndefined()
  })

  it.each([
    { name: 'sampled every minute, busy until the newest minute', minutes: gr('p/GPU-0', -360, 0, 0.5), want: at(0) },
    { name: 'sampled every 5 min (the staleness), last busy sample 5 min ago', minutes: gr('p/GPU-0', -360, 0, 0.5, 5), want: at(-4) },
    { name: 'busy until 30 min ago, every 5 min', minutes: [...gr('p/GPU-0', -360, -30, 0.5, 5), ...gr('p/GPU-0', -30, 0, 0, 5)], want: at(-34) },
  ])('shows the last GPU activity at the end of the last busy minute, never in the future: $name', ({ minutes, want }) => {
    const a = run({ name: '', ev: job({ minutes }), want: { verdict: 'active' } })
    expect(a.lastGpuActivityMs).toBe(want)
    expect(a.signals.find((s) => s.name === 'lastGpuActivityMs')?.value).toBe(want)
  })

  it.each([
    { name: 'an active job sampled every minute of the window', ev: job({ minutes: gr('p/GPU-0', -360, 0, 0.5) }), want: { verdict: 'active', coverage: 1 } },
    { name: 'an active job started 20 min ago (coverage from its start)', ev: job({ startMs: at(-20), minutes: gr('p/GPU-0', -20, 0, 0.5) }), want: { verdict: 'active', coverage: 1 } },
    { name: 'an active 2-GPU job whose second GPU reports only the last 15 min of the 60-min window', ev: job({ gpus: 2, minutes: [...gr('p/GPU-0', -360, 0, 0.5), ...gr('p/GPU-1', -15, 0, 0.5)] }), want: { verdict: 'active', coverage: 15 / 60 } },
    { name: 'no samples: no coverage', ev: job({ minutes: [] }), want: { verdict: 'unknown', coverage: null } },
  ])('gives the coverage of every verdict with samples: $name', ({ ev, want }) => {
    const a = run({ name: '', ev, want: { verdict: want.verdict } })
    expect(a.verdict).toBe(want.verdict)
    expect(a.coverageRatio).toBe(want.coverage)
  })

  it('builds the utilization series in aligned buckets, null (not 0) where nothing was sampled', () => {
    const minutes = [...gr('a', -30, -20, 0.2), ...gr('b', -30, -20, 0.4), ...gr('a', -10, 0, 0)]
    const series = utilizationSeries(minutes, at(-30), at(0), 10 * MIN)
    expect(series[0]?.utilRatio).toBeCloseTo(0.3, 12)
    expect(series.map((p) => ({ ...p, utilRatio: p.utilRatio === null ? null : Math.round(p.utilRatio * 1e9) / 1e9 }))).toEqual([
      { tsMs: at(-30), utilRatio: 0.3, maxUtilRatio: 0.4, fbUsedMaxBytes: 2 ** 30 },
      { tsMs: at(-20), utilRatio: null, maxUtilRatio: null, fbUsedMaxBytes: null },
      { tsMs: at(-10), utilRatio: 0, maxUtilRatio: 0, fbUsedMaxBytes: 2 ** 30 },
    ])
  })

  it('keeps config/idle.ts defaults equal to defaultIdlePolicy()', () => {
    const { insights: _insights, ...policy } = idleSchema.parse({})
    expect(policy).toEqual(defaultIdlePolicy())
  })
})
