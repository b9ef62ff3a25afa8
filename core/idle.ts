/**
 * Idle detection, the GPU side (DESIGN.md, Definitions: idle): the evidence a
 * workload's GPUs give over a lookback — per GPU-minute rollups, the hourly
 * history before it — turned into how long the GPUs have been below the
 * threshold, how much of that is backed by samples, and whether a job has done
 * nothing since it started. Missing samples are unknown, never zero: a sample
 * stands for its minute and the next ones up to `stalenessMs` (as Prometheus'
 * lookback delta does), and a stretch without enough samples gives `unknown`.
 * core/idleMachine.ts layers kernel activity and the action history on top.
 */
import { formatDuration } from './windows.js'

const MINUTE_MS = 60_000
const HOUR_MS = 3_600_000
const FLOAT32_SLACK = 2 ** -24

/** Which DCGM field a reading came from: GR_ENGINE_ACTIVE where profiling exists, else DEV_GPU_UTIL / 100. */
export type UtilMetric = 'grEngineActive' | 'gpuUtil'

/** The metrics behind a verdict: one of them, both (per minute, profiling first), or none (no samples). */
export type MetricUsed = UtilMetric | 'mixed' | 'none'

/** The metric of a verdict named by its DCGM field, as the API and the signals show it (the workload view names it so too). */
export type DcgmMetricName = 'DCGM_FI_PROF_GR_ENGINE_ACTIVE' | 'DCGM_FI_DEV_GPU_UTIL' | 'mixed' | 'none'

const DCGM_NAMES: Record<MetricUsed, DcgmMetricName> = { grEngineActive: 'DCGM_FI_PROF_GR_ENGINE_ACTIVE', gpuUtil: 'DCGM_FI_DEV_GPU_UTIL', mixed: 'mixed', none: 'none' }

/** The DCGM field name of a verdict's metric. */
export const dcgmMetricName = (m: MetricUsed): DcgmMetricName => DCGM_NAMES[m]

/** What the evidence says now; `stuck` = a job idle since its start, `hung` = a notebook kernel busy while its GPUs do nothing. */
export type IdleVerdict = 'unknown' | 'active' | 'suspect' | 'idle' | 'stuck' | 'hung'

/** The step of the idle state machine: active → suspect (holdFor) → idle → warned (grace) → stopped; unknown stands aside. */
export type IdleState = 'unknown' | 'active' | 'suspect' | 'idle' | 'warned' | 'stopped'

/** Idle policy: thresholds, windows and tolerances (config/idle.ts validates the same fields). */
export interface IdlePolicy {
  /** A reading at or above this is activity; below it for the whole window is idle. */
  utilBelow: number
  notebookWindowMs: number
  /** Window of every kind other than Notebook, unless windowsByKindMs names it. */
  jobWindowMs: number
  windowsByKindMs: Record<string, number>
  /** Below the threshold this long makes a workload suspect. */
  holdForMs: number
  /** Time between the warning and the stop. */
  graceMs: number
  /** Share of evaluated minutes whose GPUs all have a sample; below it the verdict is unknown. */
  minCoverage: number
  /** How long one sample stands for (its minute and the following ones). */
  stalenessMs: number
  stuckMinAgeMs: number
  stuckUtilBelow: number
  activityStat: 'max' | 'mean'
  requireKernelActivity: boolean
}

/** The default idle policy (a new object each call); equals config/idle.ts defaults. */
export const defaultIdlePolicy = (): IdlePolicy => ({
  utilBelow: 0.05,
  notebookWindowMs: 30 * MINUTE_MS,
  jobWindowMs: 60 * MINUTE_MS,
  windowsByKindMs: {},
  holdForMs: 10 * MINUTE_MS,
  graceMs: 2 * HOUR_MS,
  minCoverage: 0.8,
  stalenessMs: 5 * MINUTE_MS,
  stuckMinAgeMs: 30 * MINUTE_MS,
  stuckUtilBelow: 0.01,
  activityStat: 'max',
  requireKernelActivity: true,
})

/** One GPU (or MIG slice) of a workload in one minute, as the 1-minute rollup keeps it; n = 0 means the metric was not reported. */
export interface GpuMinute {
  /** Identifies the device within the workload (pod and GPU uuid). */
  device: string
  minuteMs: number
  grN: number
  grSum: number
  grMax: number | null
  utilN: number
  utilSum: number
  utilMax: number | null
  fbUsedMaxBytes: number | null
}

