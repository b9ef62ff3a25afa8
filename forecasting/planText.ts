/**
 * The capacity plan in words and tables, for the CLI and the report's
 * Markdown: the same sentences everywhere.
 */
import { formatTable } from './backtestReport'
import type { CapacityPlan } from './plan'
import { formatHours } from './series'

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)
const gpus = (x: number | null) => (x === null ? '-' : (Math.round(x * 10) / 10).toLocaleString('en-US'))
const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`)
const usd = (x: number) => `$${Math.round(x).toLocaleString('en-US')}`

/** Burst GPU-hours and cost at P50 and P90, in words. */
function scenarios(b: Pick<CapacityPlan['burst'], 'p50' | 'p90'>): string {
  return `${gpus(b.p50.gpuHours)} GPU-hours at P50 (${usd(b.p50.spotCostUsd)} spot, ${usd(b.p50.onDemandCostUsd)} on-demand), ` +
    `${gpus(b.p90.gpuHours)} at P90 (${usd(b.p90.spotCostUsd)} spot, ${usd(b.p90.onDemandCostUsd)} on-demand)`
}

/** One sentence per decision of the plan, in the order a GPU manager reads them. */
export function planSentences(plan: CapacityPlan): string[] {
  const when = (e: CapacityPlan['exceeds']['p50'], name: string) =>
    e.firstMs === null
      ? `${name} demand stays within capacity until ${day(plan.endMs)}.`
      : `${name} demand first exceeds capacity on ${day(e.firstMs)} (${gpus(e.demandGpus)} GPUs; ${e.hoursAbove} h above capacity in the horizon).`
  const b = plan.burst
  return [
    `Capacity plan for ${plan.series}, ${day(plan.originMs)} to ${day(plan.endMs)} (${formatHours(plan.horizonHours)}), against today's ${gpus(plan.capacityGpus)} GPUs.`,
    `Model: ${plan.model.label}; ${plan.model.reason}.`,
    when(plan.exceeds.p50, 'P50'),
    when(plan.exceeds.p90, 'P90'),
    plan.buy.gpus === 0
      ? `Buy: no GPUs needed to keep P90 demand at or under ${pct(plan.targetAllocationRatio)} allocation (${plan.buy.why}).`
      : `Buy: ${plan.buy.gpus} GPUs to keep P90 demand at or under ${pct(plan.targetAllocationRatio)} allocation (${plan.buy.why}).`,
    // Bursting like for like is an alternative only when there is something to buy (then it keeps the same target).
    ...(plan.buy.gpus === 0 ? [] : [`Or burst instead of buying, like for like (all demand above ${pct(plan.targetAllocationRatio)} of capacity, ${gpus(b.aboveTarget.thresholdGpus)} GPUs): ${scenarios(b.aboveTarget)}.`]),
    `Burst policy (it bursts only when on-prem GPUs are fully allocated), with nothing bought: demand above capacity, ${scenarios(b)}.`,
    `Burst prices: spot $${b.prices.spot.usdPerGpuHour.toFixed(2)}/GPU-h from ${b.prices.spot.source}; on-demand $${b.prices.onDemand.usdPerGpuHour.toFixed(2)}/GPU-h from ${b.prices.onDemand.source}.`,
  ]
}

/** The monthly trend as a table (ratios in percent). */
export function planMonthsTable(plan: CapacityPlan): { columns: string[]; rows: Array<Record<string, string | number | null>> } {
  const columns = ['month', 'measuredH', 'forecastH', 'capacity', 'allocated', 'demand', 'p50Demand', 'p90Demand', 'allocation', 'p50/capacity', 'utilization']
  const rows = plan.months.map((m) => ({
    month: m.month, measuredH: m.actualHours, forecastH: m.forecastHours, capacity: gpus(m.capacityGpus), allocated: gpus(m.allocatedGpus), demand: gpus(m.demandGpus),
    p50Demand: gpus(m.p50DemandGpus), p90Demand: gpus(m.p90DemandGpus), allocation: pct(m.allocationRatio), 'p50/capacity': pct(m.forecastDemandRatio),
    utilization: m.utilRatio === null ? 'unknown' : `${pct(m.utilRatio)} (${m.utilMetric})`,
  }))
  return { columns, rows }
}

/** The plan as printed by `gpuscope forecast plan`. */
export function planLines(plan: CapacityPlan): string[] {
  return [...planSentences(plan), '', formatTable(planMonthsTable(plan)), '', ...plan.notes.map((n) => `note: ${n}`)]
}

