/**
 * Forecast one series: backtest the candidates, choose a model (or naive),
 * fit it on the whole series, and attach intervals from the chosen model's
 * backtest residuals. Pure: the series comes in, the forecast goes out.
 */
import { InputError } from '../core/errors'
import { backtest, backtestMinHours, clampForecast, pooledResidualQuantiles, type HorizonBacktest } from './backtest'
import { chooseModel, type Choice } from './choose'
import { demandQuantiles, QUANTILE_PROBS } from './intervals'
import { BASELINE_ID, candidates, modelById, type ModelId } from './models/index'
import { DAY_HOURS, endOf, formatHours, HOUR_MS, requireFinite, WEEK_HOURS, type HourlySeries } from './series'

/** The backtest horizons of the issue: 24 h, 7 d and 28 d. */
export const STANDARD_HORIZONS = [DAY_HOURS, WEEK_HOURS, 4 * WEEK_HOURS] as const

/** How to forecast. */
export interface ForecastOptions {
  horizonHours: number
  modelIds: readonly ModelId[]
  origins: number
  strideHours: number
}

/** A forecast of one series. */
export interface SeriesForecast {
  /** First forecast hour (the hour after the last observed one). */
  originMs: number
  horizonHours: number
  model: { id: string; label: string; params: Record<string, number> }
  choice: Choice
  /** The backtest the choice and the intervals came from. */
  backtest: HorizonBacktest
  quantileProbs: readonly number[]
  /** Point forecast per hour. */
  point: number[]
  /** quantiles[h][i] = demand quantile QUANTILE_PROBS[i] at hour h. */
  quantiles: number[][]
  /** Caveats: skipped backtest horizons, extrapolated intervals. */
  notes: string[]
}

/** The standard horizons to try for a requested horizon, longest first: those up to it, or the request itself when shorter than 24 h. */
export function decisionHorizons(horizonHours: number): number[] {
  const upTo = STANDARD_HORIZONS.filter((h) => h <= horizonHours)
  return (upTo.length > 0 ? upTo : [horizonHours]).sort((a, b) => b - a)
}

/**
 * Backtests at the longest standard horizon the data allows (up to the one
 * asked for), chooses the model, fits it on the whole series and forecasts.
 * Throws InputError naming the minimum length when no backtest fits.
 * `done` holds backtests of this series already run with these options
 * (models, origins, stride), by horizon: one found there is not run again.
 */
export function forecastSeries(series: HourlySeries, opts: ForecastOptions, done?: ReadonlyMap<number, HorizonBacktest>): SeriesForecast {
  if (!Number.isInteger(opts.horizonHours) || opts.horizonHours < 1) throw new InputError(`bad horizon ${opts.horizonHours} h: expected a whole number of hours >= 1`)
  requireFinite(series.values, 'demand series')
  const models = candidates(opts.modelIds)
  const notes: string[] = []
  let bt: HorizonBacktest | undefined
  const tried = decisionHorizons(opts.horizonHours)
  for (const h of tried) {
    const spec = { horizonHours: h, origins: opts.origins, strideHours: opts.strideHours }
    const need = backtestMinHours(spec, modelById(BASELINE_ID).minLength)
    if (series.values.length < need) {
      if (h !== tried[tried.length - 1]) notes.push(`no ${formatHours(h)} backtest: it needs ${formatHours(need)} of history, the series has ${formatHours(series.values.length)}`)
      continue
    }
    const prior = done?.get(h)
    bt = prior && sameShape(prior, series, opts) ? prior : backtest(series, { ...spec, models, baselineId: BASELINE_ID })
    break
  }
  if (!bt) {
    // The shortest backtest does not fit either: let it throw the error that names the minimum length.
    bt = backtest(series, { horizonHours: tried[tried.length - 1]!, origins: opts.origins, strideHours: opts.strideHours, models, baselineId: BASELINE_ID })
  }
  for (const s of bt.skipped) notes.push(`${s.label} not considered: ${s.reason}`)
  const choice = chooseModel(bt)
  const fitted = models.find((m) => m.id === choice.modelId)!.fit(series.values)
  const point = clampForecast(fitted.forecast(opts.horizonHours))
  const table = pooledResidualQuantiles(bt.residuals[choice.modelId] ?? [])
  if (opts.horizonHours > bt.horizonHours) {
    notes.push(`intervals past ${formatHours(bt.horizonHours)} (the longest backtest) are widened by √(h/${bt.horizonHours}): an assumption, not a measurement`)
  }
  return {
    originMs: endOf(series),
    horizonHours: opts.horizonHours,
    model: { id: choice.modelId, label: choice.label, params: fitted.params },
    choice,
    backtest: bt,
    quantileProbs: QUANTILE_PROBS,
    point,
    quantiles: demandQuantiles(point, table),
    notes,
  }
}

/** Whether a backtest was run on this series' end with these origins, stride and candidates (so it can stand in for running it). */
function sameShape(bt: HorizonBacktest, series: HourlySeries, opts: ForecastOptions): boolean {
  const origins = bt.originsMs
  const lastOriginMs = endOf(series) - bt.horizonHours * HOUR_MS
  if (origins.length !== opts.origins || origins[origins.length - 1] !== lastOriginMs) return false
  if (origins.some((o, k) => k > 0 && o - origins[k - 1]! !== opts.strideHours * HOUR_MS)) return false
  const ids = new Set([...bt.scores.map((s) => s.modelId), ...bt.skipped.map((s) => s.modelId)])
  return ids.size === opts.modelIds.length && opts.modelIds.every((id) => ids.has(id))
}

/** Epoch ms of forecast hour h (0-based). */
export const forecastHourMs = (f: SeriesForecast, h: number): number => f.originMs + h * HOUR_MS