/** The hourly history of a workload before the lookback, [fromMs, toMs), summarised by the store for the policy's threshold. */
export interface IdleHistory {
  fromMs: number
  toMs: number
  /** End of the newest hour with activity at or above utilBelow; undefined when none. */
  lastActiveEndMs?: number | undefined
  /** Start of the first hour with samples; undefined when none. */
  firstSampleMs?: number | undefined
  /** Hours with samples after lastActiveEndMs (or in all of the history when there was no activity). */
  sampledHours: number
  /** Highest hourly max reading; null without samples. */
  maxUtil: number | null
}

/** Jupyter kernel activity of a notebook over the lookback, by the Kubeflow culler's rule (any kernel not idle = busy). */
export interface KernelEvidence {
  firstPollMs: number
  latestPollMs: number
  /** Some kernel was not idle at the newest poll. */
  busyNow: boolean
  /** First poll of the busy streak that ends at the newest poll; undefined when not busy now. */
  busySinceMs?: number | undefined
  /** Newest kernel last_activity seen; undefined when unknown. */
  lastActivityMs?: number | undefined
}

/** One row of the audit log about the workload (alerts issue): `warn` and `stop` drive the warned and stopped states. */
export interface ActionEvidence {
  tsMs: number
  action: string
  acted: boolean
  dryRun: boolean
}

/** Everything known about one running workload's idleness. */
export interface WorkloadEvidence {
  kind: string
  /** When its first pod started. */
  startMs: number
  /** GPUs held, MIG slices and shares as fractions. */
  gpus: number
  minutes: readonly GpuMinute[]
  history?: IdleHistory | undefined
  kernel?: KernelEvidence | undefined
  actions: readonly ActionEvidence[]
}

/** A named fact that led to a verdict, with its value and a sentence for people. */
export interface Signal {
  name: string
  value: number | string | boolean | null
  note: string
}

/** Where the evaluation stands: now, and the start of the minute rollups read. */
export interface AssessOptions {
  nowMs: number
  /** Start of the minute-level lookback; the history covers what is before. */
  lookbackFromMs: number
}

/** What the GPUs alone say. */
export interface GpuRun {
  verdict: Exclude<IdleVerdict, 'hung'>
  /** Start of the current below-threshold stretch (idle since); undefined when active or unknown without samples. */
  runStartMs: number | undefined
  /** False when the stretch may have begun earlier than the evidence reaches, or its start is only known to the hour. */
  exact: boolean
  /** Minute, or hour when the start comes from the hourly history (it is then the end of an hour: the stretch began in that hour or earlier). */
  resolution: 'minute' | 'hour'
  windowMs: number
  evalEndMs: number
  /** End of the minute of the newest reading at or above the threshold (never later than that minute, whatever the staleness). */
  lastActiveEndMs: number | undefined
  coverageRatio: number | null
  maxUtilRatio: number | null
  metric: MetricUsed
  fbUsedMaxBytes: number | null
  signals: Signal[]
}

/** Whether the kind is a Kubeflow Notebook (judged with kernel activity, 30-minute window by default). */
export const isNotebook = (kind: string): boolean => kind === 'Notebook'

/** The idle window of a kind: its override, else the notebook or the job window. */
export function windowFor(kind: string, policy: IdlePolicy): number {
  return policy.windowsByKindMs[kind] ?? (isNotebook(kind) ? policy.notebookWindowMs : policy.jobWindowMs)
}

/** The end of evaluation: the last whole minute at or before now (the current minute is still filling). */
export const evalEndOf = (nowMs: number): number => Math.floor(nowMs / MINUTE_MS) * MINUTE_MS

/** The reading of one GPU-minute: profiling first, else DEV_GPU_UTIL; undefined when neither was reported. */
export function readingOf(m: GpuMinute, stat: IdlePolicy['activityStat']): { metric: UtilMetric; value: number; sum: number; n: number } | undefined {
  if (m.grN > 0) return { metric: 'grEngineActive', value: stat === 'max' && m.grMax !== null ? m.grMax : m.grSum / m.grN, sum: m.grSum, n: m.grN }
  if (m.utilN > 0) return { metric: 'gpuUtil', value: stat === 'max' && m.utilMax !== null ? m.utilMax : m.utilSum / m.utilN, sum: m.utilSum, n: m.utilN }
  return undefined
}

/**
 * Whether a reading is activity: at or above the threshold, where "at" allows
 * for DCGM values stored as Float32 (0.7 is kept as 0.699999988): within
 * 2^-24, the largest Float32 rounding error below 1, counts as equal.
 */
export const reaches = (value: number, threshold: number): boolean => value >= activityFloor(threshold)

