/**
 * What the CLI and the API share: read a series from the store (or a trace)
 * with the configured history, and run the forecasting pieces on it with the
 * configured candidates and backtest shape.
 */
import { loadAlibabaV2023 } from '../collector/replay/traces/alibaba'
import { loadHeliosVcs } from '../collector/replay/traces/helios'
import type { ForecastConfig } from '../config/forecast'
import type { Config } from '../config/schema'
import { InputError } from '../core/errors'
import type { QueryFn } from '../core/ports'
import { parseDuration, parseWindow } from '../core/windows'
import type { BacktestOptions } from './backtestReport'
import { burstPrices, utilizationHourly } from '../store/queries/demand'
import { demandSeries, loadDemand, parseSelector, toFilter, type DemandSeries } from './demand'
import { forecastSeries, MAX_HORIZON_HOURS, MAX_HORIZON_TEXT, type ForecastOptions, type SeriesForecast } from './forecast'
import { capacityPlan, ON_PREM_PROVIDERS, pickBurstPrices, planWarnings, type BurstPolicy, type BurstSources, type CapacityPlan } from './plan'
import { endOf, formatHours, HOUR_MS, type HourlySeries } from './series'
import { alibabaHourlyDemand, heliosHourlyDemand } from './traces'

const DAY_MS = 24 * HOUR_MS

/** Backtest options from config; `configModelIds` lets a caller's own model list (CLI --models) be told from the config's. */
export const backtestOptions = (cfg: ForecastConfig): BacktestOptions => ({ modelIds: cfg.models, configModelIds: cfg.models, origins: cfg.backtestOrigins, strideHours: cfg.originStrideHours })

/** Forecast options from config for a horizon in hours. */
export const forecastOptions = (cfg: ForecastConfig, horizonHours: number): ForecastOptions => ({ ...backtestOptions(cfg), horizonHours })

const HORIZON_FORMS = 'a horizon is a duration of whole hours (24h, 7d, 13w) or a quarter to forecast through the end of (2026-Q4)'

/**
 * Parses a horizon: a duration of whole hours (`24h`, `7d`, `13w`), or a UTC
 * quarter (`2026-Q4`) meaning "through the end of that quarter" from `originMs`.
 * InputError names what a horizon accepts, and the maximum (MAX_HORIZON_HOURS).
 */
export function parseHorizonHours(text: string, originMs: number): number {
  const trimmed = text.trim()
  const bad = (why: string, cause?: unknown) => new InputError(`bad horizon '${text}': ${why}`, { cause })
  let ms: number
  if (/^\d{4}-[Qq][1-4]$/.test(trimmed)) {
    ms = parseWindow(trimmed, originMs).toMs - originMs
    if (ms <= 0) throw bad(`the quarter ends before the forecast starts (${new Date(originMs).toISOString()})`)
  } else {
    try {
      ms = parseDuration(trimmed)
    } catch (err) {
      if (!(err instanceof InputError)) throw err
      throw bad(`${HORIZON_FORMS}, at most ${MAX_HORIZON_TEXT} ahead`, err)
    }
  }
  if (ms % HOUR_MS !== 0) throw bad('expected whole hours, like 24h, 7d or 13w')
  const hours = ms / HOUR_MS
  if (hours > MAX_HORIZON_HOURS) throw bad(`${formatHours(hours)} ahead is more than the maximum, ${MAX_HORIZON_TEXT}`)
  return hours
}

/** Reads one series' demand and capacity for the configured history ending now. */
export function loadHistory(query: QueryFn, selector: string, cfg: ForecastConfig, nowMs: number): Promise<DemandSeries> {
  return loadDemand(query, selector, { fromMs: nowMs - cfg.historyDays * DAY_MS, toMs: nowMs }, nowMs)
}

/** The Helios VC sequences in a folder as one hourly demand series; `pool=<vc>` selects VCs, `fleet` takes all. */
export async function heliosSeries(dir: string, selector: string): Promise<HourlySeries> {
  const sel = parseSelector(selector)
  const other = Object.keys(sel).filter((k) => k !== 'pool')
  if (other.length > 0) throw new InputError(`a Helios trace series is 'fleet' or pool=<vc>; it has no ${other.join(', ')}`)
  const { minutes } = await loadHeliosVcs(dir)
  return heliosHourlyDemand(minutes, sel.pool)
}

/**
 * The Helios trace as a batch of series: the whole fleet, then each VC
 * (`pool=<vc>`); a VC whose hours are incomplete is returned with the reason
 * instead of a series.
 */
export async function heliosBatch(dir: string): Promise<Array<{ label: string; series?: HourlySeries; error?: string }>> {
  const { minutes } = await loadHeliosVcs(dir)
  const vcs = [...new Set(minutes.map((m) => m.vc))].sort()
  const one = (label: string, vc?: string) => {
    try {
      return { label, series: heliosHourlyDemand(minutes, vc === undefined ? undefined : [vc]) }
    } catch (err) {
      if (err instanceof InputError) return { label, error: err.message }
      throw err
    }
  }
  return [one('fleet'), ...vcs.map((vc) => one(`pool=${vc}`, vc))]
}

