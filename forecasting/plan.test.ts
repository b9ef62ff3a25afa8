import { describe, expect, it } from 'vitest'
import { forecastSchema } from '../config/forecast'
import type { DemandSeries } from './demand'
import type { SeriesForecast } from './forecast'
import { burstScenario, capacityPlan, exceedance, gpusToBuy, pickBurstPrices } from './plan'
import { planSentences } from './planText'
import { reportFindings } from './report/findings'
import type { QuarterReport } from './report/data'

// Quantile rows carry P5, P10, P25, P50, P75, P90, P95 (forecasting/intervals.ts).
const row = (p50: number, p90: number) => [p50 - 30, p50 - 20, p50 - 10, p50, p50 + 5, p90, p90 + 10]
const ORIGIN = Date.parse('2026-07-01T00:00:00Z')
const HOUR = 3_600_000

describe('capacity plan arithmetic', () => {
  const q = [row(80, 95), row(90, 105), row(101, 120), row(99, 118)]

  it.each([
    { name: 'P50 first exceeds 100 GPUs in hour 3, for 1 hour', p: 0.5, capacity: 100, want: { firstMs: ORIGIN + 2 * HOUR, demandGpus: 101, hoursAbove: 1 } },
    { name: 'P90 first exceeds 100 GPUs in hour 2, for 3 hours', p: 0.9, capacity: 100, want: { firstMs: ORIGIN + HOUR, demandGpus: 105, hoursAbove: 3 } },
    { name: 'P90 never exceeds 200 GPUs', p: 0.9, capacity: 200, want: { firstMs: null, demandGpus: null, hoursAbove: 0 } },
  ])('$name', ({ p, capacity, want }) => {
    expect(exceedance(q, p, capacity, ORIGIN)).toEqual(want)
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
    expect(burstScenario(q, 0.9, 100, prices)).toEqual({ gpuHours: 5 + 20 + 18, spotCostUsd: 43, onDemandCostUsd: 129 })
    expect(burstScenario(q, 0.5, 100, prices).gpuHours).toBe(1)
  })
})

