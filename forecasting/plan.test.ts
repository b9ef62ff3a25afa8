import { describe, expect, it } from 'vitest'
import { forecastSchema } from '../config/forecast'
import type { DemandSeries } from './demand'
import type { SeriesForecast } from './forecast'
import { burstScenario, capacityPlan, exceedance, gpusToBuy, pickBurstPrices, planWarnings, type CapacityPlan } from './plan'
import { planSentences } from './planText'
import { dailyForecast, fanChart } from './report/charts'
import { reportFindings } from './report/findings'
import type { QuarterReport } from './report/data'

// Quantile rows carry P5, P10, P25, P50, P75, P90, P95 (forecasting/intervals.ts).
const row = (p50: number, p90: number) => [p50 - 30, p50 - 20, p50 - 10, p50, p50 + 5, p90, p90 + 10]
const ORIGIN = Date.parse('2026-07-01T00:00:00Z')
const HOUR = 3_600_000

describe('capacity plan arithmetic', () => {
  const q = [row(80, 95), row(90, 105), row(101, 120), row(99, 118)]

  it.each([
    { name: 'P50 first exceeds 100 GPUs in hour 3, for 1 hour', p: 0.5, capacity: 100, want: { firstMs: ORIGIN + 2 * HOUR, demandGpus: 101, hoursAbove: 1, extrapolated: false, hoursAboveWithinBacktest: 1 } },
    { name: 'P90 first exceeds 100 GPUs in hour 2, for 3 hours', p: 0.9, capacity: 100, want: { firstMs: ORIGIN + HOUR, demandGpus: 105, hoursAbove: 3, extrapolated: false, hoursAboveWithinBacktest: 3 } },
    { name: 'P90 never exceeds 200 GPUs', p: 0.9, capacity: 200, want: { firstMs: null, demandGpus: null, hoursAbove: 0, extrapolated: false, hoursAboveWithinBacktest: 0 } },
    { name: 'P90 above 110 GPUs only past a 2 h backtest is extrapolated', p: 0.9, capacity: 110, backtest: 2, want: { firstMs: ORIGIN + 2 * HOUR, demandGpus: 120, hoursAbove: 2, extrapolated: true, hoursAboveWithinBacktest: 0 } },
    { name: 'P90 above 100 GPUs within a 2 h backtest is not, and counts its hours within', p: 0.9, capacity: 100, backtest: 2, want: { firstMs: ORIGIN + HOUR, demandGpus: 105, hoursAbove: 3, extrapolated: false, hoursAboveWithinBacktest: 1 } },
  ])('$name', ({ p, capacity, backtest, want }) => {
    expect(exceedance(q, p, capacity, ORIGIN, backtest)).toEqual(want)
  })

  it.each([
    { name: 'peak P90 of 120 at 85% needs 142 GPUs: buy 42 of them on 100', peak: 120, capacity: 100, want: { gpus: 42, capacityNeededGpus: 142 } },
    { name: 'exactly at the target needs nothing more', peak: 85, capacity: 100, want: { gpus: 0, capacityNeededGpus: 100 } },
    { name: 'already enough capacity buys nothing', peak: 50, capacity: 100, want: { gpus: 0, capacityNeededGpus: 59 } },
  ])('$name', ({ peak, capacity, want }) => {
    expect(gpusToBuy(peak, capacity, 0.85)).toEqual(want)
  })

  it('prices the GPU-hours above capacity, hour by hour, at spot and on-demand', () => {
    const prices = pickBurstPrices([], { fallbackSpotUsdPerGpuHour: 1, fallbackOnDemandUsdPerGpuHour: 3 })
    expect(burstScenario(q, 0.9, 100, prices)).toEqual({ gpuHours: 5 + 20 + 18, spotCostUsd: 43, onDemandCostUsd: 129, extrapolatedGpuHours: 0 })
    expect(burstScenario(q, 0.5, 100, prices).gpuHours).toBe(1)
  })

  it('caps each hour at the burst policy capacity and counts the GPU-hours past the backtest', () => {
    const prices = pickBurstPrices([], { fallbackSpotUsdPerGpuHour: 1, fallbackOnDemandUsdPerGpuHour: 3 })
    // P90 above 100: 5, 20, 18; at most 16 an hour: 5 + 16 + 16; hours 3 and 4 lie past a 2 h backtest.
    expect(burstScenario(q, 0.9, 100, prices, { capGpus: 16, backtestHours: 2 })).toEqual({ gpuHours: 37, spotCostUsd: 37, onDemandCostUsd: 111, extrapolatedGpuHours: 32 })
  })
})

