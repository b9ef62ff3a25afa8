/**
 * The capacity plan (pure): from a series' history, its demand forecast and
 * the capacity of its last measured hour, when P50 and P90 demand first
 * exceed capacity, how many GPUs to buy so P90 demand stays at or under the
 * target allocation ratio, what bursting the excess to the cloud would cost
 * instead, and the month-by-month trend.
 *
 * Assumptions, stated in every plan: capacity stays what it was in the last
 * measured hour for the whole horizon (nothing bought or retired); the GPUs
 * to buy cover the highest hourly P90 of the horizon; burst GPU-hours are
 * demand above a threshold, hour by hour, priced per GPU-hour (at P90 an
 * upper bound: every hour at its own P90). Two thresholds, because they
 * answer two questions: above capacity (`burst.p50`, `burst.p90`) is what the
 * burst controller would burst, as it bursts only when on-prem GPUs are fully
 * allocated (capped at the policy's capacity when known); above target ×
 * capacity (`burst.aboveTarget`) is the like-for-like alternative to buying,
 * which keeps P90 allocation at or under the target.
 *
 * Past the longest backtested horizon the intervals are an assumption
 * (forecasting/intervals.ts widens them by √(h/H)), so a P90 there grows with
 * the horizon even when P50 is flat: the plan says which of its figures rest
 * on those hours, gives the P50 trend beside them, and the buy figure within
 * the backtest.
 */
import type { DemandSeries } from './demand'
import type { SeriesForecast } from './forecast'
import { probIndex } from './intervals'
import { DAY_HOURS, formatHours, HOUR_MS, WEEK_HOURS } from './series'
import { monthlyTrend, type MonthTrend, type UtilHour } from './trend'

/** Where a burst price came from: the burst policy's own target, the prices table, or the config's placeholder. */
export type BurstPriceOrigin = 'burst-policy' | 'prices-table' | 'config-fallback'

/** One burst price and where it came from. */
export interface BurstPrice {
  usdPerGpuHour: number
  /** `burst policy alerts.burst.pools[c/p] target 'aws-spot' (aws spot)`, `prices table: aws us-east-1 p4d.24xlarge spot` or `config fallback (forecast.burst.fallback...)`. */
  source: string
  from: BurstPriceOrigin
}

/** Spot and on-demand prices for bursting. */
export interface BurstPrices {
  spot: BurstPrice
  onDemand: BurstPrice
  /** True when either price came from the config fallback (a placeholder: no policy target and no cloud row in the prices table). */
  fallback: boolean
  /** Providers whose prices are never burst prices: on-prem ('' and 'onprem', and each cluster's collector.kubernetes defaultProvider). */
  onPremProviders: string[]
}

/** When a demand quantile first goes above capacity. */
export interface Exceedance {
  /** Epoch ms of the first hour above capacity; null when it never is within the horizon. */
  firstMs: number | null
  /** Demand in that hour. */
  demandGpus: number | null
  /** Hours above capacity within the horizon. */
  hoursAbove: number
  /** True when the first hour above capacity lies past the longest backtested horizon (intervals there are widened by an assumption). */
  extrapolated: boolean
  /** Hours above capacity within the longest backtested horizon. */
  hoursAboveWithinBacktest: number
}

/** Bursting the demand above a threshold to the cloud, for one demand quantile. */
export interface BurstScenario {
  /** Summed hour by hour; at P90 that is every hour at its own P90 at once, an upper bound. */
  gpuHours: number
  spotCostUsd: number
  onDemandCostUsd: number
  /** The part of gpuHours from hours past the longest backtested horizon. */
  extrapolatedGpuHours: number
}

