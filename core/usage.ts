/**
 * Capacity, allocation and utilization per group and step (DESIGN.md,
 * Definitions). The store sums GPU-milliseconds per group and step bucket
 * from exact intervals; this module defines that bucketing (bucketGpuMs is the
 * reference the SQL is tested against), turns the sums into points, ratios
 * and GPU-hours, and never turns a missing sample into a zero.
 */
import { InputError } from './errors.js'
import { clip, type GpuInterval } from './intervals.js'
import { alignStep, parseWindow, type TimeWindow } from './windows.js'

/** Keys /usage groups and filters by, in the order answers list them. */
export const GROUP_KEYS = ['cluster', 'pool', 'node', 'gpuModel', 'provider', 'namespace', 'team', 'project', 'user', 'workload'] as const

/** One grouping key: a node's place (cluster .. provider) or a workload's owner (namespace .. workload). */
export type GroupKey = (typeof GROUP_KEYS)[number]

/** Keys that describe a node, and so capacity: capacity has no team, namespace or workload. */
export const CAPACITY_KEYS: readonly GroupKey[] = ['cluster', 'pool', 'node', 'gpuModel', 'provider']

/** Filter values per key (a row matches when its value is one of them). */
export type Filters = Partial<Record<GroupKey, string[]>>

/** The step buckets of a query: `originMs + k * stepMs`, cut to [fromMs, toMs). */
export interface BucketGrid extends TimeWindow {
  stepMs: number
  originMs: number
}

/** One bucket as it is reported: its start, and the part of it inside the window and before now. */
export interface Bucket {
  tsMs: number
  loMs: number
  hiMs: number
}

/** GPU-milliseconds of one group in one bucket (capacity, allocation or pending demand), as the store sums them. */
export interface GpuMsRow {
  group: string[]
  bucketMs: number
  gpuMs: number
}

/**
 * Utilization samples of one group in one bucket: the chosen metric
 * (GR_ENGINE_ACTIVE where the GPU reports it, else GPU_UTIL) summed and
 * counted with each sample weighted by its GPU fraction (MIG), plus the raw
 * sample counts.
 */
export interface UtilRow {
  group: string[]
  bucketMs: number
  weightedSum: number
  weightedN: number
  samples: number
  grEngineActiveSamples: number
  /**
   * Allocated GPU-milliseconds the samples speak for (each pod's allocation in the
   * bucket from the hour of its first sample there); the rest is unknown. Absent:
   * all of the bucket's allocation.
   */
  sampledGpuMs?: number
}

/** Which DCGM metric backed a utilization figure. */
export type UtilMetric = 'GR_ENGINE_ACTIVE' | 'GPU_UTIL' | 'mixed'

/** Utilization of one point; null ratio and metric when no sample exists (unknown, not 0). */
export interface UtilFigure {
  utilRatio: number | null
  utilMetric: UtilMetric | null
  utilSamples: number
  utilSamplesGrEngineActive: number
}

const HOUR_MS = 3_600_000

