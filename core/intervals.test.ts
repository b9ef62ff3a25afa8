import { describe, expect, it } from 'vitest'
import { InputError } from './errors.js'
import { allocationSeries, clip, gpuHours, peakConcurrent, type GpuInterval } from './intervals.js'
import type { TimeWindow } from './windows.js'

const at = (hhmm: string, day = '2026-09-14') => Date.parse(`${day}T${hhmm}:00Z`)
const MIN = 60_000
const HOUR = 60 * MIN
const DAY_WINDOW: TimeWindow = { fromMs: at('00:00'), toMs: at('00:00', '2026-09-15') }
const AFTER_DAY = at('06:00', '2026-09-15')

const run = (start: string, end: string | undefined, gpus: number): GpuInterval => ({
  startMs: at(start),
  endMs: end === undefined ? undefined : at(end),
  gpus,
})
const pending = (gpus: number): GpuInterval => ({ startMs: undefined, endMs: undefined, gpus })

describe('clip', () => {
  it.each([
    { name: 'inside the window is unchanged', interval: run('10:00', '11:30', 2), nowMs: AFTER_DAY, want: [at('10:00'), at('11:30')] },
    { name: 'straddling the start is clipped', interval: { startMs: at('23:00', '2026-09-13'), endMs: at('01:00'), gpus: 1 }, nowMs: AFTER_DAY, want: [at('00:00'), at('01:00')] },
    { name: 'straddling the end is clipped', interval: { startMs: at('23:00'), endMs: at('03:00', '2026-09-15'), gpus: 1 }, nowMs: AFTER_DAY, want: [at('23:00'), DAY_WINDOW.toMs] },
    { name: 'running is closed at now', interval: run('10:00', undefined, 1), nowMs: at('12:00'), want: [at('10:00'), at('12:00')] },
    { name: 'an end after now is capped at now', interval: run('10:00', '14:00', 1), nowMs: at('12:00'), want: [at('10:00'), at('12:00')] },
    { name: 'pending is empty', interval: pending(4), nowMs: AFTER_DAY, want: undefined },
    { name: 'before the window is empty', interval: { startMs: at('20:00', '2026-09-13'), endMs: at('00:00'), gpus: 1 }, nowMs: AFTER_DAY, want: undefined },
    { name: 'starting after now is empty', interval: run('13:00', undefined, 1), nowMs: at('12:00'), want: undefined },
    { name: 'zero length is empty', interval: run('10:00', '10:00', 1), nowMs: AFTER_DAY, want: undefined },
  ])('$name', ({ interval, nowMs, want }) => {
    expect(clip(interval, DAY_WINDOW, nowMs)).toEqual(want)
  })
})

describe('gpuHours', () => {
  it.each([
    { name: 'a 2-GPU pod running 90 min is 3 GPU-hours', intervals: [run('10:00', '11:30', 2)], nowMs: AFTER_DAY, want: 3 },
    { name: 'a pod straddling the window start counts only its part inside', intervals: [{ startMs: at('22:00', '2026-09-13'), endMs: at('01:00'), gpus: 4 }], nowMs: AFTER_DAY, want: 4 },
    { name: 'a pod straddling the window end counts only its part inside', intervals: [{ startMs: at('22:30'), endMs: at('05:00', '2026-09-15'), gpus: 8 }], nowMs: AFTER_DAY, want: 12 },
    { name: 'a running pod is closed at now', intervals: [run('09:15', undefined, 1)], nowMs: at('12:00'), want: 2.75 },
    { name: 'a pending pod contributes 0', intervals: [pending(8)], nowMs: AFTER_DAY, want: 0 },
    { name: 'no intervals is 0', intervals: [], nowMs: AFTER_DAY, want: 0 },
    { name: 'a pod outside the window contributes 0', intervals: [{ startMs: at('10:00', '2026-09-13'), endMs: at('11:00', '2026-09-13'), gpus: 2 }], nowMs: AFTER_DAY, want: 0 },
    { name: 'a pod starting after now contributes 0', intervals: [run('13:00', '14:00', 2)], nowMs: at('12:00'), want: 0 },
    { name: 'a pod running all day is gpus × 24', intervals: [{ startMs: at('00:00', '2026-09-01'), endMs: undefined, gpus: 8 }], nowMs: AFTER_DAY, want: 192 },
    { name: 'overlapping pods add up', intervals: [run('10:00', '12:00', 1), run('11:00', '12:00', 2), run('11:30', '12:00', 4)], nowMs: AFTER_DAY, want: 6 },
    { name: 'one 1g MIG slice for 7 hours is 1 GPU-hour', intervals: [run('00:00', '07:00', 1 / 7)], nowMs: AFTER_DAY, want: 1 },
    { name: 'seven 1g MIG slices for an hour are 1 GPU-hour', intervals: Array.from({ length: 7 }, () => run('10:00', '11:00', 1 / 7)), nowMs: AFTER_DAY, want: 1 },
    { name: 'a 3g and a 4g MIG slice for an hour are 1 GPU-hour', intervals: [run('10:00', '11:00', 3 / 7), run('10:00', '11:00', 4 / 7)], nowMs: AFTER_DAY, want: 1 },
    { name: 'an A30 2g slice for 2 hours is 1 GPU-hour', intervals: [run('10:00', '12:00', 2 / 4)], nowMs: AFTER_DAY, want: 1 },
  ])('$name', ({ intervals, nowMs, want }) => {
    expect(gpuHours(intervals, DAY_WINDOW, nowMs)).toBe(want)
  })

  it.each([
    { name: 'a window ending before it starts', window: { fromMs: 2, toMs: 1 }, nowMs: 0 },
    { name: 'a NaN now', window: DAY_WINDOW, nowMs: Number.NaN },
  ])('rejects $name', ({ window, nowMs }) => {
    expect(() => gpuHours([], window, nowMs)).toThrow(InputError)
  })
})

