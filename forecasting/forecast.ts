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

/**
 * The longest horizon forecast: two years (730 d, 17,520 h). A GPU purchase
 * plan looks at most that far ahead (a budget cycle plus lead time), and it is
 * already about 8× the default 90 d of history (config forecast.historyDays),
 * so an hourly forecast past it would be extrapolation, not a forecast; the
 * cap also bounds what one request computes and answers (one row per hour).
 */
export const MAX_HORIZON_HOURS = 730 * DAY_HOURS

/** MAX_HORIZON_HOURS in words, for messages. */
export const MAX_HORIZON_TEXT = '730 d (2 years, 17520 h)'

/** How to forecast. */
export interface ForecastOptions {
  horizonHours: number
  modelIds: readonly ModelId[]
  origins: number
  strideHours: number
  /**
   * The config's candidate list (forecast.models) these options started from
   * (service.backtestOptions sets it). When `modelIds` is another list, the
   * caller named the models (the CLI's --models): a series too short for every
   * named model is then an InputError naming the minimum length, not a
   * baseline forecast with a note.
   */
  configModelIds?: readonly ModelId[]
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
  if (!Number.isInteger(opts.horizonHours) || opts.horizonHours < 1 || opts.horizonHours > MAX_HORIZON_HOURS) {
    throw new InputError(`bad horizon ${opts.horizonHours} h: expected a whole number of hours from 1 to ${MAX_HORIZON_HOURS}`)
  }
  requireFinite(series.values, 'demand series')
  const models = candidates(opts.modelIds)
  const named = namedModels(opts)
  const n = series.values.length
  const notes: string[] = []
  let bt: HorizonBacktest | undefined
  const tried = decisionHorizons(opts.horizonHours)
  for (const h of tried) {
    const spec = { horizonHours: h, origins: opts.origins, strideHours: opts.strideHours }
    const need = Math.max(backtestMinHours(spec, modelById(BASELINE_ID).minLength), namedMinHours(named, spec))
    if (n < need) {
      if (h !== tried[tried.length - 1]) notes.push(`no ${formatHours(h)} backtest: it needs ${formatHours(need)} of history${named.length > 0 ? ' for the named models' : ''}, the series has ${formatHours(n)}`)
      continue
    }
    const prior = done?.get(h)
    bt = prior && sameShape(prior, series, opts) ? prior : backtest(series, { ...spec, models, baselineId: BASELINE_ID })
    break
  }
  if (!bt) {
    // The shortest backtest does not fit either: throw the error that names the minimum length.
    const spec = { horizonHours: tried[tried.length - 1]!, origins: opts.origins, strideHours: opts.strideHours }
    if (n < namedMinHours(named, spec)) throw namedTooShort(named, spec, n)
    bt = backtest(series, { ...spec, models, baselineId: BASELINE_ID })
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

/**
 * The non-baseline models the caller named (options whose `modelIds` differ
 * from `configModelIds`); none when the candidates are the config's list, or
 * when the options do not say where they came from. Compared as sets, so the
 * answer survives a copy to a worker thread.
 */
export function namedModels(opts: Pick<ForecastOptions, 'modelIds' | 'configModelIds'>): ModelId[] {
  const config = opts.configModelIds
  if (!config) return []
  const given = new Set(opts.modelIds)
  const same = given.size === new Set(config).size && config.every((id) => given.has(id))
  return same ? [] : [...given].filter((id) => id !== BASELINE_ID)
}

type Shape = { horizonHours: number; origins: number; strideHours: number }

/** Fewest hourly values with which a backtest of this shape fits at least one of the named models (0 when none are named). */
export function namedMinHours(named: readonly ModelId[], spec: Shape): number {
  return named.length === 0 ? 0 : Math.min(...named.map((id) => backtestMinHours(spec, modelById(id).minLength)))
}

const hoursAndDays = (h: number) => `${h} h (${Number((h / DAY_HOURS).toFixed(1))} d)`

/** The InputError for a series too short for every named model: the minimum length, in hours and days, and what the series has. */
export function namedTooShort(named: readonly ModelId[], spec: Shape, length: number): InputError {
  const need = Math.max(namedMinHours(named, spec), backtestMinHours(spec, modelById(BASELINE_ID).minLength))
  const labels = named.map((id) => `${modelById(id).label} (${id})`).join(', ')
  return new InputError(
    `series too short for the model(s) named: ${labels}: a ${formatHours(spec.horizonHours)} backtest with ${spec.origins} origins ${spec.strideHours} h apart ` +
      `needs a series of at least ${hoursAndDays(need)} to fit ${named.length > 1 ? 'one of them' : 'it'}, and this one has ${hoursAndDays(length)}; ` +
      'give more history, or name models that need less (or none, to choose among the configured candidates)',
  )
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