/** Parses `groupBy` (comma-separated keys); throws InputError naming every unknown key and the allowed ones. */
export function parseGroupBy(text: string | undefined): GroupKey[] {
  const parts = (text ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  const unknown = parts.filter((p) => !(GROUP_KEYS as readonly string[]).includes(p))
  if (unknown.length > 0) {
    const names = unknown.map((u) => `'${u}'`).join(', ')
    throw new InputError(`unknown groupBy key${unknown.length > 1 ? 's' : ''} ${names}: allowed keys are ${GROUP_KEYS.join(', ')}`)
  }
  return [...new Set(parts as GroupKey[])]
}

/** Parses one filter's comma-separated values; an empty filter is an InputError, not "match nothing". */
export function parseFilterValues(key: GroupKey, text: string): string[] {
  const values = [...new Set(text.split(',').map((s) => s.trim()).filter((s) => s !== ''))]
  if (values.length === 0) throw new InputError(`filter '${key}' has no value: expected one or more comma-separated values`)
  return values
}

/** True when capacity can be reported for this grouping and filter (node keys only). */
export function capacityApplies(groupBy: readonly GroupKey[], filters: Filters): boolean {
  const keys = [...groupBy, ...(Object.keys(filters) as GroupKey[])]
  return keys.every((k) => CAPACITY_KEYS.includes(k))
}

/** The bucket grid of a /usage query, buckets aligned to multiples of the step (UTC midnight for 1d); throws InputError past maxPoints. */
export function usageGrid(window: TimeWindow, stepMs: number, maxPoints: number): BucketGrid {
  const starts = alignStep(window, stepMs, maxPoints)
  return { ...window, stepMs, originMs: starts[0] ?? window.fromMs }
}

/** The buckets of a grid that hold any time inside the window and before now (a bucket that starts at or after now is left out). */
export function gridBuckets(grid: BucketGrid, nowMs: number): Bucket[] {
  const out: Bucket[] = []
  const first = grid.originMs + Math.floor((grid.fromMs - grid.originMs) / grid.stepMs) * grid.stepMs
  for (let tsMs = first; tsMs < grid.toMs; tsMs += grid.stepMs) {
    const loMs = Math.max(tsMs, grid.fromMs)
    const hiMs = Math.min(tsMs + grid.stepMs, grid.toMs, nowMs)
    if (hiMs <= loMs) break
    out.push({ tsMs, loMs, hiMs })
  }
  return out
}

/** An interval with the group it counts for, encoded as groupKeyOf encodes it. */
export interface KeyedInterval extends GpuInterval {
  key: string
}

/**
 * Sums GPU-milliseconds per group and bucket from exact intervals clipped to
 * the window and to now (a running interval ends at now, a pending one adds
 * nothing). This is the definition store/queries/usage.ts implements in SQL;
 * tests hold the two to the same answers.
 */
export function bucketGpuMs(intervals: Iterable<KeyedInterval>, grid: BucketGrid, nowMs: number): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>()
  for (const interval of intervals) {
    const span = clip(interval, grid, nowMs)
    if (!span) continue
    const byBucket = out.get(interval.key) ?? out.set(interval.key, new Map()).get(interval.key)!
    let tsMs = grid.originMs + Math.floor((span[0] - grid.originMs) / grid.stepMs) * grid.stepMs
    for (; tsMs < span[1]; tsMs += grid.stepMs) {
      const ms = Math.min(span[1], tsMs + grid.stepMs) - Math.max(span[0], tsMs)
      byBucket.set(tsMs, (byBucket.get(tsMs) ?? 0) + interval.gpus * ms)
    }
  }
  return out
}

/** A group's values as one map key (JSON keeps values with commas or empty strings apart). */
export const groupKeyOf = (values: readonly string[]): string => JSON.stringify(values)

/** Utilization of one bucket's samples: the weighted mean of the chosen metric, and which metric it was. */
export function utilFigure(row: Pick<UtilRow, 'weightedSum' | 'weightedN' | 'samples' | 'grEngineActiveSamples'> | undefined): UtilFigure {
  if (!row || row.samples === 0 || row.weightedN <= 0) return { utilRatio: null, utilMetric: null, utilSamples: 0, utilSamplesGrEngineActive: 0 }
  const metric: UtilMetric = row.grEngineActiveSamples === row.samples ? 'GR_ENGINE_ACTIVE' : row.grEngineActiveSamples === 0 ? 'GPU_UTIL' : 'mixed'
  return { utilRatio: row.weightedSum / row.weightedN, utilMetric: metric, utilSamples: row.samples, utilSamplesGrEngineActive: row.grEngineActiveSamples }
}

/** A ratio, or null when the denominator is unknown or zero. */
export const ratio = (num: number | null, den: number | null): number | null => (num === null || den === null || den === 0 ? null : num / den)

/** GPU-hours of GPU-milliseconds. */
export const gpuHoursOfMs = (gpuMs: number): number => gpuMs / HOUR_MS

