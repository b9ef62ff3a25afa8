import { describe, expect, it } from 'vitest'
import { InputError } from './errors'
import {
  bucketGpuMs, buildSeries, capacityApplies, gridBuckets, groupKeyOf, monthlyAllocation, parseFilterValues, parseGroupBy, recentMonths, topWaste,
  usageGrid, utilFigure, type BucketGrid, type GroupKey, type KeyedInterval, type UsageSeries, type UtilRow,
} from './usage'

const H = 3_600_000
const ALLOWED = 'allowed keys are cluster, pool, node, gpuModel, provider, namespace, team, project, user, workload'

describe('parseGroupBy', () => {
  it.each([
    { name: 'nothing', text: undefined, want: [] },
    { name: 'empty', text: '', want: [] },
    { name: 'one key', text: 'team', want: ['team'] },
    { name: 'keys with spaces', text: 'cluster, gpuModel ,team', want: ['cluster', 'gpuModel', 'team'] },
    { name: 'a repeated key once', text: 'team,team', want: ['team'] },
  ])('$name', ({ text, want }) => expect(parseGroupBy(text)).toEqual(want))

  it.each([
    { name: 'one unknown key', text: 'team,colour', message: `unknown groupBy key 'colour': ${ALLOWED}` },
    { name: 'two unknown keys', text: 'Team,gpu_model', message: `unknown groupBy keys 'Team', 'gpu_model': ${ALLOWED}` },
  ])('$name is an InputError listing the allowed keys', ({ text, message }) => {
    expect(() => parseGroupBy(text)).toThrow(new InputError(message))
  })
})

describe('filters', () => {
  it('splits, trims and de-duplicates values', () => expect(parseFilterValues('team', ' a, b,,a ')).toEqual(['a', 'b']))
  it('refuses a filter with no value rather than matching nothing', () => {
    expect(() => parseFilterValues('pool', ' , ')).toThrow("filter 'pool' has no value: expected one or more comma-separated values")
  })
  it.each([
    { name: 'no keys', groupBy: [], filters: {}, want: true },
    { name: 'node keys', groupBy: ['cluster', 'pool', 'gpuModel'], filters: { provider: ['aws'] }, want: true },
    { name: 'grouped by team', groupBy: ['cluster', 'team'], filters: {}, want: false },
    { name: 'filtered by namespace', groupBy: ['pool'], filters: { namespace: ['ml'] }, want: false },
  ])('capacity applies with $name: $want', ({ groupBy, filters, want }) => {
    expect(capacityApplies(groupBy as GroupKey[], filters)).toBe(want)
  })
})

describe('bucket grid', () => {
  it('cuts the first bucket at the window start and leaves out buckets that start after now', () => {
    const grid: BucketGrid = { fromMs: 1.5 * H, toMs: 24 * H, stepMs: 6 * H, originMs: 0 }
    expect(gridBuckets(grid, 11 * H)).toEqual([
      { tsMs: 0, loMs: 1.5 * H, hiMs: 6 * H },
      { tsMs: 6 * H, loMs: 6 * H, hiMs: 11 * H },
    ])
  })
  it('aligns a usage grid to multiples of the step (UTC midnight for 1d) and refuses too many points', () => {
    expect(usageGrid({ fromMs: 30 * H, toMs: 80 * H }, 24 * H, 10)).toEqual({ fromMs: 30 * H, toMs: 80 * H, stepMs: 24 * H, originMs: 24 * H })
    expect(() => usageGrid({ fromMs: 0, toMs: 24 * H }, H, 10)).toThrow(/needs 24 points, more than the limit of 10/)
  })
})

