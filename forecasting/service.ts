/**
 * What the CLI and the API share: read a series from the store (or a trace)
 * with the configured history, and run the forecasting pieces on it with the
 * configured candidates and backtest shape.
 */
import { loadAlibabaV2023 } from '../collector/replay/traces/alibaba'
import { loadHeliosVcs } from '../collector/replay/traces/helios'
import type { ForecastConfig } from '../config/forecast'
import { InputError } from '../core/errors'
import type { QueryFn } from '../core/ports'
import { parseDuration, parseWindow } from '../core/windows'
import type { BacktestOptions } from './backtestReport'
import { burstPrices, utilizationHourly } from '../store/queries/demand'
import { demandSeries, loadDemand, parseSelector, toFilter, type DemandSeries } from './demand'
import { forecastSeries, MAX_HORIZON_HOURS, MAX_HORIZON_TEXT, type ForecastOptions } from './forecast'
import { capacityPlan, pickBurstPrices, type CapacityPlan } from './plan'
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

/** Plans capacity for a series (cluster, pool or GPU model; not a team) over a horizon (a duration or a quarter; default config planHorizon). */
export async function buildPlan(query: QueryFn, selector: string, horizon: string | undefined, cfg: ForecastConfig, nowMs: number): Promise<{ plan: CapacityPlan; warnings: string[] }> {
  const sel = parseSelector(selector)
  if (sel.team) throw new InputError(`a capacity plan needs capacity, which belongs to nodes: plan a cluster, pool or GPU model, not team '${sel.team.join(',')}'`)
  const history = await loadHistory(query, selector, cfg, nowMs)
  const { series, originMs } = historyOf(history)
  const horizonHours = parseHorizonHours(horizon ?? cfg.planHorizon, originMs)
  const forecast = forecastSeries(series, forecastOptions(cfg, horizonHours))
  const [util, priceRows] = await Promise.all([
    utilizationHourly(query, toFilter(sel), { fromMs: series.startMs, toMs: originMs, nowMs, stepMs: HOUR_MS }),
    burstPrices(query, cfg.burst, nowMs),
  ])
  const plan = capacityPlan({ history, forecast, util, prices: pickBurstPrices(priceRows, cfg.burst), targetAllocationRatio: cfg.targetAllocationRatio })
  return { plan, warnings: history.warnings }
}
