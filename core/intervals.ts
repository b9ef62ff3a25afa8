/**
 * Interval math on workload intervals [startMs, endMs): GPU-hours, the
 * allocation series and peak concurrency, all from exact intervals, never from
 * counting samples (DESIGN.md, Definitions). Nothing counts after `now`: a
 * running interval is closed at now, and the future is not reported as zero.
 */
import { InputError } from './errors.js'
import type { WorkloadInterval } from './model.js'
import { alignStep, assertWindow, DEFAULT_MAX_POINTS, type TimeWindow } from './windows.js'

/** The part of a workload interval this math reads: a pending one has no startMs, a running one no endMs. */
export type GpuInterval = Pick<WorkloadInterval, 'startMs' | 'endMs' | 'gpus'>

/** One point of an allocation series: the time-weighted mean GPUs allocated in the step bucket starting at tsMs. */
export interface AllocationPoint {
  tsMs: number
  gpus: number
}

const HOUR_MS = 3_600_000

/**
 * Clips an interval to the window and to now, returning [startMs, endMs) or
 * undefined when nothing is left (pending, outside the window, or in the future).
 */
export function clip(interval: GpuInterval, window: TimeWindow, nowMs: number): [number, number] | undefined {
  if (interval.startMs === undefined) return undefined
  const startMs = Math.max(interval.startMs, window.fromMs)
  const endMs = Math.min(interval.endMs ?? nowMs, window.toMs, nowMs)
  return endMs > startMs ? [startMs, endMs] : undefined
}

/** Sums GPUs × hours of every interval clipped to the window and to now; pending intervals add nothing. */
export function gpuHours(intervals: Iterable<GpuInterval>, window: TimeWindow, nowMs: number): number {
  assertWindow(window)
  assertNow(nowMs)
  // Group by GPU count so that the milliseconds add up as exact integers and
  // each fraction (1/7 for a MIG slice) is multiplied once, not summed n times.
  const msByGpus = new Map<number, number>()
  for (const interval of intervals) {
    const span = clip(interval, window, nowMs)
    if (span) msByGpus.set(interval.gpus, (msByGpus.get(interval.gpus) ?? 0) + span[1] - span[0])
  }
  const total = new CompensatedSum()
  for (const [gpus, ms] of msByGpus) total.add((gpus * ms) / HOUR_MS)
  return total.value
}

/**
 * Builds the allocation series: for each step bucket (aligned as alignStep
 * does) the time-weighted mean of allocated GPUs over the part of the bucket
 * inside the window and before now, with buckets that start at or after now
 * left out; for a window aligned to the step and ending by now,
 * Σ gpus × stepHours equals gpuHours. One sweep over sorted start/end edges:
 * O(n log n + buckets).
 */
export function allocationSeries(
  intervals: Iterable<GpuInterval>,
  window: TimeWindow,
  stepMs: number,
  nowMs: number,
  maxPoints: number = DEFAULT_MAX_POINTS,
): AllocationPoint[] {
  assertNow(nowMs)
  // The limit applies to the window asked for, so a query is accepted or refused whatever the time.
  const buckets = alignStep(window, stepMs, maxPoints)
  const sorted = edges(intervals, window, nowMs)
  const level = new GpuLevel()
  const points: AllocationPoint[] = []
  let next = 0
  for (const tsMs of buckets) {
    const loMs = Math.max(tsMs, window.fromMs)
    const hiMs = Math.min(tsMs + stepMs, window.toMs, nowMs)
    if (hiMs <= loMs) break
    let gpuMs = 0
    let atMs = loMs
    for (let edge = sorted[next]; edge !== undefined && edge.tMs < hiMs; edge = sorted[++next]) {
      gpuMs += level.value * (edge.tMs - atMs)
      atMs = edge.tMs
      level.apply(edge)
    }
    gpuMs += level.value * (hiMs - atMs)
    points.push({ tsMs, gpus: gpuMs / (hiMs - loMs) })
  }
  return points
}

/** Finds the most GPUs allocated at the same instant within the window and before now (0 when none). */
export function peakConcurrent(intervals: Iterable<GpuInterval>, window: TimeWindow, nowMs: number): number {
  assertWindow(window)
  assertNow(nowMs)
  const level = new GpuLevel()
  let peak = 0
  for (const edge of edges(intervals, window, nowMs)) {
    level.apply(edge)
    peak = Math.max(peak, level.value)
  }
  return peak
}

/** A change in allocation: an interval starting (+gpus) or ending (−gpus) at tMs. */
interface Edge {
  tMs: number
  deltaGpus: number
  deltaCount: 1 | -1
}

function edges(intervals: Iterable<GpuInterval>, window: TimeWindow, nowMs: number): Edge[] {
  const out: Edge[] = []
  for (const interval of intervals) {
    const span = clip(interval, window, nowMs)
    if (!span) continue
    out.push({ tMs: span[0], deltaGpus: interval.gpus, deltaCount: 1 })
    out.push({ tMs: span[1], deltaGpus: -interval.gpus, deltaCount: -1 })
  }
  // Ends before starts at the same instant: intervals are half-open, so a pod
  // ending at t and one starting at t never hold GPUs together.
  return out.sort((a, b) => a.tMs - b.tMs || a.deltaCount - b.deltaCount)
}

/**
 * GPUs currently allocated during a sweep. MIG fractions such as 1/7 are not
 * exact in floating point, so the level is summed with compensation (seven
 * 1g slices make exactly 1 GPU, which matters when allocation is compared with
 * capacity) and snaps to 0 whenever no interval is open.
 */
class GpuLevel {
  private readonly sum = new CompensatedSum()
  private open = 0

  get value(): number {
    return this.open === 0 ? 0 : this.sum.value
  }

  apply(edge: Edge): void {
    this.open += edge.deltaCount
    if (this.open === 0) this.sum.reset()
    else this.sum.add(edge.deltaGpus)
  }
}

/** Neumaier's compensated summation: the running error is kept and added back on read. */
class CompensatedSum {
  private sum = 0
  private error = 0

  get value(): number {
    return this.sum + this.error
  }

  add(x: number): void {
    const t = this.sum + x
    this.error += Math.abs(this.sum) >= Math.abs(x) ? this.sum - t + x : x - t + this.sum
    this.sum = t
  }

  reset(): void {
    this.sum = 0
    this.error = 0
  }
}

function assertNow(nowMs: number): void {
  if (!Number.isFinite(nowMs)) throw new InputError(`bad now ${nowMs}: expected epoch milliseconds`)
}