describe('bucketGpuMs: exact GPU-hours per group and step', () => {
  // Window [00:00, 12:00) in 6 h steps; now is 11:00 unless a case says otherwise.
  const grid: BucketGrid = { fromMs: 0, toMs: 12 * H, stepMs: 6 * H, originMs: 0 }
  const iv = (startH: number | undefined, endH: number | undefined, gpus = 1, key = 'g'): KeyedInterval => ({
    key, gpus, startMs: startH === undefined ? undefined : startH * H, endMs: endH === undefined ? undefined : endH * H,
  })
  const hours = (m: Map<string, Map<number, number>>) =>
    Object.fromEntries([...m].map(([k, b]) => [k, Object.fromEntries([...b].map(([ts, ms]) => [ts / H, ms / H]))]))

  it.each([
    { name: 'an interval crossing the window start counts from the start', ivs: [iv(-2, 3, 4)], want: { g: { 0: 12 } } },
    { name: 'an interval crossing the window end counts until the end', ivs: [iv(10, 14, 2)], nowH: 20, want: { g: { 6: 4 } } },
    { name: 'a pod without an end counts until now, not the window end', ivs: [iv(9, undefined, 2)], want: { g: { 6: 4 } } },
    { name: 'an interval over several buckets is split at bucket edges', ivs: [iv(1, 13)], nowH: 20, want: { g: { 0: 5, 6: 6 } } },
    { name: 'a pending pod (no start) adds nothing', ivs: [iv(undefined, undefined, 8)], want: {} },
    { name: 'an interval wholly before the window adds nothing', ivs: [iv(-5, -1, 8)], want: {} },
    { name: 'an interval ending where the next starts never overlaps it', ivs: [iv(0, 6, 1), iv(6, 7, 1)], want: { g: { 0: 6, 6: 1 } } },
    { name: 'a MIG 1g slice counts 1/7 of a GPU', ivs: [iv(0, 7, 1 / 7)], want: { g: { 0: 6 / 7, 6: 1 / 7 } } },
    { name: 'groups are kept apart', ivs: [iv(0, 2, 1, 'a'), iv(0, 3, 2, 'b')], want: { a: { 0: 2 }, b: { 0: 6 } } },
  ])('$name', ({ ivs, nowH, want }) => {
    const got = hours(bucketGpuMs(ivs, grid, (nowH ?? 11) * H))
    expect(Object.keys(got)).toEqual(Object.keys(want))
    for (const [k, buckets] of Object.entries(want as Record<string, Record<string, number>>)) {
      expect(Object.keys(got[k]!)).toEqual(Object.keys(buckets))
      for (const [b, v] of Object.entries(buckets)) expect(got[k]![b]).toBeCloseTo(v, 12)
    }
  })

  it('seven 1g slices held all window make 6 GPU-hours per 6 h bucket', () => {
    const slices = Array.from({ length: 7 }, () => iv(0, 12, 1 / 7))
    const got = bucketGpuMs(slices, grid, 12 * H).get('g')!
    expect([...got.values()].map((ms) => ms / H)).toEqual([expect.closeTo(6, 12), expect.closeTo(6, 12)])
  })
})

describe('utilFigure', () => {
  const row = (samples: number, gr: number, weightedSum = 0.5 * samples, weightedN = samples) => ({ samples, grEngineActiveSamples: gr, weightedSum, weightedN })
  it.each([
    { name: 'no row: unknown, not 0', row: undefined, want: { utilRatio: null, utilMetric: null, utilSamples: 0, utilSamplesGrEngineActive: 0 } },
    { name: 'no samples: unknown, not 0', row: row(0, 0), want: { utilRatio: null, utilMetric: null, utilSamples: 0, utilSamplesGrEngineActive: 0 } },
    { name: 'all GR_ENGINE_ACTIVE', row: row(4, 4), want: { utilRatio: 0.5, utilMetric: 'GR_ENGINE_ACTIVE', utilSamples: 4, utilSamplesGrEngineActive: 4 } },
    { name: 'all GPU_UTIL', row: row(4, 0), want: { utilRatio: 0.5, utilMetric: 'GPU_UTIL', utilSamples: 4, utilSamplesGrEngineActive: 0 } },
    { name: 'both', row: row(4, 1), want: { utilRatio: 0.5, utilMetric: 'mixed', utilSamples: 4, utilSamplesGrEngineActive: 1 } },
    { name: 'weighted by GPU fraction: a full GPU at 1 and a 1g slice at 0', row: row(2, 2, 1, 1 + 1 / 7), want: { utilRatio: 7 / 8, utilMetric: 'GR_ENGINE_ACTIVE' } },
  ])('$name', ({ row: r, want }) => expect(utilFigure(r)).toMatchObject(want))
})