/** One step of one group's series. Means are time-weighted over the part of the bucket inside the window and before now. */
export interface UsagePoint extends UtilFigure {
  ts: string
  /** Mean allocatable GPUs on Ready, schedulable nodes; null when the grouping or filter has workload keys. */
  capacityGpus: number | null
  allocatedGpus: number
  pendingGpus: number
  /** allocation / capacity. */
  allocationRatio: number | null
  /** allocated × utilization. */
  utilizedGpus: number | null
  allocatedGpuHours: number
  /** sampled GPU-hours × utilization; null when GPUs were allocated but no sample tells how busy they were. */
  usedGpuHours: number | null
  /** Allocated GPU-hours no sample speaks for: all of them when usedGpuHours is null, else those before the first sample in the step. */
  utilUnknownGpuHours: number
}

/** A group's figures over the whole window. */
export interface UsageTotals {
  capacityGpuHours: number | null
  allocatedGpuHours: number
  pendingGpuHours: number
  /** Σ allocated GPU-hours × utilization over the steps whose utilization is known. */
  usedGpuHours: number | null
  /** Allocated GPU-hours no utilization sample speaks for: neither used nor idle, unknown. */
  utilUnknownGpuHours: number
  allocationRatio: number | null
  /** used / allocated, over the steps whose utilization is known. */
  utilRatio: number | null
  /** waste = allocated GPU-hours × (1 − utilization), over the steps whose utilization is known. */
  wasteGpuHours: number | null
}

/** One group's series: its key values, one point per step, and totals. */
export interface UsageSeries {
  group: Partial<Record<GroupKey, string>>
  points: UsagePoint[]
  totals: UsageTotals
}

/** What the store read for one query; capacity is null when it does not apply (workload keys). */
export interface UsageParts {
  capacity: GpuMsRow[] | null
  allocation: GpuMsRow[]
  pending: GpuMsRow[]
  util: UtilRow[]
}

type Indexed<T> = Map<string, Map<number, T>>

function index<T extends { group: string[]; bucketMs: number }>(rows: readonly T[]): Indexed<T> {
  const out: Indexed<T> = new Map()
  for (const row of rows) {
    const key = groupKeyOf(row.group)
    const byBucket = out.get(key) ?? out.set(key, new Map()).get(key)!
    byBucket.set(row.bucketMs, row)
  }
  return out
}

/**
 * Builds one dense series per group (every step before now gets a point:
 * allocation and capacity 0 where nothing was held, utilization null where
 * nothing was sampled), sorted by group values, with a warning for steps whose
 * allocated GPUs have no utilization sample.
 */
export function buildSeries(groupBy: readonly GroupKey[], grid: BucketGrid, nowMs: number, parts: UsageParts): { series: UsageSeries[]; warnings: string[] } {
  const capacity = parts.capacity ? index(parts.capacity) : undefined
  const allocation = index(parts.allocation)
  const pending = index(parts.pending)
  const util = index(parts.util)
  const keys = new Set([...(capacity?.keys() ?? []), ...allocation.keys(), ...pending.keys(), ...util.keys()])
  if (groupBy.length === 0) keys.add(groupKeyOf([]))
  const buckets = gridBuckets(grid, nowMs)
  let unknown = 0
  let allocatedPoints = 0
  const series = [...keys].sort().map((key) => {
    let capacityGpuMs = 0
    let pendingGpuMs = 0
    let allocatedGpuMs = 0
    const points = buckets.map((b) => {
      const cap = capacity ? (capacity.get(key)?.get(b.tsMs)?.gpuMs ?? 0) : null
      const pend = pending.get(key)?.get(b.tsMs)?.gpuMs ?? 0
      capacityGpuMs += cap ?? 0
      pendingGpuMs += pend
      const alloc = allocation.get(key)?.get(b.tsMs)?.gpuMs ?? 0
      allocatedGpuMs += alloc
      const p = pointOf(b, cap, alloc, pend, util.get(key)?.get(b.tsMs))
      if (p.allocatedGpuHours > 0) allocatedPoints++
      if (p.usedGpuHours === null) unknown++
      return p
    })
    const values = JSON.parse(key) as string[]
    const sums = { capacityGpuMs: capacity ? capacityGpuMs : null, allocatedGpuMs, pendingGpuMs }
    return { group: Object.fromEntries(groupBy.map((k, i) => [k, values[i] ?? ''])), points, totals: totalsOf(points, sums) }
  })
  const warnings = unknown > 0 ? [`utilization unknown for ${unknown} of ${allocatedPoints} points with allocated GPUs (no GPU samples): reported as null, not 0`] : []
  return { series, warnings }
}