/** The lowest reading `reaches` counts as activity for a threshold (for queries that compare in SQL). */
export const activityFloor = (threshold: number): number => threshold - FLOAT32_SLACK

/** Names the metric mix of a set of readings. */
export function metricOf(used: ReadonlySet<UtilMetric>): MetricUsed {
  if (used.size === 0) return 'none'
  return used.size > 1 ? 'mixed' : [...used][0] as UtilMetric
}

interface Readings {
  /** Minutes each device holds a sample for (staleness applied). */
  covered: Map<string, Set<number>>
  firstMs: number | undefined
  /** End of the minute of the newest active reading (what people are shown). */
  lastActiveEndMs: number | undefined
  /** Until when the newest active reading stands (its minute, extended to the next reading up to stalenessMs): where the stretch below begins. */
  activeUntilMs: number | undefined
  maxAll: number | null
}

/** Per device: readings sorted by minute; a reading stands until the device's next one, at most stalenessMs. */
function collect(ev: WorkloadEvidence, policy: IdlePolicy): Readings {
  const byDevice = new Map<string, Array<{ minuteMs: number; value: number }>>()
  for (const m of ev.minutes) {
    const r = readingOf(m, policy.activityStat)
    if (!r) continue
    const list = byDevice.get(m.device) ?? []
    list.push({ minuteMs: m.minuteMs, value: r.value })
    byDevice.set(m.device, list)
  }
  const covered = new Map<string, Set<number>>()
  let firstMs: number | undefined
  let lastActiveEndMs: number | undefined
  let activeUntilMs: number | undefined
  let maxAll: number | null = null
  for (const [device, list] of byDevice) {
    list.sort((a, b) => a.minuteMs - b.minuteMs)
    const set = new Set<number>()
    list.forEach((x, i) => {
      const untilMs = Math.min(list[i + 1]?.minuteMs ?? Infinity, x.minuteMs + Math.max(MINUTE_MS, policy.stalenessMs))
      for (let t = x.minuteMs; t < untilMs; t += MINUTE_MS) set.add(t)
      maxAll = Math.max(maxAll ?? 0, x.value)
      if (!reaches(x.value, policy.utilBelow)) return
      lastActiveEndMs = Math.max(lastActiveEndMs ?? -Infinity, x.minuteMs + MINUTE_MS)
      activeUntilMs = Math.max(activeUntilMs ?? -Infinity, x.minuteMs + MINUTE_MS, untilMs)
    })
    covered.set(device, set)
    firstMs = Math.min(firstMs ?? Infinity, list[0]?.minuteMs ?? Infinity)
  }
  return { covered, firstMs, lastActiveEndMs, activeUntilMs, maxAll }
}

/** Share of the whole minutes in [fromMs, toMs) in which every expected device holds a sample; null for an empty span. */
function coverage(covered: Map<string, Set<number>>, expected: number, fromMs: number, toMs: number): number | null {
  let total = 0
  let hit = 0
  for (let m = Math.ceil(fromMs / MINUTE_MS) * MINUTE_MS; m < toMs; m += MINUTE_MS) {
    total++
    let n = 0
    for (const set of covered.values()) if (set.has(m)) n++
    if (n >= expected) hit++
  }
  return total === 0 ? null : hit / total
}

/** Max reading, metric mix and peak memory over [fromMs, toMs). */
function windowStats(ev: WorkloadEvidence, policy: IdlePolicy, fromMs: number, toMs: number) {
  const used = new Set<UtilMetric>()
  let max: number | null = null
  let fb: number | null = null
  for (const m of ev.minutes) {
    if (m.minuteMs < fromMs || m.minuteMs >= toMs) continue
    if (m.fbUsedMaxBytes !== null) fb = Math.max(fb ?? 0, m.fbUsedMaxBytes)
    const r = readingOf(m, policy.activityStat)
    if (!r) continue
    used.add(r.metric)
    max = max === null ? r.value : Math.max(max, r.value)
  }
  return { maxUtilRatio: max, metric: metricOf(used), fbUsedMaxBytes: fb }
}

interface RunStart {
  runStartMs: number
  exact: boolean
  /** The stretch reaches back to the workload's start. */
  fromStart: boolean
  resolution: 'minute' | 'hour'
}