const score = { modelId: 'snaive24', label: 'seasonal naive (24 h)', naive: true, smapeRatio: 0.1, maeGpus: 1, mase: 1, coverage80: null, coverage50: null }

/** A forecast of the given quantile rows from ORIGIN, its intervals backtested to `backtestHours`. */
const forecastOf = (q: number[][], backtestHours = q.length) => ({
  originMs: ORIGIN, horizonHours: q.length, model: { id: 'snaive24', label: 'seasonal naive (24 h)', params: {} },
  choice: { modelId: 'snaive24', label: 'seasonal naive (24 h)', naive: true, reason: 'naive is the choice', horizonHours: backtestHours, score, bar: score },
  backtest: { horizonHours: backtestHours },
  quantileProbs: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95], point: q.map((r) => r[3]!), quantiles: q, notes: [],
}) as unknown as SeriesForecast

/** A cluster with 100 GPUs measured in the two hours before ORIGIN. */
const history: DemandSeries = { selector: 'cluster=a', startMs: ORIGIN - 2 * HOUR, allocated: [80, 80], pending: [0, 0], demand: [80, 80], capacity: [100, 100], warnings: [] }
const fallbackPrices = pickBurstPrices([], { fallbackSpotUsdPerGpuHour: 1, fallbackOnDemandUsdPerGpuHour: 3 })
const findingsOf = (plan: CapacityPlan, nowMs = ORIGIN) =>
  reportFindings({ plan, nowMs, nextQuarter: '2026-Q3', totals: { allocationRatio: null, allocatedGpuHours: 0, pendingGpuHours: 0, utilRatio: null }, days: [], waste: [], finalStates: null, forecast: null } as unknown as QuarterReport)

describe('buying against bursting', () => {
  // 100 GPUs today, target 85%: P90 runs 95, 105, 120, 118 GPUs over four hours, so buying
  // 42 GPUs (142 x 85% = 120.7) keeps it under the target. Bursting like for like takes the
  // P90 demand above 85 GPUs (10 + 20 + 35 + 33 = 98 GPU-hours); the burst policy, which
  // bursts only above 100% allocation, would burst the P90 demand above 100 (5 + 20 + 18 = 43).
  const q = [row(80, 95), row(90, 105), row(101, 120), row(99, 118)]
  const plan = capacityPlan({ history, forecast: forecastOf(q), util: [], prices: fallbackPrices, targetAllocationRatio: 0.85, nowMs: ORIGIN })

  it('gives both burst figures: above capacity (the burst policy) and above target x capacity (like for like with buying)', () => {
    expect(plan.buy.gpus).toBe(42)
    expect(plan.burst.p90).toEqual({ gpuHours: 43, spotCostUsd: 43, onDemandCostUsd: 129, extrapolatedGpuHours: 0 })
    expect(plan.burst.aboveTarget.thresholdGpus).toBe(85)
    expect(plan.burst.aboveTarget.p90).toEqual({ gpuHours: 98, spotCostUsd: 98, onDemandCostUsd: 294, extrapolatedGpuHours: 0 })
    expect(plan.burst.aboveTarget.p50).toEqual({ gpuHours: 0 + 5 + 16 + 14, spotCostUsd: 35, onDemandCostUsd: 105, extrapolatedGpuHours: 0 })
  })

  it('words the plan so the like-for-like alternative and the burst policy figure are told apart, the P90 sum as an upper bound', () => {
    const text = planSentences(plan)
    expect(text).toContain('Or burst instead of buying, like for like (all demand above 85.0% of capacity, 85 GPUs): 35 GPU-hours at P50 ($35 spot, $105 on-demand), at most 98 at P90 ($98 spot, $294 on-demand; every hour at its own P90 at once, an upper bound).')
    expect(text).toContain('Burst policy (it bursts only when on-prem GPUs are fully allocated), with nothing bought: demand above capacity, 1 GPU-hours at P50 ($1 spot, $3 on-demand), ' +
      'at most 43 at P90 ($43 spot, $129 on-demand; every hour at its own P90 at once, an upper bound); not capped: the plan was not given the burst policies, alerts.burst.pools.')
  })

  it('puts the like-for-like burst cost beside buying in the findings, and the burst policy figure apart, both as upper bounds', () => {
    const findings = findingsOf(plan)
    expect(findings).toContain('P90 demand is forecast to exceed today\'s 100 GPUs on 2026-07-01, for 3 h in all (hourly P90 up to 120 GPUs; P50 on 2026-07-01).')
    expect(findings).toContain("Buying 42 GPUs keeps P90 demand at or under 85.0% allocation of today's 100 GPUs; bursting instead, like for like (all P90 demand above 85.0% of it, 98 GPU-hours at most, as it takes every hour at its own P90 at once), costs $98 spot or $294 on-demand.")
    expect(findings).toContain('With nothing bought, the burst policy (it bursts only when on-prem GPUs are fully allocated) would burst the P90 demand above capacity: 43 GPU-hours at most, as it takes every hour at its own P90 at once, ' +
      '$43 spot or $129 on-demand (less than like for like, as on-prem allocation then runs up to 100%, above the 85.0% target; not capped: the plan was not given the burst policies, alerts.burst.pools).')
  })
})