describe('buildSeries', () => {
  const grid: BucketGrid = { fromMs: 0, toMs: 12 * H, stepMs: 6 * H, originMs: 0 }
  const g = (...v: string[]) => v
  const util = (group: string[], bucketMs: number, mean: number, samples: number): UtilRow => ({
    group, bucketMs, weightedSum: mean * samples, weightedN: samples, samples, grEngineActiveSamples: samples,
  })

  it('gives every group a point per step, 0 GPUs where nothing was held and null utilization where nothing was sampled', () => {
    const { series, warnings } = buildSeries(['team'], grid, 12 * H, {
      capacity: null,
      allocation: [{ group: g('a'), bucketMs: 0, gpuMs: 12 * H }, { group: g('a'), bucketMs: 6 * H, gpuMs: 6 * H }, { group: g('b'), bucketMs: 6 * H, gpuMs: 3 * H }],
      pending: [{ group: g('c'), bucketMs: 0, gpuMs: 6 * H }],
      util: [util(g('a'), 0, 0.5, 8)],
    })
    expect(series.map((s) => s.group)).toEqual([{ team: 'a' }, { team: 'b' }, { team: 'c' }])
    const [a, b, c] = series as [UsageSeries, UsageSeries, UsageSeries]
    expect(a.points[0]).toMatchObject({ ts: new Date(0).toISOString(), allocatedGpus: 2, allocatedGpuHours: 12, utilRatio: 0.5, utilizedGpus: 1, usedGpuHours: 6 })
    expect(a.points[1]).toMatchObject({ allocatedGpus: 1, utilRatio: null, utilizedGpus: null, usedGpuHours: null })
    // Used and waste cover the 12 GPU-hours whose utilization is known; the other 6 are unknown.
    expect(a.totals).toEqual({
      capacityGpuHours: null, allocatedGpuHours: 18, pendingGpuHours: 0, usedGpuHours: 6, utilUnknownGpuHours: 6, allocationRatio: null, utilRatio: 0.5, wasteGpuHours: 6,
    })
    expect(b.totals).toMatchObject({ allocatedGpuHours: 3, usedGpuHours: null, utilRatio: null, wasteGpuHours: null, utilUnknownGpuHours: 3 })
    expect(c.points.map((p) => [p.allocatedGpus, p.pendingGpus, p.usedGpuHours])).toEqual([[0, 1, 0], [0, 0, 0]])
    expect(warnings).toEqual(['utilization unknown for 2 of 3 points with allocated GPUs (no GPU samples): reported as null, not 0'])
  })

  it('reports capacity and allocation / capacity when capacity applies, and one fleet series when not grouped', () => {
    const { series } = buildSeries([], grid, 9 * H, {
      capacity: [{ group: [], bucketMs: 0, gpuMs: 8 * 6 * H }, { group: [], bucketMs: 6 * H, gpuMs: 8 * 3 * H }],
      allocation: [{ group: [], bucketMs: 6 * H, gpuMs: 6 * H }],
      pending: [],
      util: [],
    })
    expect(series).toHaveLength(1)
    // The second bucket ends at now (09:00): means are over 3 hours.
    expect(series[0]!.points.map((p) => [p.capacityGpus, p.allocatedGpus, p.allocationRatio])).toEqual([[8, 0, 0], [8, 2, 0.25]])
    expect(series[0]!.totals).toMatchObject({ capacityGpuHours: 72, allocatedGpuHours: 6, allocationRatio: 6 / 72 })
  })

  it('keeps groups whose values contain commas apart', () => {
    expect(groupKeyOf(['a,b', 'c'])).not.toBe(groupKeyOf(['a', 'b,c']))
  })
})

describe('months', () => {
  it.each([
    { name: 'mid-year', now: Date.UTC(2026, 8, 15, 12), want: ['2026-03', '2026-04', '2026-05', '2026-06', '2026-07', '2026-08', '2026-09'] },
    { name: 'across a year end', now: Date.UTC(2026, 1, 3), want: ['2025-08', '2025-09', '2025-10', '2025-11', '2025-12', '2026-01', '2026-02'] },
  ])('the last 6 full months and the current one, $name', ({ now, want }) => {
    const months = recentMonths(now, 6)
    expect(months.map((m) => m.month)).toEqual(want)
    expect(months[6]!.toMs).toBe(now)
    expect(months[5]!.toMs).toBe(months[6]!.fromMs)
  })

  it('sums day rows into months: allocated / capacity GPU-hours', () => {
    const months = recentMonths(Date.UTC(2026, 2, 2, 12), 1)
    const day = (d: number, gpuH: number) => ({ group: [], bucketMs: Date.UTC(2026, 1, 27 + d), gpuMs: gpuH * H })
    // Days 0, 1 are Feb 27, 28; day 2 is Mar 1, day 3 Mar 2.
    const capacity = [day(0, 192), day(1, 192), day(2, 192), day(3, 96)]
    const allocation = [day(1, 96), day(2, 48), day(3, 48)]
    expect(monthlyAllocation(months, capacity, allocation)).toEqual([
      { month: '2026-02', capacityGpuHours: 384, allocatedGpuHours: 96, allocationRatio: 0.25, partial: false },
      { month: '2026-03', capacityGpuHours: 288, allocatedGpuHours: 96, allocationRatio: 1 / 3, partial: true },
    ])
  })
})

describe('topWaste', () => {
  const s = (team: string, allocated: number, used: number | null): UsageSeries => ({
    group: { team },
    points: [],
    totals: {
      capacityGpuHours: null, allocatedGpuHours: allocated, pendingGpuHours: 0, usedGpuHours: used, utilUnknownGpuHours: used === null ? allocated : 0,
      allocationRatio: null, utilRatio: used === null ? null : used / allocated, wasteGpuHours: used === null ? null : allocated - used,
    },
  })
  it('ranks by waste, largest first, leaves out unknown waste and keeps the top N', () => {
    const top = topWaste([s('a', 100, 90), s('b', 50, 10), s('c', 80, null), s('d', 30, 0)], 2)
    expect(top.map((t) => [t.group.team, t.wasteGpuHours])).toEqual([['b', 40], ['d', 30]])
  })
})