/**
 * The allocated GPU-milliseconds of a point its samples speak for: all of them unless the
 * store says fewer (a step longer than an hour whose samples begin late); a shortfall under
 * one GPU-millisecond is rounding between the two queries, not a gap.
 */
export function sampledGpuMsOf(allocatedGpuMs: number, util: UtilRow | undefined): number {
  if (!util || util.sampledGpuMs === undefined) return allocatedGpuMs
  const sampled = Math.max(0, util.sampledGpuMs)
  return allocatedGpuMs - sampled < 1 ? allocatedGpuMs : sampled
}

function pointOf(b: Bucket, capacityGpuMs: number | null, allocatedGpuMs: number, pendingGpuMs: number, util: UtilRow | undefined): UsagePoint {
  const spanMs = b.hiMs - b.loMs
  const capacityGpus = capacityGpuMs === null ? null : capacityGpuMs / spanMs
  const allocatedGpus = allocatedGpuMs / spanMs
  const sampledGpuMs = sampledGpuMsOf(allocatedGpuMs, util)
  const known = utilFigure(util).utilRatio !== null && sampledGpuMs > 0
  const figure = known ? utilFigure(util) : utilFigure(undefined)
  const allocatedGpuHours = gpuHoursOfMs(allocatedGpuMs)
  const unsampledGpuHours = known ? gpuHoursOfMs(allocatedGpuMs - sampledGpuMs) : allocatedGpuHours
  return {
    ts: new Date(b.tsMs).toISOString(),
    capacityGpus,
    allocatedGpus,
    pendingGpus: pendingGpuMs / spanMs,
    allocationRatio: ratio(allocatedGpus, capacityGpus),
    ...figure,
    utilizedGpus: known ? (sampledGpuMs / spanMs) * (figure.utilRatio as number) : allocatedGpuMs === 0 ? 0 : null,
    allocatedGpuHours,
    usedGpuHours: known ? gpuHoursOfMs(sampledGpuMs) * (figure.utilRatio as number) : allocatedGpuMs === 0 ? 0 : null,
    utilUnknownGpuHours: unsampledGpuHours,
  }
}

/** Totals of a series: GPU-hours summed (capacity and pending from their exact GPU-millisecond sums); utilization and waste over the steps whose utilization is known. */
export function totalsOf(points: readonly UsagePoint[], sums: { capacityGpuMs: number | null; allocatedGpuMs: number; pendingGpuMs: number }): UsageTotals {
  const allocatedGpuHours = gpuHoursOfMs(sums.allocatedGpuMs)
  let usedGpuHours = 0
  let utilUnknownGpuHours = 0
  for (const p of points) {
    utilUnknownGpuHours += p.utilUnknownGpuHours
    if (p.usedGpuHours !== null) usedGpuHours += p.usedGpuHours
  }
  const capacityGpuHours = sums.capacityGpuMs === null ? null : gpuHoursOfMs(sums.capacityGpuMs)
  const knownGpuHours = allocatedGpuHours - utilUnknownGpuHours
  const anyKnown = allocatedGpuHours === 0 || utilUnknownGpuHours < allocatedGpuHours
  return {
    capacityGpuHours,
    allocatedGpuHours,
    pendingGpuHours: gpuHoursOfMs(sums.pendingGpuMs),
    usedGpuHours: anyKnown ? usedGpuHours : null,
    utilUnknownGpuHours,
    allocationRatio: ratio(allocatedGpuHours, capacityGpuHours),
    utilRatio: anyKnown ? ratio(usedGpuHours, knownGpuHours) : null,
    wasteGpuHours: anyKnown ? knownGpuHours - usedGpuHours : null,
  }
}