/** The Alibaba PAI v2023 trace in a folder as one hourly demand series (its only series: 'fleet'). */
export async function alibabaSeries(dir: string, selector: string): Promise<HourlySeries> {
  if (selector.trim() !== 'fleet') throw new InputError(`the Alibaba trace has one series, 'fleet' (its pods carry no cluster, pool or team), not '${selector}'`)
  const { pods } = await loadAlibabaV2023(dir)
  return alibabaHourlyDemand(pods)
}

/** The series as the forecasting shape, and when its forecast starts. */
export function historyOf(d: DemandSeries): { series: HourlySeries; originMs: number } {
  const series = demandSeries(d)
  return { series, originMs: endOf(series) }
}

/**
 * What the plan reads from outside config.forecast: the on-prem providers
 * ('onprem', and each Kubernetes cluster's defaultProvider for nodes without
 * a providerID) and every burst policy (alerts.burst.pools with their targets).
 */
export function burstSourcesOf(config: Pick<Config, 'alerts' | 'collector'>): BurstSources {
  return {
    onPremProviders: [...new Set([...ON_PREM_PROVIDERS, ...config.collector.kubernetes.clusters.map((c) => c.defaultProvider)])],
    policies: config.alerts.burst.pools.map((p) => ({
      cluster: p.cluster, pool: p.pool, maxBurstGpus: p.maxBurstGpus,
      targets: p.targets.map((t) => ({ name: t.name, provider: t.provider, lifecycle: t.lifecycle, usdPerGpuHour: t.usdPerGpuHour, gpusPerNode: t.gpusPerNode, maxNodes: t.maxNodes })),
    })),
  }
}

/** The burst policies whose on-prem pool lies in a series: cluster and pool keys must match when given (a GPU model key does not narrow them). */
export function coveringPolicies(policies: readonly BurstPolicy[], selector: string): BurstPolicy[] {
  const sel = parseSelector(selector)
  return policies.filter((p) => (!sel.cluster || sel.cluster.includes(p.cluster)) && (!sel.pool || sel.pool.includes(p.pool)))
}

/**
 * Plans capacity for a series (cluster, pool or GPU model; not a team) over a
 * horizon (a duration or a quarter; default config planHorizon). `sources`
 * (burstSourcesOf(config)) adds the configured on-prem providers and burst
 * policies; without it only '' and 'onprem' are on-prem and no policy is read.
 * Warnings: the history's, and placeholder burst prices (planWarnings).
 */
export async function buildPlan(
  query: QueryFn, selector: string, horizon: string | undefined, cfg: ForecastConfig, nowMs: number, sources?: BurstSources,
): Promise<{ plan: CapacityPlan; warnings: string[] }> {
  const sel = parseSelector(selector)
  if (sel.team) throw new InputError(`a capacity plan needs capacity, which belongs to nodes: plan a cluster, pool or GPU model, not team '${sel.team.join(',')}'`)
  const history = await loadHistory(query, selector, cfg, nowMs)
  const { series, originMs } = historyOf(history)
  const horizonHours = parseHorizonHours(horizon ?? cfg.planHorizon, originMs)
  const forecast = forecastSeries(series, forecastOptions(cfg, horizonHours))
  const { plan, warnings } = await planOf(query, { history, forecast, selector, fromMs: series.startMs, originMs }, cfg, nowMs, sources)
  return { plan, warnings: [...history.warnings, ...warnings] }
}

/**
 * The capacity plan for a series' forecast (the API, the CLI and the quarterly report): its
 * utilization history, burst prices (a covering burst policy's targets, then cloud prices, never
 * an on-prem rate, then the placeholders, which are a warning) and the plan.
 */
export async function planOf(
  query: QueryFn,
  at: { history: DemandSeries; forecast: SeriesForecast; selector: string; fromMs: number; originMs: number },
  cfg: ForecastConfig, nowMs: number, sources?: BurstSources,
): Promise<{ plan: CapacityPlan; warnings: string[] }> {
  const onPremProviders = sources?.onPremProviders ?? ON_PREM_PROVIDERS
  const policies = sources ? coveringPolicies(sources.policies, at.selector) : undefined
  const [util, priceRows] = await Promise.all([
    utilizationHourly(query, toFilter(parseSelector(at.selector)), { fromMs: at.fromMs, toMs: at.originMs, nowMs, stepMs: HOUR_MS }),
    burstPrices(query, cfg.burst, nowMs, onPremProviders),
  ])
  const prices = pickBurstPrices(priceRows, cfg.burst, { onPremProviders, ...(policies ? { policies } : {}) })
  const plan = capacityPlan({ history: at.history, forecast: at.forecast, util, prices, targetAllocationRatio: cfg.targetAllocationRatio, nowMs, ...(policies ? { policies } : {}) })
  return { plan, warnings: planWarnings(plan) }
}
