import { describe, expect, it } from 'vitest'
import { forecastSchema } from '../config/forecast'
import { burstScenario, exceedance, gpusToBuy, pickBurstPrices } from './plan'

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