/** The obvious O(n × buckets) definition the sweep must agree with. */
function naiveSeries(intervals: GpuInterval[], window: TimeWindow, stepMs: number, nowMs: number) {
  const out: { tsMs: number; gpus: number }[] = []
  for (let tsMs = Math.floor(window.fromMs / stepMs) * stepMs; tsMs < Math.min(window.toMs, nowMs); tsMs += stepMs) {
    const bucket = { fromMs: Math.max(tsMs, window.fromMs), toMs: Math.min(tsMs + stepMs, window.toMs) }
    const hours = (Math.min(bucket.toMs, nowMs) - bucket.fromMs) / HOUR
    out.push({ tsMs, gpus: gpuHours(intervals, bucket, nowMs) / hours })
  }
  return out
}

/** Deterministic pseudo-random intervals (a small LCG), some running, some pending, some MIG. */
function randomIntervals(count: number, seed: number): GpuInterval[] {
  let state = seed
  const next = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
  const gpuChoices = [1, 2, 4, 8, 1 / 7, 3 / 7, 1 / 4]
  return Array.from({ length: count }, () => {
    const startMs = DAY_WINDOW.fromMs - 6 * HOUR + Math.floor(next() * 36 * HOUR)
    const roll = next()
    const gpus = gpuChoices[Math.floor(next() * gpuChoices.length)] ?? 1
    if (roll < 0.1) return { startMs: undefined, endMs: undefined, gpus }
    if (roll < 0.25) return { startMs, endMs: undefined, gpus }
    return { startMs, endMs: startMs + Math.floor(next() * 8 * HOUR), gpus }
  })
}