/** The capacity plan of one series. */
export interface CapacityPlan {
  series: string
  originMs: number
  horizonHours: number
  endMs: number
  /** Capacity of the last measured hour, held flat over the horizon. */
  capacityGpus: number
  /** Start of the hour capacityGpus was measured in. */
  capacityAtMs: number
  /** True when the plan starts within a day of when it was made, so its capacity is today's (false for a past quarter's plan, or when unknown). */
  startsNow: boolean
  /** When the burst prices were read (they are those in effect then); null when not given. */
  pricesAtMs: number | null
  targetAllocationRatio: number
  model: { id: string; label: string; naive: boolean; reason: string }
  /**
   * The longest backtested horizon, and the first hour past it (null when the
   * horizon is within it): from there on, quantiles other than P50 come from
   * the longest backtest's residuals widened by √(h/H), an assumption.
   */
  intervals: { backtestHorizonHours: number; widenedFromMs: number | null }
  exceeds: { p50: Exceedance; p90: Exceedance }
  peak: { p50Gpus: number; p90Gpus: number; p90AtMs: number }
  /** Mean P50 demand over the first and the last `windowHours` of the horizon (a week, or the whole horizon when shorter), and as ratios of capacity. */
  p50Trend: { windowHours: number; firstGpus: number; lastGpus: number; firstRatio: number; lastRatio: number }
  /**
   * GPUs to buy for the highest hourly P90 of the horizon. `extrapolated`: that
   * hour lies past the longest backtest. `withinBacktest`: the same figure
   * from the hours within the longest backtest only.
   */
  buy: {
    gpus: number
    capacityNeededGpus: number
    why: string
    extrapolated: boolean
    withinBacktest: { gpus: number; capacityNeededGpus: number; peakP90Gpus: number; throughMs: number }
  }
  /**
   * p50, p90: demand above capacity, what the burst policy would burst (it
   * bursts only when on-prem GPUs are fully allocated), capped at the policy's
   * capacity when known (`policyCap`). aboveTarget: demand above target ×
   * capacity (`thresholdGpus`), what bursting instead of buying would take to
   * keep on-prem allocation at or under the target, as buying does.
   */
  burst: {
    prices: BurstPrices
    p50: BurstScenario
    p90: BurstScenario
    /** The GPUs the covering burst policies can add (Σ min(maxBurstGpus, Σ maxNodes × gpusPerNode)); null = not capped, and why. */
    policyCap: { gpus: number | null; why: string; uncapped: { p50: BurstScenario; p90: BurstScenario } }
    aboveTarget: { thresholdGpus: number; p50: BurstScenario; p90: BurstScenario }
  }
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

/** One cloud target of a burst policy (config alerts.burst.pools[].targets), as far as pricing and capping go. */
export interface BurstPolicyTarget {
  name: string
  provider: string
  lifecycle: 'spot' | 'on-demand'
  usdPerGpuHour: number
  gpusPerNode: number
  maxNodes: number
}

/** One on-prem pool's burst policy (config alerts.burst.pools[]). */
export interface BurstPolicy {
  cluster: string
  pool: string
  maxBurstGpus: number
  /** In the policy's order: the first with room is used. */
  targets: readonly BurstPolicyTarget[]
}

/** What the price choice knows besides the prices table: which providers are on-prem, and the burst policies covering the series. */
export interface BurstSources {
  onPremProviders: readonly string[]
  policies: readonly BurstPolicy[]
}

/** Providers that are always on-prem: none ('' from nodes without one) and 'onprem' (core/chargeback.ts isCloudProvider). */
export const ON_PREM_PROVIDERS: readonly string[] = ['', 'onprem']

/**
 * Spot and on-demand burst prices: per lifecycle, the first target of that
 * lifecycle in the covering burst policies (what the controller would use),
 * else the cheapest price per GPU-hour in the prices table from a cloud
 * provider (on-prem rows are never burst prices: an on-prem rate is not what
 * bursting costs), else the config fallback, a placeholder.
 */
export function pickBurstPrices(rows: readonly PriceRow[], settings: BurstSettings, sources: Partial<BurstSources> = {}): BurstPrices {
  const onPremProviders = [...new Set([...ON_PREM_PROVIDERS, ...(sources.onPremProviders ?? [])])]
  const cloud = rows.filter((r) => !onPremProviders.includes(r.provider))
  const pick = (lifecycle: 'spot' | 'on-demand', fallback: number, key: string): BurstPrice => {
    for (const p of sources.policies ?? []) {
      const t = p.targets.find((x) => x.lifecycle === lifecycle)
      if (t) return { usdPerGpuHour: t.usdPerGpuHour, source: `burst policy alerts.burst.pools[${p.cluster}/${p.pool}] target '${t.name}' (${t.provider} ${lifecycle})`, from: 'burst-policy' }
    }
    const r = cloud.filter((x) => x.lifecycle === lifecycle).sort((a, b) => a.usdPerGpuHour - b.usdPerGpuHour)[0]
    if (r) return { usdPerGpuHour: r.usdPerGpuHour, source: `prices table: ${[r.provider, r.region, r.instanceType].filter(Boolean).join(' ')} ${r.lifecycle}`, from: 'prices-table' }
    return { usdPerGpuHour: fallback, source: `config fallback (forecast.burst.${key})`, from: 'config-fallback' }
  }
  const spot = pick('spot', settings.fallbackSpotUsdPerGpuHour, 'fallbackSpotUsdPerGpuHour')
  const onDemand = pick('on-demand', settings.fallbackOnDemandUsdPerGpuHour, 'fallbackOnDemandUsdPerGpuHour')
  return { spot, onDemand, fallback: spot.from === 'config-fallback' || onDemand.from === 'config-fallback', onPremProviders }
}

/**
 * The GPUs the burst policies can add at most: per policy, its maxBurstGpus or
 * its targets' maxNodes × gpusPerNode, whichever is smaller, summed; null
 * (not capped) when no policy is given or none covers the series.
 */
export function burstCap(policies: readonly BurstPolicy[] | undefined, series: string): { gpus: number | null; why: string } {
  if (policies === undefined) return { gpus: null, why: 'not capped: the plan was not given the burst policies, alerts.burst.pools' }
  if (policies.length === 0) return { gpus: null, why: `not capped: no burst policy in alerts.burst.pools covers ${series}` }
  const each = policies.map((p) => Math.min(p.maxBurstGpus, p.targets.reduce((n, t) => n + t.maxNodes * t.gpusPerNode, 0)))
  const gpus = each.reduce((a, b) => a + b, 0)
  const names = policies.map((p, i) => `${p.cluster}/${p.pool} ${round(each[i]!)}`).join(', ')
  return { gpus, why: `capped at ${round(gpus)} GPUs, what the burst policies covering ${series} can add (maxBurstGpus or targets' maxNodes × gpusPerNode, the smaller: ${names})` }
}

/**
 * Text of a plan warning: a burst price that is the config's placeholder
 * (API and CLI warnings; the report's warning box).
 */
export function planWarnings(plan: Pick<CapacityPlan, 'burst'>): string[] {
  const p = plan.burst.prices
  const placeholder = [['spot', p.spot], ['on-demand', p.onDemand]].filter(([, x]) => (x as BurstPrice).from === 'config-fallback') as Array<[string, BurstPrice]>
  if (placeholder.length === 0) return []
  const which = placeholder.map(([name, x]) => `${name} $${x.usdPerGpuHour.toFixed(2)}/GPU-h from ${x.source}`).join(', ')
  return [`burst costs use placeholder prices (${which}): no burst policy target and no cloud price in the prices table for ${placeholder.map(([n]) => n).join(' or ')}; set forecast.burst.fallback*, or collect cloud prices`]
}

/** What the plan is made from. */
export interface PlanInput {
  history: DemandSeries
  forecast: SeriesForecast
  util: readonly UtilHour[]
  prices: BurstPrices
  targetAllocationRatio: number
  /** When the plan is made (the burst prices are those in effect then); without it the plan does not call its capacity today's. */
  nowMs?: number
  /** The burst policies covering the series, for the cap on what the policy would burst; undefined = not read. */
  policies?: readonly BurstPolicy[]
}

/**
 * The first hour a quantile of demand is above capacity, and how many hours
 * are; hours from index `backtestHours` on lie past the longest backtest.
 */
export function exceedance(quantiles: readonly number[][], p: number, capacityGpus: number, originMs: number, backtestHours = Number.POSITIVE_INFINITY): Exceedance {
  const i = probIndex(p)
  let first = -1
  let hoursAbove = 0
  let within = 0
  quantiles.forEach((q, h) => {
    if (q[i]! > capacityGpus) {
      hoursAbove++
      if (h < backtestHours) within++
      if (first < 0) first = h
    }
  })
  return first < 0
    ? { firstMs: null, demandGpus: null, hoursAbove, extrapolated: false, hoursAboveWithinBacktest: 0 }
    : { firstMs: originMs + first * HOUR_MS, demandGpus: quantiles[first]![i]!, hoursAbove, extrapolated: first >= backtestHours, hoursAboveWithinBacktest: within }
}

/** GPUs to add so that peak P90 demand is at most target × capacity (0 when it already is). */
export function gpusToBuy(peakP90Gpus: number, capacityGpus: number, targetRatio: number): { gpus: number; capacityNeededGpus: number } {
  const capacityNeededGpus = Math.ceil(peakP90Gpus / targetRatio - 1e-9)
  return { gpus: Math.max(0, capacityNeededGpus - capacityGpus), capacityNeededGpus }
}

/**
 * GPU-hours of demand above a threshold (capacity, or target × capacity; one
 * hour per quantile row), each hour's at most `capGpus`, and their cost at
 * both prices. Summed over hours at one quantile: at P90, every hour at its
 * own P90 at once, an upper bound on a P90 outcome of the whole horizon.
 */
export function burstScenario(
  quantiles: readonly number[][], p: number, thresholdGpus: number, prices: BurstPrices,
  opts: { capGpus?: number | null; backtestHours?: number } = {},
): BurstScenario {
  const i = probIndex(p)
  const cap = opts.capGpus ?? Number.POSITIVE_INFINITY
  const backtestHours = opts.backtestHours ?? Number.POSITIVE_INFINITY
  let gpuHours = 0
  let extrapolatedGpuHours = 0
  quantiles.forEach((q, h) => {
    const x = Math.min(cap, Math.max(0, q[i]! - thresholdGpus))
    gpuHours += x
    if (h >= backtestHours) extrapolatedGpuHours += x
  })
  return { gpuHours, spotCostUsd: gpuHours * prices.spot.usdPerGpuHour, onDemandCostUsd: gpuHours * prices.onDemand.usdPerGpuHour, extrapolatedGpuHours }
}

/** The hour of the highest value of column `col` among the first `n` rows (0 when there are none). */
function peakHour(q: readonly number[][], col: number, n = q.length): number {
  let at = 0
  for (let h = 1; h < Math.min(n, q.length); h++) if (q[h]![col]! > q[at]![col]!) at = h
  return at
}

/** Mean P50 over the first and the last week of the horizon (the whole horizon when shorter). */
function p50Trend(q: readonly number[][], capacityGpus: number): CapacityPlan['p50Trend'] {
  const col = probIndex(0.5)
  const windowHours = Math.min(WEEK_HOURS, q.length)
  const mean = (rows: readonly number[][]) => (rows.length === 0 ? 0 : rows.reduce((s, r) => s + r[col]!, 0) / rows.length)
  const firstGpus = mean(q.slice(0, windowHours))
  const lastGpus = mean(q.slice(q.length - windowHours))
  const ratio = (x: number) => (capacityGpus > 0 ? x / capacityGpus : 0)
  return { windowHours, firstGpus, lastGpus, firstRatio: ratio(firstGpus), lastRatio: ratio(lastGpus) }
}

/** GPUs to buy over the whole horizon, and over the hours within the longest backtest only. */
function buyOf(q: readonly number[][], capacityGpus: number, target: number, originMs: number, backtestHours: number): CapacityPlan['buy'] & { peakAt: number } {
  const p90 = probIndex(0.9)
  const peakAt = peakHour(q, p90)
  const peakP90 = q[peakAt]?.[p90] ?? 0
  const buy = gpusToBuy(peakP90, capacityGpus, target)
  const withinHours = Math.min(backtestHours, q.length)
  const innerAt = peakHour(q, p90, withinHours)
  const innerPeak = q[innerAt]?.[p90] ?? 0
  const pctText = `${(target * 100).toFixed(0)}%`
  return {
    ...buy,
    peakAt,
    why: buy.gpus === 0
      ? `P90 demand peaks at ${round(peakP90)} GPUs, within ${pctText} of ${round(capacityGpus)}`
      : `P90 demand peaks at ${round(peakP90)} GPUs; at ${pctText} allocation that needs ${buy.capacityNeededGpus} GPUs of capacity`,
    extrapolated: peakAt >= backtestHours,
    withinBacktest: { ...gpusToBuy(innerPeak, capacityGpus, target), peakP90Gpus: innerPeak, throughMs: originMs + withinHours * HOUR_MS },
  }
}

/** Builds the plan; capacity is the last hour's, held flat over the horizon. */
export function capacityPlan(input: PlanInput): CapacityPlan {
  const { history, forecast, prices, targetAllocationRatio } = input
  const capacityGpus = history.capacity?.[history.capacity.length - 1]
  if (capacityGpus === undefined) throw new Error(`capacityPlan: series '${history.selector}' has no capacity (a team series cannot be planned)`)
  const q = forecast.quantiles
  const H = forecast.backtest.horizonHours
  const widenedFromMs = forecast.horizonHours > H ? forecast.originMs + H * HOUR_MS : null
  const p50 = probIndex(0.5)
  const { peakAt, ...buy } = buyOf(q, capacityGpus, targetAllocationRatio, forecast.originMs, H)
  const peakP90 = q[peakAt]?.[probIndex(0.9)] ?? 0
  const targetGpus = targetAllocationRatio * capacityGpus
  const cap = burstCap(input.policies, history.selector)
  const scenario = (p: number, threshold: number, capGpus: number | null = null) => burstScenario(q, p, threshold, prices, { capGpus, backtestHours: H })
  const startsNow = input.nowMs !== undefined && input.nowMs - forecast.originMs < DAY_HOURS * HOUR_MS
  const plan: CapacityPlan = {
    series: history.selector,
    originMs: forecast.originMs,
    horizonHours: forecast.horizonHours,
    endMs: forecast.originMs + forecast.horizonHours * HOUR_MS,
    capacityGpus,
    capacityAtMs: history.startMs + (history.capacity!.length - 1) * HOUR_MS,
    startsNow,
    pricesAtMs: input.nowMs ?? null,
    targetAllocationRatio,
    model: { id: forecast.model.id, label: forecast.model.label, naive: forecast.choice.naive, reason: forecast.choice.reason },
    intervals: { backtestHorizonHours: H, widenedFromMs },
    exceeds: { p50: exceedance(q, 0.5, capacityGpus, forecast.originMs, H), p90: exceedance(q, 0.9, capacityGpus, forecast.originMs, H) },
    peak: { p50Gpus: Math.max(0, ...q.map((row) => row[p50]!)), p90Gpus: peakP90, p90AtMs: forecast.originMs + peakAt * HOUR_MS },
    p50Trend: p50Trend(q, capacityGpus),
    buy,
    burst: {
      prices,
      p50: scenario(0.5, capacityGpus, cap.gpus),
      p90: scenario(0.9, capacityGpus, cap.gpus),
      policyCap: { ...cap, uncapped: { p50: scenario(0.5, capacityGpus), p90: scenario(0.9, capacityGpus) } },
      aboveTarget: { thresholdGpus: targetGpus, p50: scenario(0.5, targetGpus), p90: scenario(0.9, targetGpus) },
    },
    months: monthlyTrend(history, input.util, forecast, capacityGpus),
    notes: [],
  }
  plan.notes = planNotes(plan, forecast.notes)
  return plan
}

/** The assumptions and caveats every plan states. */
function planNotes(plan: CapacityPlan, forecastNotes: readonly string[]): string[] {
  const target = `${(plan.targetAllocationRatio * 100).toFixed(0)}%`
  const H = plan.intervals.backtestHorizonHours
  const { prices } = plan.burst
  const at = new Date(plan.capacityAtMs).toISOString().slice(0, 16)
  return [
    `capacity is held at ${plan.startsNow ? "today's" : 'the'} ${round(plan.capacityGpus)} GPUs (measured in the hour from ${at}Z) for the whole horizon`,
    `GPUs to buy cover the highest hourly P90 demand (${round(plan.peak.p90Gpus)} GPUs) at ${target} allocation`,
    ...(plan.intervals.widenedFromMs === null ? [] : [
      `from ${new Date(plan.intervals.widenedFromMs).toISOString().slice(0, 10)} on (past the longest backtest, ${formatHours(H)}) P90 and the other quantiles but P50 are the ${formatHours(H)} backtest's residuals widened by √(h/${H}), an assumption: ` +
        `a buy figure or a P90 date set by those hours reflects the widening, not demand (see p50Trend); within the backtest the buy figure is ${plan.buy.withinBacktest.gpus} GPUs`,
    ]),
    `burst GPU-hours add up each hour's excess at one quantile: at P90 that is every hour at its own P90 at once, an upper bound, not a P90 of the total`,
    `burst above capacity is what the burst controller would burst (only when on-prem GPUs are fully allocated), ${plan.burst.policyCap.why}; burst above ${target} of capacity (${round(plan.burst.aboveTarget.thresholdGpus)} GPUs) is the like-for-like alternative to buying`,
    `on-prem prices (providers ${prices.onPremProviders.map((p) => `'${p}'`).join(', ')}) are never burst prices`,
    ...(prices.fallback ? [`no burst policy target or cloud price covers a lifecycle: burst cost uses spot ${prices.spot.source}, on-demand ${prices.onDemand.source} (placeholders)`] : []),
    ...(plan.pricesAtMs !== null && !plan.startsNow ? [`burst prices are those in effect at ${new Date(plan.pricesAtMs).toISOString().slice(0, 10)}, when the plan was made, not at its start`] : []),
    ...forecastNotes,
  ]
}

const round = (x: number) => Math.round(x * 10) / 10
