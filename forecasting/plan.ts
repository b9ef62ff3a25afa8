/**
 * The capacity plan (pure): from a series' history, its demand forecast and
 * today's capacity, when P50 and P90 demand first exceed capacity, how many
 * GPUs to buy so P90 demand stays at or under the target allocation ratio,
 * what bursting the excess to the cloud would cost instead, and the
 * month-by-month trend.
 *
 * Assumptions, stated in every plan: capacity stays what it is now for the
 * whole horizon (nothing bought or retired); the GPUs to buy cover the
 * highest hourly P90 of the horizon; burst GPU-hours are demand above a
 * threshold, hour by hour, priced per GPU-hour. Two thresholds, because they
 * answer two questions: above capacity (`burst.p50`, `burst.p90`) is what the
 * burst controller would burst, as it bursts only when on-prem GPUs are fully
 * allocated; above target × capacity (`burst.aboveTarget`) is the like-for-like
 * alternative to buying, which keeps P90 allocation at or under the target.
 */
import type { DemandSeries } from './demand'
import type { SeriesForecast } from './forecast'
import { probIndex } from './intervals'
import { monthlyTrend, type MonthTrend, type UtilHour } from './trend'

/** One burst price and where it came from. */
export interface BurstPrice {
  usdPerGpuHour: number
  /** `prices table: aws us-east-1 p4d.24xlarge` or `config fallback (forecast.burst.fallback...)`. */
  source: string
}

/** Spot and on-demand prices for bursting. */
export interface BurstPrices {
  spot: BurstPrice
  onDemand: BurstPrice
  /** True when either price came from the config fallback (the prices table had none). */
  fallback: boolean
}

/** When a demand quantile first goes above capacity. */
export interface Exceedance {
  /** Epoch ms of the first hour above capacity; null when it never is within the horizon. */
  firstMs: number | null
  /** Demand in that hour. */
  demandGpus: number | null
  /** Hours above capacity within the horizon. */
  hoursAbove: number
}

/** Bursting the demand above a threshold to the cloud, for one demand quantile. */
export interface BurstScenario {
  gpuHours: number
  spotCostUsd: number
  onDemandCostUsd: number
}

/** The capacity plan of one series. */
export interface CapacityPlan {
  series: string
  originMs: number
  horizonHours: number
  endMs: number
  capacityGpus: number
  targetAllocationRatio: number
  model: { id: string; label: string; naive: boolean; reason: string }
  exceeds: { p50: Exceedance; p90: Exceedance }
  peak: { p50Gpus: number; p90Gpus: number; p90AtMs: number }
  buy: { gpus: number; capacityNeededGpus: number; why: string }
  /**
   * p50, p90: demand above capacity, what the burst policy would burst (it
   * bursts only when on-prem GPUs are fully allocated). aboveTarget: demand
   * above target × capacity (`thresholdGpus`), what bursting instead of buying
   * would take to keep on-prem allocation at or under the target, as buying does.
   */
  burst: { prices: BurstPrices; p50: BurstScenario; p90: BurstScenario; aboveTarget: { thresholdGpus: number; p50: BurstScenario; p90: BurstScenario } }
  months: MonthTrend[]
  notes: string[]
}

/** The burst settings the price choice reads (config/forecast.ts). */
export interface BurstSettings {
  fallbackSpotUsdPerGpuHour: number
  fallbackOnDemandUsdPerGpuHour: number
}

/** A price row from the prices table, per GPU-hour. */
export interface PriceRow {
  provider: string
  region: string
  instanceType: string
  lifecycle: string
  usdPerGpuHour: number
}

/** The cheapest matching spot and on-demand price per GPU-hour; a lifecycle with no row takes the config fallback. */
export function pickBurstPrices(rows: readonly PriceRow[], settings: BurstSettings): BurstPrices {
  const cheapest = (lifecycle: string) =>
    rows.filter((r) => r.lifecycle === lifecycle).sort((a, b) => a.usdPerGpuHour - b.usdPerGpuHour)[0]
  const from = (r: PriceRow | undefined, fallback: number, key: string): BurstPrice =>
    r ? { usdPerGpuHour: r.usdPerGpuHour, source: `prices table: ${[r.provider, r.region, r.instanceType].filter(Boolean).join(' ')} ${r.lifecycle}` }
      : { usdPerGpuHour: fallback, source: `config fallback (forecast.burst.${key})` }
  const spot = cheapest('spot')
  const onDemand = cheapest('on-demand')
  return {
    spot: from(spot, settings.fallbackSpotUsdPerGpuHour, 'fallbackSpotUsdPerGpuHour'),
    onDemand: from(onDemand, settings.fallbackOnDemandUsdPerGpuHour, 'fallbackOnDemandUsdPerGpuHour'),
    fallback: !spot || !onDemand,
  }
}

/** What the plan is made from. */
export interface PlanInput {
  history: DemandSeries
  forecast: SeriesForecast
  util: readonly UtilHour[]
  prices: BurstPrices
  targetAllocationRatio: number
}