describe('buying against bursting', () => {
  // 100 GPUs today, target 85%: P90 runs 95, 105, 120, 118 GPUs over four hours, so buying
  // 42 GPUs (142 x 85% = 120.7) keeps it under the target. Bursting like for like takes the
  // P90 demand above 85 GPUs (10 + 20 + 35 + 33 = 98 GPU-hours); the burst policy, which
  // bursts only above 100% allocation, would burst the P90 demand above 100 (5 + 20 + 18 = 43).
  const q = [row(80, 95), row(90, 105), row(101, 120), row(99, 118)]
  const history: DemandSeries = { selector: 'cluster=a', startMs: ORIGIN - 2 * HOUR, allocated: [80, 80], pending: [0, 0], demand: [80, 80], capacity: [100, 100], warnings: [] }
  const score = { modelId: 'snaive24', label: 'seasonal naive (24 h)', naive: true, smapeRatio: 0.1, maeGpus: 1, mase: 1, coverage80: null, coverage50: null }
  const forecast = {
    originMs: ORIGIN, horizonHours: 4, model: { id: 'snaive24', label: 'seasonal naive (24 h)', params: {} },
    choice: { modelId: 'snaive24', label: 'seasonal naive (24 h)', naive: true, reason: 'naive is the choice', horizonHours: 4, score, bar: score },
    quantileProbs: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95], point: q.map((r) => r[3]!), quantiles: q, notes: [],
  } as unknown as SeriesForecast
  const prices = pickBurstPrices([], { fallbackSpotUsdPerGpuHour: 1, fallbackOnDemandUsdPerGpuHour: 3 })
  const plan = capacityPlan({ history, forecast, util: [], prices, targetAllocationRatio: 0.85 })

  it('gives both burst figures: above capacity (the burst policy) and above target x capacity (like for like with buying)', () => {
    expect(plan.buy.gpus).toBe(42)
    expect(plan.burst.p90).toEqual({ gpuHours: 43, spotCostUsd: 43, onDemandCostUsd: 129 })
    expect(plan.burst.aboveTarget.thresholdGpus).toBe(85)
    expect(plan.burst.aboveTarget.p90).toEqual({ gpuHours: 98, spotCostUsd: 98, onDemandCostUsd: 294 })
    expect(plan.burst.aboveTarget.p50).toEqual({ gpuHours: 0 + 5 + 16 + 14, spotCostUsd: 35, onDemandCostUsd: 105 })
  })

  it('words the plan so the like-for-like alternative and the burst policy figure are told apart', () => {
    const text = planSentences(plan)
    expect(text).toContain('Or burst instead of buying, like for like (all demand above 85.0% of capacity, 85 GPUs): 35 GPU-hours at P50 ($35 spot, $105 on-demand), 98 at P90 ($98 spot, $294 on-demand).')
    expect(text).toContain('Burst policy (it bursts only when on-prem GPUs are fully allocated), with nothing bought: demand above capacity, 1 GPU-hours at P50 ($1 spot, $3 on-demand), 43 at P90 ($43 spot, $129 on-demand).')
  })

  it('puts the like-for-like burst cost beside buying in the findings, and the burst policy figure apart', () => {
    const findings = reportFindings({ plan, nextQuarter: '2026-Q3', totals: { allocationRatio: null, allocatedGpuHours: 0, pendingGpuHours: 0, utilRatio: null }, days: [], waste: [], finalStates: null, forecast: null } as unknown as QuarterReport)
    expect(findings).toContain("Buying 42 GPUs keeps P90 demand at or under 85.0% allocation; bursting instead, like for like (all P90 demand above 85.0% of today's 100 GPUs, 98 GPU-hours), costs $98 spot or $294 on-demand.")
    expect(findings).toContain('With nothing bought, the burst policy (it bursts only when on-prem GPUs are fully allocated) would burst the P90 demand above capacity: 43 GPU-hours, $43 spot or $129 on-demand (less than like for like, as on-prem allocation then runs up to 100%, above the 85.0% target).')
  })
})

describe('burst prices', () => {
  const settings = { fallbackSpotUsdPerGpuHour: 0.85, fallbackOnDemandUsdPerGpuHour: 4.1 }

  it('takes the cheapest price per GPU-hour of each lifecycle from the prices table and names it', () => {
    const p = pickBurstPrices([
      { provider: 'aws', region: 'us-east-1', instanceType: 'p5.48xlarge', lifecycle: 'on-demand', usdPerGpuHour: 12.29 },
      { provider: 'aws', region: 'us-east-1', instanceType: 'p4d.24xlarge', lifecycle: 'on-demand', usdPerGpuHour: 4.0966 },
      { provider: 'aws', region: 'us-east-1', instanceType: 'p4d.24xlarge', lifecycle: 'spot', usdPerGpuHour: 0.8489 },
    ], settings)
    expect(p).toEqual({
      spot: { usdPerGpuHour: 0.8489, source: 'prices table: aws us-east-1 p4d.24xlarge spot' },
      onDemand: { usdPerGpuHour: 4.0966, source: 'prices table: aws us-east-1 p4d.24xlarge on-demand' },
      fallback: false,
    })
  })

  it('falls back to the config price for a lifecycle the table lacks, and says so', () => {
    const p = pickBurstPrices([{ provider: 'aws', region: 'us-east-1', instanceType: 'p4d.24xlarge', lifecycle: 'spot', usdPerGpuHour: 0.5 }], settings)
    expect(p.onDemand).toEqual({ usdPerGpuHour: 4.1, source: 'config fallback (forecast.burst.fallbackOnDemandUsdPerGpuHour)' })
    expect(p.fallback).toBe(true)
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
