/**
 * The capacity plan in words and tables, for the CLI and the report's
 * Markdown: the same sentences everywhere.
 */
import { formatTable, type PlainTable } from './backtestReport'
import type { SeriesForecast } from './forecast'
import type { CapacityPlan, Exceedance } from './plan'
import { formatHours, HOUR_MS } from './series'

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)
const gpus = (x: number | null) => (x === null ? '-' : (Math.round(x * 10) / 10).toLocaleString('en-US'))
const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`)
const usd = (x: number) => `$${Math.round(x).toLocaleString('en-US')}`

/** Burst GPU-hours and cost at P50 and P90, in words; the P90 figure is said to be an upper bound. */
function scenarios(b: Pick<CapacityPlan['burst'], 'p50' | 'p90'>): string {
  return `${gpus(b.p50.gpuHours)} GPU-hours at P50 (${usd(b.p50.spotCostUsd)} spot, ${usd(b.p50.onDemandCostUsd)} on-demand), ` +
    `at most ${gpus(b.p90.gpuHours)} at P90 (${usd(b.p90.spotCostUsd)} spot, ${usd(b.p90.onDemandCostUsd)} on-demand; every hour at its own P90 at once, an upper bound)`
}

/** "today's 856 GPUs" when the plan starts now, else "the 856 GPUs at 2026-07-01" (a past quarter's plan). */
export function capacityText(plan: Pick<CapacityPlan, 'capacityGpus' | 'originMs' | 'startsNow'>, startsNow = plan.startsNow): string {
  return startsNow ? `today's ${gpus(plan.capacityGpus)} GPUs` : `the ${gpus(plan.capacityGpus)} GPUs at ${day(plan.originMs)}`
}

/** The longest backtest in words: "the longest backtest (7 d)". */
export const backtestText = (plan: Pick<CapacityPlan, 'intervals'>): string => `the longest backtest (${formatHours(plan.intervals.backtestHorizonHours)})`

/** The P50 trend in words: mean P50 over the first and the last week (or the whole horizon), with its share of capacity. */
export function p50TrendText(plan: Pick<CapacityPlan, 'p50Trend' | 'horizonHours'>): string {
  const t = plan.p50Trend
  if (t.windowHours >= plan.horizonHours) return `P50 demand averages ${gpus(t.firstGpus)} GPUs (${pct(t.firstRatio)} of capacity) over the horizon`
  const w = formatHours(t.windowHours)
  return `P50 demand averages ${gpus(t.firstGpus)} GPUs (${pct(t.firstRatio)} of capacity) over the first ${w} and ${gpus(t.lastGpus)} GPUs (${pct(t.lastRatio)}) over the last ${w}`
}

/** The caveat of a P90 date past the longest backtest, with what P90 does within it. */
function exceedCaveat(plan: CapacityPlan, e: Exceedance): string {
  if (!e.extrapolated) return ''
  const within = e.hoursAboveWithinBacktest > 0 ? `is above capacity for ${e.hoursAboveWithinBacktest} h` : 'stays within capacity'
  return ` That date is past ${backtestText(plan)}: the intervals there are widened by an assumption (√(h/${plan.intervals.backtestHorizonHours})), not measured; within the backtest, P90 ${within}.`
}

/** The caveat of a buy figure set by an hour past the longest backtest, with the figure within it. */
function buyCaveat(plan: CapacityPlan): string {
  if (plan.buy.gpus === 0 || !plan.buy.extrapolated) return ''
  const w = plan.buy.withinBacktest
  return ` This figure is set by the P90 of ${day(plan.peak.p90AtMs)}, past ${backtestText(plan)}, where intervals are widened by an assumption, not measured; ` +
    `within the backtest (to ${day(w.throughMs)}) P90 peaks at ${gpus(w.peakP90Gpus)} GPUs and the figure is ${w.gpus} GPUs.`
}

/** What the burst policy figure is capped at, in words. */
const capText = (plan: CapacityPlan) => `; ${plan.burst.policyCap.why}`

/** One sentence per decision of the plan, in the order a GPU manager reads them. */
export function planSentences(plan: CapacityPlan): string[] {
  const when = (e: Exceedance, name: string) =>
    e.firstMs === null
      ? `${name} demand stays within capacity until ${day(plan.endMs)}.`
      : `${name} demand first exceeds capacity on ${day(e.firstMs)} (${gpus(e.demandGpus)} GPUs; ${e.hoursAbove} h above capacity in the horizon).`
  const b = plan.burst
  const pricesAt = plan.pricesAtMs !== null && !plan.startsNow ? ` (in effect at ${day(plan.pricesAtMs)}, when the plan was made)` : ''
  return [
    `Capacity plan for ${plan.series}, ${day(plan.originMs)} to ${day(plan.endMs)} (${formatHours(plan.horizonHours)}), against ${capacityText(plan)}.`,
    `Model: ${plan.model.label}; ${plan.model.reason}.`,
    when(plan.exceeds.p50, 'P50') + (plan.exceeds.p50.extrapolated ? ` That date is past ${backtestText(plan)}.` : ''),
    when(plan.exceeds.p90, 'P90') + exceedCaveat(plan, plan.exceeds.p90),
    `${p50TrendText(plan)}.`,
    (plan.buy.gpus === 0
      ? `Buy: no GPUs needed to keep P90 demand at or under ${pct(plan.targetAllocationRatio)} allocation (${plan.buy.why}).`
      : `Buy: ${plan.buy.gpus} GPUs to keep P90 demand at or under ${pct(plan.targetAllocationRatio)} allocation (${plan.buy.why}).`) + buyCaveat(plan),
    // Bursting like for like is an alternative only when there is something to buy (then it keeps the same target).
    ...(plan.buy.gpus === 0 ? [] : [`Or burst instead of buying, like for like (all demand above ${pct(plan.targetAllocationRatio)} of capacity, ${gpus(b.aboveTarget.thresholdGpus)} GPUs): ${scenarios(b.aboveTarget)}.`]),
    `Burst policy (it bursts only when on-prem GPUs are fully allocated), with nothing bought: demand above capacity, ${scenarios(b)}${capText(plan)}.`,
    `Burst prices${pricesAt}: spot $${b.prices.spot.usdPerGpuHour.toFixed(2)}/GPU-h from ${b.prices.spot.source}; on-demand $${b.prices.onDemand.usdPerGpuHour.toFixed(2)}/GPU-h from ${b.prices.onDemand.source}.`,
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

/** The forecast hour by hour, a column per quantile: the same table as GET /api/v1/forecast?format=csv and `forecast show --format csv`. */
export function forecastHourly(f: SeriesForecast): PlainTable {
  const names = f.quantileProbs.map((p) => `p${Math.round(p * 100)}Gpus`)
  return {
    columns: ['ts', 'pointGpus', ...names],
    rows: f.point.map((p, h) => ({ ts: new Date(f.originMs + h * HOUR_MS).toISOString(), pointGpus: p, ...Object.fromEntries(names.map((n, i) => [n, f.quantiles[h]![i]!])) })),
  }
}

/** The plan's monthly trend, unrounded: the same table as GET /api/v1/capacity-plan?format=csv and `forecast plan --format csv`. */
export function planMonthsCsv(plan: CapacityPlan): PlainTable {
  const columns = ['month', 'actualHours', 'forecastHours', 'capacityGpus', 'allocatedGpus', 'demandGpus', 'p50DemandGpus', 'p90DemandGpus', 'allocationRatio', 'forecastDemandRatio', 'utilRatio', 'utilMetric']
  return { columns, rows: plan.months.map((m) => ({ ...m })) }
}