/** Where the below-threshold stretch begins: after the last activity, else where the evidence begins (extended by the hourly history). */
function runStartOf(ev: WorkloadEvidence, policy: IdlePolicy, r: Readings, lookbackFromMs: number): RunStart {
  const startMinute = Math.floor(ev.startMs / MINUTE_MS) * MINUTE_MS
  const firstMs = r.firstMs as number
  const reachesLookback = firstMs < lookbackFromMs + policy.stalenessMs
  const floor = Math.max(startMinute, reachesLookback ? lookbackFromMs : firstMs)
  if (r.activeUntilMs !== undefined) return { runStartMs: Math.max(r.activeUntilMs, floor), exact: true, fromStart: false, resolution: 'minute' }
  const fromStart = floor === startMinute || firstMs <= startMinute + policy.stalenessMs
  if (fromStart || !reachesLookback) return { runStartMs: floor, exact: fromStart, fromStart, resolution: 'minute' }
  return extendByHistory(ev, policy, lookbackFromMs)
}

/** Before the lookback: idle since the newest active hour, or since the start, when the hours between are sampled well enough. */
function extendByHistory(ev: WorkloadEvidence, policy: IdlePolicy, lookbackFromMs: number): RunStart {
  const bounded: RunStart = { runStartMs: lookbackFromMs, exact: false, fromStart: false, resolution: 'minute' }
  const h = ev.history
  if (!h) return bounded
  const fromStart = h.lastActiveEndMs === undefined && h.firstSampleMs !== undefined && h.firstSampleMs <= ev.startMs
  // Hour resolution, rounded towards less idleness: activity may have run to the end of its hour, and samples
  // that begin mid-idle may begin at the end of their first hour (unless that hour holds the start).
  const candidate = h.lastActiveEndMs ?? (h.firstSampleMs === undefined ? undefined : fromStart ? ev.startMs : h.firstSampleMs + HOUR_MS)
  if (candidate === undefined) return bounded
  const spanHours = Math.ceil((lookbackFromMs - candidate) / HOUR_MS)
  if (spanHours <= 0) return { runStartMs: lookbackFromMs, exact: true, fromStart, resolution: 'minute' }
  if (h.sampledHours / spanHours < policy.minCoverage) return bounded
  // Only a stretch from the start is exact: the start is known to the millisecond; an hour's end is not when the activity ended.
  return { runStartMs: candidate, exact: fromStart, fromStart, resolution: 'hour' }
}

/**
 * Judges a workload by its GPUs alone at `nowMs`: `active` when a reading at
 * or above the threshold is in the newest whole minute or the stretch below it
 * is shorter than holdFor, `suspect` while shorter than the kind's window,
 * `idle` once it spans the window, `stuck` (jobs only) when nothing reached
 * stuckUtilBelow since the start and the job is older than stuckMinAge, and
 * `unknown` without samples or when fewer than minCoverage of the evaluated
 * minutes have a sample on every GPU.
 */
export function analyzeGpus(ev: WorkloadEvidence, policy: IdlePolicy, opts: AssessOptions): GpuRun {
  const windowMs = windowFor(ev.kind, policy)
  const evalEndMs = evalEndOf(opts.nowMs)
  const stats = windowStats(ev, policy, evalEndMs - windowMs, evalEndMs)
  const r = collect(ev, policy)
  const devicesSeen = r.covered.size
  const expected = Math.max(Math.ceil(ev.gpus - 1e-9), devicesSeen, 1)
  const base = { windowMs, evalEndMs, lastActiveEndMs: r.lastActiveEndMs, ...stats }
  const signals: Signal[] = [
    sig('devices', `${devicesSeen}/${expected}`, `${devicesSeen} of ${expected} GPU device(s) reported samples in the lookback`),
    sig('metric', dcgmMetricName(stats.metric), 'utilization metric read: DCGM_FI_PROF_GR_ENGINE_ACTIVE where profiling exists, else DCGM_FI_DEV_GPU_UTIL/100 (mixed: both, minute by minute)'),
    sig('maxUtilRatio', stats.maxUtilRatio, `highest ${policy.activityStat} reading in the last ${formatDuration(windowMs)} (activity is >= ${policy.utilBelow})`),
  ]
  if (r.firstMs === undefined) {
    signals.push(sig('samples', 'missing', 'no GPU samples in the lookback: unknown, never idle'))
    return { ...base, verdict: 'unknown', runStartMs: undefined, exact: false, resolution: 'minute', coverageRatio: null, signals }
  }
  if (r.lastActiveEndMs !== undefined) signals.push(sig('lastGpuActivityMs', r.lastActiveEndMs, `GPU activity last seen in the minute ending ${iso(r.lastActiveEndMs)}`))
  const start = runStartOf(ev, policy, r, opts.lookbackFromMs)
  const runMs = evalEndMs - start.runStartMs
  // The stretch below the threshold inside the window; for a workload active now, the whole window (from its start).
  const spanFrom = runMs > 0 ? Math.max(start.runStartMs, evalEndMs - windowMs, opts.lookbackFromMs) : Math.max(evalEndMs - windowMs, opts.lookbackFromMs, Math.floor(ev.startMs / MINUTE_MS) * MINUTE_MS)
  const cov = coverage(r.covered, expected, spanFrom, evalEndMs)
  const done = (verdict: GpuRun['verdict'], runStartMs: number | undefined): GpuRun => ({ ...base, verdict, runStartMs, exact: start.exact, resolution: start.resolution, coverageRatio: cov, signals })
  if (runMs <= 0) return done('active', undefined)
  signals.push(sig('belowThresholdForMs', runMs, `below ${policy.utilBelow} for ${formatDuration(runMs)}${start.exact ? '' : ' at least'} (window ${formatDuration(windowMs)}, hold ${formatDuration(policy.holdForMs)})`))
  signals.push(sig('coverage', cov, `share of evaluated minutes with a sample on every GPU (unknown below ${policy.minCoverage})`))
  if (start.resolution === 'hour') signals.push(sig('idleSinceResolution', 'hour', 'the stretch began before the minute lookback; its start comes from the hourly rollup'))
  if (cov === null || cov < policy.minCoverage) return done('unknown', undefined)
  if (isStuck(ev, policy, r, start, evalEndMs, expected)) {
    signals.push(sig('zeroSinceStart', true, `no reading reached ${policy.stuckUtilBelow} since the start ${iso(ev.startMs)}`))
    return done('stuck', ev.startMs)
  }
  if (runMs < policy.holdForMs) return done('active', undefined)
  return done(runMs < windowMs ? 'suspect' : 'idle', start.runStartMs)
}