/** The first hour a quantile of demand is above capacity, and how many hours are. */
export function exceedance(quantiles: readonly number[][], p: number, capacityGpus: number, originMs: number): Exceedance {
  const i = probIndex(p)
  let first = -1
  let hoursAbove = 0
  quantiles.forEach((q, h) => {
    if (q[i]! > capacityGpus) {
      hoursAbove++
      if (first < 0) first = h
    }
  })
  return first < 0 ? { firstMs: null, demandGpus: null, hoursAbove } : { firstMs: originMs + first * 3_600_000, demandGpus: quantiles[first]![i]!, hoursAbove }
}

/** GPUs to add so that peak P90 demand is at most target × capacity (0 when it already is). */
export function gpusToBuy(peakP90Gpus: number, capacityGpus: number, targetRatio: number): { gpus: number; capacityNeededGpus: number } {
  const capacityNeededGpus = Math.ceil(peakP90Gpus / targetRatio - 1e-9)
  return { gpus: Math.max(0, capacityNeededGpus - capacityGpus), capacityNeededGpus }
}

/** GPU-hours of demand above a threshold (capacity, or target × capacity; one hour per quantile row) and their cost at both prices. */
export function burstScenario(quantiles: readonly number[][], p: number, thresholdGpus: number, prices: BurstPrices): BurstScenario {
  const i = probIndex(p)
  const gpuHours = quantiles.reduce((sum, q) => sum + Math.max(0, q[i]! - thresholdGpus), 0)
  return { gpuHours, spotCostUsd: gpuHours * prices.spot.usdPerGpuHour, onDemandCostUsd: gpuHours * prices.onDemand.usdPerGpuHour }
}

/** Builds the plan; capacity is the last hour's, held flat over the horizon. */
export function capacityPlan(input: PlanInput): CapacityPlan {
  const { history, forecast, prices, targetAllocationRatio } = input
  const capacityGpus = history.capacity?.[history.capacity.length - 1]
  if (capacityGpus === undefined) throw new Error(`capacityPlan: series '${history.selector}' has no capacity (a team series cannot be planned)`)
  const q = forecast.quantiles
  const p50 = probIndex(0.5)
  const p90 = probIndex(0.9)
  let peakAt = 0
  q.forEach((row, h) => {
    if (row[p90]! > q[peakAt]![p90]!) peakAt = h
  })
  const peakP90 = q[peakAt]?.[p90] ?? 0
  const peakP50 = Math.max(0, ...q.map((row) => row[p50]!))
  const buy = gpusToBuy(peakP90, capacityGpus, targetAllocationRatio)
  const targetGpus = targetAllocationRatio * capacityGpus
  const target = `${(targetAllocationRatio * 100).toFixed(0)}%`
  const notes = [
    `capacity is held at today's ${round(capacityGpus)} GPUs for the whole horizon`,
    `GPUs to buy cover the highest hourly P90 demand (${round(peakP90)} GPUs) at ${target} allocation`,
    `burst above capacity is what the burst controller would burst (only when on-prem GPUs are fully allocated); burst above ${target} of capacity (${round(targetGpus)} GPUs) is the like-for-like alternative to buying`,
    ...(prices.fallback ? [`the prices table lacks a matching price: burst cost uses spot ${prices.spot.source}, on-demand ${prices.onDemand.source}`] : []),
    ...forecast.notes,
  ]
  return {
    series: history.selector,
    originMs: forecast.originMs,
    horizonHours: forecast.horizonHours,
    endMs: forecast.originMs + forecast.horizonHours * 3_600_000,
    capacityGpus,
    targetAllocationRatio,
    model: { id: forecast.model.id, label: forecast.model.label, naive: forecast.choice.naive, reason: forecast.choice.reason },
    exceeds: { p50: exceedance(q, 0.5, capacityGpus, forecast.originMs), p90: exceedance(q, 0.9, capacityGpus, forecast.originMs) },
    peak: { p50Gpus: peakP50, p90Gpus: peakP90, p90AtMs: forecast.originMs + peakAt * 3_600_000 },
    buy: {
      ...buy,
      why: buy.gpus === 0
        ? `P90 demand peaks at ${round(peakP90)} GPUs, within ${target} of ${round(capacityGpus)}`
        : `P90 demand peaks at ${round(peakP90)} GPUs; at ${target} allocation that needs ${buy.capacityNeededGpus} GPUs of capacity`,
    },
    burst: {
      prices,
      p50: burstScenario(q, 0.5, capacityGpus, prices),
      p90: burstScenario(q, 0.9, capacityGpus, prices),
      aboveTarget: { thresholdGpus: targetGpus, p50: burstScenario(q, 0.5, targetGpus, prices), p90: burstScenario(q, 0.9, targetGpus, prices) },
    },
    months: monthlyTrend(history, input.util, forecast, capacityGpus),
    notes,
  }
}

const round = (x: number) => Math.round(x * 10) / 10