/** A UTC calendar month, cut at now when it is the current one. */
export interface MonthSpan extends TimeWindow {
  month: string
}

/** Allocation ratio of one month: allocated GPU-hours / capacity GPU-hours. */
export interface MonthlyAllocation {
  month: string
  capacityGpuHours: number
  allocatedGpuHours: number
  allocationRatio: number | null
  /** True for the current month, which ends at now. */
  partial: boolean
}

/** The last `full` whole UTC months, oldest first, then the current month up to now. */
export function recentMonths(nowMs: number, full: number): MonthSpan[] {
  const now = new Date(nowMs)
  const startOf = (offset: number) => {
    const d = new Date(0)
    d.setUTCFullYear(now.getUTCFullYear(), now.getUTCMonth() + offset, 1)
    return d.getTime()
  }
  return Array.from({ length: full + 1 }, (_, i) => {
    const offset = i - full
    const fromMs = startOf(offset)
    return { month: new Date(fromMs).toISOString().slice(0, 7), fromMs, toMs: offset === 0 ? nowMs : startOf(offset + 1) }
  })
}

/**
 * Sums day rows (bucketMs at UTC midnight, so a day never straddles two
 * months) into per-month capacity and allocated GPU-hours and their ratio.
 */
export function monthlyAllocation(months: readonly MonthSpan[], capacity: readonly GpuMsRow[], allocation: readonly GpuMsRow[]): MonthlyAllocation[] {
  const sumIn = (rows: readonly GpuMsRow[], m: MonthSpan) =>
    gpuHoursOfMs(rows.reduce((n, r) => (r.bucketMs >= m.fromMs && r.bucketMs < m.toMs ? n + r.gpuMs : n), 0))
  return months.map((m, i) => {
    const capacityGpuHours = sumIn(capacity, m)
    const allocatedGpuHours = sumIn(allocation, m)
    return { month: m.month, capacityGpuHours, allocatedGpuHours, allocationRatio: ratio(allocatedGpuHours, capacityGpuHours), partial: i === months.length - 1 }
  })
}

/** One group's waste over a window. */
export interface WasteRow {
  group: Partial<Record<GroupKey, string>>
  allocatedGpuHours: number
  usedGpuHours: number | null
  wasteGpuHours: number | null
  utilRatio: number | null
  utilUnknownGpuHours: number
}

/** The `top` groups by waste (allocated GPU-hours × (1 − utilization)), largest first; groups whose waste is unknown are left out. */
export function topWaste(series: readonly UsageSeries[], top: number): WasteRow[] {
  return series
    .filter((s) => s.totals.wasteGpuHours !== null && s.totals.allocatedGpuHours > 0)
    .map((s) => ({
      group: s.group,
      allocatedGpuHours: s.totals.allocatedGpuHours,
      usedGpuHours: s.totals.usedGpuHours,
      wasteGpuHours: s.totals.wasteGpuHours,
      utilRatio: s.totals.utilRatio,
      utilUnknownGpuHours: s.totals.utilUnknownGpuHours,
    }))
    .sort((a, b) => (b.wasteGpuHours as number) - (a.wasteGpuHours as number) || JSON.stringify(a.group).localeCompare(JSON.stringify(b.group)))
    .slice(0, top)
}

/**
 * A chargeback or report period: a month, a quarter or any window parseWindow
 * reads; this month so far when none is given. A bad one is an InputError
 * naming the period.
 */
export function parsePeriod(text: string | undefined, nowMs: number): TimeWindow {
  if (text === undefined) {
    const [month] = recentMonths(nowMs, 0)
    return { fromMs: month!.fromMs, toMs: nowMs }
  }
  try {
    return parseWindow(text, nowMs)
  } catch (err) {
    if (err instanceof InputError) throw new InputError(err.message.replace(/^bad window/, 'bad period'), { cause: err })
    throw err
  }
}