describe('allocationSeries', () => {
  const hourly = (values: Record<string, number>, hours = 24) =>
    Array.from({ length: hours }, (_, h) => ({ tsMs: DAY_WINDOW.fromMs + h * HOUR, gpus: values[String(h)] ?? 0 }))

  it.each([
    { name: 'a 2-GPU pod for 90 min is 2 then 1 on hourly buckets', intervals: [run('10:00', '11:30', 2)], nowMs: AFTER_DAY, want: hourly({ 10: 2, 11: 1 }) },
    { name: 'a pod straddling the window start fills the first bucket', intervals: [{ startMs: at('22:00', '2026-09-13'), endMs: at('01:00'), gpus: 4 }], nowMs: AFTER_DAY, want: hourly({ 0: 4 }) },
    { name: 'back-to-back pods on one bucket average by time', intervals: [run('10:00', '10:15', 4), run('10:15', '11:00', 8)], nowMs: AFTER_DAY, want: hourly({ 10: 7 }) },
    { name: 'pending pods are not allocation', intervals: [pending(8)], nowMs: AFTER_DAY, want: hourly({}) },
    { name: 'seven 1g MIG slices are exactly 1 GPU', intervals: Array.from({ length: 7 }, () => run('05:00', '06:00', 1 / 7)), nowMs: AFTER_DAY, want: hourly({ 5: 1 }) },
    { name: 'a running pod is averaged up to now and later buckets are left out', intervals: [run('11:00', undefined, 2), run('12:00', '12:15', 2)], nowMs: at('12:30'), want: hourly({ 11: 2, 12: 3 }, 13) },
  ])('$name', ({ intervals, nowMs, want }) => {
    expect(allocationSeries(intervals, DAY_WINDOW, HOUR, nowMs)).toEqual(want)
  })

  it('averages a partial first bucket over the part inside the window', () => {
    const window = { fromMs: at('10:15'), toMs: at('12:00') }
    // 3 GPUs for 30 of the 45 minutes the first bucket has inside the window.
    const series = allocationSeries([run('10:30', '11:00', 3)], window, HOUR, AFTER_DAY)
    expect(series).toEqual([
      { tsMs: at('10:00'), gpus: 2 },
      { tsMs: at('11:00'), gpus: 0 },
    ])
  })

  it('is empty for a window that has not started yet', () => {
    expect(allocationSeries([run('10:00', undefined, 1)], DAY_WINDOW, HOUR, at('23:00', '2026-09-13'))).toEqual([])
  })

  it.each([
    { name: 'hourly, closed window', stepMs: HOUR, nowMs: AFTER_DAY, seed: 1 },
    { name: '5 minutes, closed window', stepMs: 5 * MIN, nowMs: AFTER_DAY, seed: 2 },
    { name: '1 minute, closed window', stepMs: MIN, nowMs: AFTER_DAY, seed: 3 },
    { name: '15 minutes, now at a bucket boundary', stepMs: 15 * MIN, nowMs: at('15:00'), seed: 4 },
  ])('sums to gpuHours and matches a per-bucket scan ($name)', ({ stepMs, nowMs, seed }) => {
    const intervals = randomIntervals(300, seed)
    const series = allocationSeries(intervals, DAY_WINDOW, stepMs, nowMs)
    const summed = series.reduce((sum, p) => sum + (p.gpus * stepMs) / HOUR, 0)
    expect(summed).toBeCloseTo(gpuHours(intervals, DAY_WINDOW, nowMs), 9)
    const naive = naiveSeries(intervals, DAY_WINDOW, stepMs, nowMs)
    expect(series.map((p) => p.tsMs)).toEqual(naive.map((p) => p.tsMs))
    series.forEach((p, i) => expect(p.gpus).toBeCloseTo(naive[i]?.gpus ?? Number.NaN, 9))
  })

  it('refuses more buckets than maxPoints', () => {
    expect(() => allocationSeries([], DAY_WINDOW, MIN, AFTER_DAY, 1_000)).toThrow(/1440 points, more than the limit of 1000/)
  })

  it('rejects a step of 0', () => {
    expect(() => allocationSeries([], DAY_WINDOW, 0, AFTER_DAY)).toThrow(InputError)
  })
})

describe('peakConcurrent', () => {
  it.each([
    { name: 'overlapping pods add up', intervals: [run('10:00', '12:00', 2), run('11:00', '13:00', 4)], nowMs: AFTER_DAY, want: 6 },
    { name: 'back-to-back pods never overlap', intervals: [run('10:00', '11:00', 2), run('11:00', '12:00', 4)], nowMs: AFTER_DAY, want: 4 },
    { name: 'an overlap outside the window does not count', intervals: [{ startMs: at('22:00', '2026-09-13'), endMs: at('01:00'), gpus: 4 }, { startMs: at('23:00', '2026-09-13'), endMs: at('23:30', '2026-09-13'), gpus: 4 }], nowMs: AFTER_DAY, want: 4 },
    { name: 'a pending pod is not counted', intervals: [run('10:00', '11:00', 1), pending(8)], nowMs: AFTER_DAY, want: 1 },
    { name: 'no intervals is 0', intervals: [], nowMs: AFTER_DAY, want: 0 },
    { name: 'a pod starting after now is not counted', intervals: [run('10:00', undefined, 2), run('13:00', '14:00', 8)], nowMs: at('12:00'), want: 2 },
    { name: 'seven 1g MIG slices are exactly 1 GPU', intervals: Array.from({ length: 7 }, (_, i) => run(`0${i}:00`, '08:00', 1 / 7)), nowMs: AFTER_DAY, want: 1 },
    { name: 'MIG slices on top of whole GPUs', intervals: [run('10:00', '12:00', 8), run('11:00', '12:00', 3 / 7), run('11:00', '12:00', 4 / 7)], nowMs: AFTER_DAY, want: 9 },
  ])('$name', ({ intervals, nowMs, want }) => {
    expect(peakConcurrent(intervals, DAY_WINDOW, nowMs)).toBe(want)
  })
})