describe('a plan past the longest backtest', () => {
  // P50 flat at 50 GPUs on 100; P90 grows only from hour 3 on, past a 2 h backtest, as the
  // √(h/H) widening makes it: 60, 60, 90, 130, 150. Within the backtest P90 peaks at 60 GPUs.
  const q = [row(50, 60), row(50, 60), row(50, 90), row(50, 130), row(50, 150)]
  const plan = capacityPlan({ history, forecast: forecastOf(q, 2), util: [], prices: fallbackPrices, targetAllocationRatio: 0.85, nowMs: ORIGIN })

  it('says in its answer which figures rest on widened intervals, with the buy figure within the backtest and the P50 trend', () => {
    expect(plan.intervals).toEqual({ backtestHorizonHours: 2, widenedFromMs: ORIGIN + 2 * HOUR })
    expect(plan.exceeds.p90).toEqual({ firstMs: ORIGIN + 3 * HOUR, demandGpus: 130, hoursAbove: 2, extrapolated: true, hoursAboveWithinBacktest: 0 })
    expect(plan.buy).toMatchObject({ gpus: 77, extrapolated: true, withinBacktest: { gpus: 0, capacityNeededGpus: 71, peakP90Gpus: 60, throughMs: ORIGIN + 2 * HOUR } })
    expect(plan.p50Trend).toEqual({ windowHours: 5, firstGpus: 50, lastGpus: 50, firstRatio: 0.5, lastRatio: 0.5 })
    expect(plan.burst.p90.extrapolatedGpuHours).toBe(30 + 50)
  })

  it('words the caveat beside the P90 date and the buy figure', () => {
    const text = planSentences(plan)
    expect(text).toContain('P90 demand first exceeds capacity on 2026-07-01 (130 GPUs; 2 h above capacity in the horizon). That date is past the longest backtest (2 h): ' +
      'the intervals there are widened by an assumption (√(h/2)), not measured; within the backtest, P90 stays within capacity.')
    expect(text).toContain('P50 demand averages 50 GPUs (50.0% of capacity) over the horizon.')
    expect(text).toContain('Buy: 77 GPUs to keep P90 demand at or under 85.0% allocation (P90 demand peaks at 150 GPUs; at 85% allocation that needs 177 GPUs of capacity). ' +
      'This figure is set by the P90 of 2026-07-01, past the longest backtest (2 h), where intervals are widened by an assumption, not measured; within the backtest (to 2026-07-01) P90 peaks at 60 GPUs and the figure is 0 GPUs.')
  })

  it('leads the report findings with the caveat, the hours above capacity and the P50 trend', () => {
    const [exceed, buy] = findingsOf(plan)
    expect(exceed).toBe("P90 demand is forecast to exceed today's 100 GPUs on 2026-07-01, for 2 h in all (hourly P90 up to 150 GPUs). That date is past the longest backtest (2 h), " +
      'where the intervals are widened by an assumption, not measured; within the backtest P90 stays within capacity, and P50 demand averages 50 GPUs (50.0% of capacity) over the horizon.')
    expect(buy).toContain('That figure is set by the P90 of 2026-07-01, past the longest backtest (2 h), where intervals are widened by an assumption; within the backtest it is 0 GPUs, and P50 demand averages 50 GPUs (50.0% of capacity) over the horizon.')
  })

  it("calls the capacity of a plan that starts before now the GPUs at its start, not today's", () => {
    const later = ORIGIN + 40 * 24 * HOUR
    const past = capacityPlan({ history, forecast: forecastOf(q, 2), util: [], prices: fallbackPrices, targetAllocationRatio: 0.85, nowMs: later })
    expect(past.startsNow).toBe(false)
    expect(planSentences(past)[0]).toBe('Capacity plan for cluster=a, 2026-07-01 to 2026-07-01 (5 h), against the 100 GPUs at 2026-07-01.')
    expect(planSentences(past)).toContain('Burst prices (in effect at 2026-08-10, when the plan was made): spot $1.00/GPU-h from config fallback (forecast.burst.fallbackSpotUsdPerGpuHour); on-demand $3.00/GPU-h from config fallback (forecast.burst.fallbackOnDemandUsdPerGpuHour).')
    const [exceed, buy] = findingsOf(past, later)
    expect(exceed).toMatch(/^P90 demand is forecast to exceed the 100 GPUs at 2026-07-01 on 2026-07-01, for 2 h in all/)
    expect(buy).toMatch(/^Buying 77 GPUs keeps P90 demand at or under 85\.0% allocation of the 100 GPUs at 2026-07-01; .* \(prices in effect at 2026-08-10\)\./)
    // The report knows when it was made even when its plan was not told (forecasting/report/data.ts).
    const untold = capacityPlan({ history, forecast: forecastOf(q, 2), util: [], prices: fallbackPrices, targetAllocationRatio: 0.85 })
    expect(untold.startsNow).toBe(false)
    expect(findingsOf(untold, later)[0]).toMatch(/^P90 demand is forecast to exceed the 100 GPUs at 2026-07-01 on /)
    expect(findingsOf(untold, ORIGIN + HOUR)[0]).toMatch(/^P90 demand is forecast to exceed today's 100 GPUs on /)
  })
})

describe('the burst policy cap', () => {
  const q = [row(80, 95), row(90, 105), row(101, 120), row(99, 118)]
  const target = (name: string, lifecycle: 'spot' | 'on-demand', maxNodes: number, usdPerGpuHour: number) => ({ name, provider: 'aws', lifecycle, usdPerGpuHour, gpusPerNode: 8, maxNodes })

  it.each([
    { name: 'no policy given: not capped, and says the policies were not read', policies: undefined, want: { gpus: null, p90: 43 } },
    { name: 'no policy covers the series: not capped', policies: [], want: { gpus: null, p90: 43 } },
    // 1 node of 8 GPUs + 1 node of 8 = 16 < maxBurstGpus 64: P90 above 100 is 5, 20, 18 -> 5 + 16 + 16.
    { name: "targets' maxNodes x gpusPerNode caps each hour", policies: [{ cluster: 'a', pool: 'dgx', maxBurstGpus: 64, targets: [target('spot', 'spot', 1, 2), target('od', 'on-demand', 1, 5)] }], want: { gpus: 16, p90: 37 } },
    { name: 'maxBurstGpus caps below the targets', policies: [{ cluster: 'a', pool: 'dgx', maxBurstGpus: 10, targets: [target('spot', 'spot', 4, 2)] }], want: { gpus: 10, p90: 5 + 10 + 10 } },
  ])('$name', ({ policies, want }) => {
    const plan = capacityPlan({ history, forecast: forecastOf(q), util: [], prices: fallbackPrices, targetAllocationRatio: 0.85, ...(policies ? { policies } : {}) })
    expect(plan.burst.policyCap.gpus).toBe(want.gpus)
    expect(plan.burst.p90.gpuHours).toBe(want.p90)
    expect(plan.burst.policyCap.uncapped.p90.gpuHours).toBe(43)
    expect(plan.burst.policyCap.why).toMatch(want.gpus === null ? /^not capped: / : new RegExp(`^capped at ${want.gpus} GPUs`))
  })
})

describe('the report fan chart', () => {
  // Two days at 100 GPUs: P90 is 80 every hour but one, 120 at 2026-07-01T12:00, so its daily mean (81.7) stays under capacity.
  const q = Array.from({ length: 48 }, (_, h) => row(60, h === 12 ? 120 : 80))
  const forecast = forecastOf(q)
  const plan = capacityPlan({ history, forecast, util: [], prices: fallbackPrices, targetAllocationRatio: 0.85, nowMs: ORIGIN })
  const p90 = 5

  it('keeps each day\'s highest hourly P90 beside the daily mean', () => {
    const [first, second] = dailyForecast(forecast)
    expect(first!.q[p90]).toBeCloseTo((23 * 80 + 120) / 24, 9)
    expect(first!.max[p90]).toBe(120)
    expect(second!.max[p90]).toBe(80)
    expect(first!.min[1]).toBe(40)
  })

  it('draws the P90 band to the highest hourly P90, so the hour above capacity shows, and marks that day', () => {
    const svg = fanChart({ forecast, plan, recent: [], nextQuarter: '2026-Q3' } as unknown as QuarterReport)
    expect(svg.match(/<circle class="marker" data-name="hourly P90 above capacity"/g)).toHaveLength(1)
    expect(svg).toContain('data-name="P10-P90 (hourly extremes)"')
    expect(plan.exceeds.p90.hoursAbove).toBe(1)
  })

  it('draws where the intervals start being widened past the longest backtest, and nothing when they are not', () => {
    const widened = capacityPlan({ history, forecast: forecastOf(q, 24), util: [], prices: fallbackPrices, targetAllocationRatio: 0.85, nowMs: ORIGIN })
    const line = 'data-name="intervals widened past here (assumption)"'
    expect(fanChart({ forecast: forecastOf(q, 24), plan: widened, recent: [], nextQuarter: '2026-Q3' } as unknown as QuarterReport)).toContain(line)
    expect(fanChart({ forecast, plan, recent: [], nextQuarter: '2026-Q3' } as unknown as QuarterReport)).not.toContain(line)
  })
})

describe('burst prices', () => {
  const settings = { fallbackSpotUsdPerGpuHour: 0.85, fallbackOnDemandUsdPerGpuHour: 4.1 }
  const aws = (instanceType: string, lifecycle: string, usdPerGpuHour: number) => ({ provider: 'aws', region: 'us-east-1', instanceType, lifecycle, usdPerGpuHour })

  it('takes the cheapest price per GPU-hour of each lifecycle from the prices table and names it', () => {
    const p = pickBurstPrices([aws('p5.48xlarge', 'on-demand', 12.29), aws('p4d.24xlarge', 'on-demand', 4.0966), aws('p4d.24xlarge', 'spot', 0.8489)], settings)
    expect(p).toEqual({
      spot: { usdPerGpuHour: 0.8489, source: 'prices table: aws us-east-1 p4d.24xlarge spot', from: 'prices-table' },
      onDemand: { usdPerGpuHour: 4.0966, source: 'prices table: aws us-east-1 p4d.24xlarge on-demand', from: 'prices-table' },
      fallback: false,
      onPremProviders: ['', 'onprem'],
    })
  })

  it('falls back to the config price for a lifecycle the table lacks, says so, and warns', () => {
    const p = pickBurstPrices([aws('p4d.24xlarge', 'spot', 0.5)], settings)
    expect(p.onDemand).toEqual({ usdPerGpuHour: 4.1, source: 'config fallback (forecast.burst.fallbackOnDemandUsdPerGpuHour)', from: 'config-fallback' })
    expect(p.fallback).toBe(true)
    expect(planWarnings({ burst: { prices: p } } as CapacityPlan)).toEqual([
      'burst costs use placeholder prices (on-demand $4.10/GPU-h from config fallback (forecast.burst.fallbackOnDemandUsdPerGpuHour)): no burst policy target and no cloud price in the prices table ' +
        'for on-demand; set forecast.burst.fallback*, or collect cloud prices',
    ])
    expect(planWarnings({ burst: { prices: pickBurstPrices([aws('p4d.24xlarge', 'spot', 0.5), aws('p4d.24xlarge', 'on-demand', 4)], settings) } } as CapacityPlan)).toEqual([])
  })

  it.each([
    // The static prices collector's on-prem row (amortised $1.20 a V100-hour) is cheaper than AWS, and is no burst price.
    { name: "never takes an 'onprem' row", rows: [{ provider: 'onprem', region: '', instanceType: 'V100', lifecycle: 'on-demand', usdPerGpuHour: 1.2 }], sources: {} },
    { name: "never takes a row without a provider (nodes with no providerID)", rows: [{ provider: '', region: '', instanceType: 'A100', lifecycle: 'on-demand', usdPerGpuHour: 0.5 }], sources: {} },
    { name: "never takes a cluster's defaultProvider row", rows: [{ provider: 'dgx', region: '', instanceType: 'H100', lifecycle: 'on-demand', usdPerGpuHour: 1.5 }], sources: { onPremProviders: ['dgx'] } },
  ])('$name as a burst price', ({ rows, sources }) => {
    const p = pickBurstPrices([...rows, aws('p4d.24xlarge', 'on-demand', 4.0966), aws('p4d.24xlarge', 'spot', 0.8489)], settings, sources)
    expect(p.onDemand).toEqual({ usdPerGpuHour: 4.0966, source: 'prices table: aws us-east-1 p4d.24xlarge on-demand', from: 'prices-table' })
    expect(p.onPremProviders).toEqual(['', 'onprem', ...(sources.onPremProviders ?? [])])
  })

  it("prefers the burst policy's own targets, first of each lifecycle in policy order, and names them", () => {
    const policies = [{
      cluster: 'a', pool: 'dgx', maxBurstGpus: 64,
      targets: [
        { name: 'gcp-spot', provider: 'gcp', lifecycle: 'spot' as const, usdPerGpuHour: 1.1, gpusPerNode: 8, maxNodes: 2 },
        { name: 'aws-spot', provider: 'aws', lifecycle: 'spot' as const, usdPerGpuHour: 0.9, gpusPerNode: 8, maxNodes: 2 },
      ],
    }]
    const p = pickBurstPrices([aws('p4d.24xlarge', 'on-demand', 4.0966), aws('p4d.24xlarge', 'spot', 0.8489)], settings, { policies })
    expect(p.spot).toEqual({ usdPerGpuHour: 1.1, source: "burst policy alerts.burst.pools[a/dgx] target 'gcp-spot' (gcp spot)", from: 'burst-policy' })
    // The policy has no on-demand target: the prices table's cloud price stands in.
    expect(p.onDemand.from).toBe('prices-table')
    expect(p.fallback).toBe(false)
  })
})

describe('forecast config', () => {
  it.each([
    { name: 'an unknown model', input: { models: ['prophet'] }, path: 'models.0' },
    { name: 'a single backtest origin', input: { backtestOrigins: 1 }, path: 'backtestOrigins' },
    { name: 'a plan horizon that is not a duration', input: { planHorizon: 'next quarter' }, path: 'planHorizon' },
    { name: 'a target allocation ratio above 1', input: { targetAllocationRatio: 1.2 }, path: 'targetAllocationRatio' },
    { name: 'a negative fallback price', input: { burst: { fallbackSpotUsdPerGpuHour: -1 } }, path: 'burst.fallbackSpotUsdPerGpuHour' },
  ])('rejects $name, naming the field', ({ input, path }) => {
    const r = forecastSchema.safeParse(input)
    expect(r.success).toBe(false)
    expect(r.error!.issues.map((i) => i.path.join('.'))).toEqual([path])
  })

  it('defaults to every model but MSTL, 7 origins a day apart and a 13-week plan at 85%', () => {
    const c = forecastSchema.parse({})
    expect(c.models).not.toContain('mstl-ets')
    expect(c).toMatchObject({ backtestOrigins: 7, originStrideHours: 24, planHorizon: '13w', targetAllocationRatio: 0.85 })
  })
})