/** A job (not a notebook) with nothing above stuckUtilBelow since its start, old enough, and sampled since its start. */
function isStuck(ev: WorkloadEvidence, policy: IdlePolicy, r: Readings, start: RunStart, evalEndMs: number, expected: number): boolean {
  if (isNotebook(ev.kind) || !start.fromStart || evalEndMs - ev.startMs < policy.stuckMinAgeMs) return false
  const histMax = start.resolution === 'hour' ? (ev.history?.maxUtil ?? null) : null
  const max = Math.max(r.maxAll ?? 0, histMax ?? 0)
  if (reaches(max, policy.stuckUtilBelow)) return false
  const minutesFrom = Math.max(start.runStartMs, 0)
  const cov = start.resolution === 'hour' ? 1 : coverage(r.covered, expected, minutesFrom, evalEndMs)
  return cov !== null && cov >= policy.minCoverage
}

/** One point of the evidence series: sample-mean and max reading, peak memory; null when the bucket has no samples. */
export interface UtilPoint {
  tsMs: number
  utilRatio: number | null
  maxUtilRatio: number | null
  fbUsedMaxBytes: number | null
}

/** The utilization series over [fromMs, toMs) in epoch-aligned buckets of `stepMs`, every bucket present (null, never 0, when unsampled). */
export function utilizationSeries(minutes: readonly GpuMinute[], fromMs: number, toMs: number, stepMs: number): UtilPoint[] {
  const first = Math.floor(fromMs / stepMs) * stepMs
  const count = Math.max(0, Math.ceil((toMs - first) / stepMs))
  const acc = Array.from({ length: count }, () => ({ sum: 0, n: 0, max: null as number | null, fb: null as number | null }))
  for (const m of minutes) {
    if (m.minuteMs < fromMs || m.minuteMs >= toMs) continue
    const a = acc[Math.floor((m.minuteMs - first) / stepMs)]
    if (!a) continue
    if (m.fbUsedMaxBytes !== null) a.fb = Math.max(a.fb ?? 0, m.fbUsedMaxBytes)
    const r = readingOf(m, 'max')
    if (!r) continue
    a.sum += r.sum
    a.n += r.n
    a.max = Math.max(a.max ?? 0, r.value)
  }
  return acc.map((a, i) => ({ tsMs: first + i * stepMs, utilRatio: a.n > 0 ? a.sum / a.n : null, maxUtilRatio: a.max, fbUsedMaxBytes: a.fb }))
}

/** Builds a signal. */
export const sig = (name: string, value: Signal['value'], note: string): Signal => ({ name, value, note })

/** An epoch-ms instant as RFC 3339 (UTC), for signal notes. */
export const iso = (ms: number): string => new Date(ms).toISOString()
