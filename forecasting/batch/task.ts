/**
 * One series of a forecast batch, as a worker thread (or the calling thread)
 * runs it: the backtest report and the forecast, reusing the report's
 * backtest (backtestAndForecast). A series the forecaster refuses (too short,
 * a gap) becomes an answer with the reason, not a failed batch; any other
 * error is a bug and fails the batch.
 */
import { InputError } from '../../core/errors'
import { backtestAndForecast, type HorizonOutcome } from '../backtestReport'
import type { ForecastOptions, SeriesForecast } from '../forecast'
import type { HourlySeries } from '../series'

/** What a worker is handed per series. */
export interface SeriesTask {
  label: string
  series: HourlySeries
  opts: ForecastOptions
}

/** The forecast of a batch answer: the backtest it chose from is among `outcomes`, so its residuals are not sent back. */
export type BatchForecast = Omit<SeriesForecast, 'backtest'>

/** One series' answer. */
export interface SeriesAnswer {
  label: string
  hours: number
  outcomes?: HorizonOutcome[]
  forecast?: BatchForecast
  /** Why the series was not forecast (the forecaster's InputError message). */
  error?: string
}

/** Runs one series; InputError becomes `error`. */
export function runSeriesTask(task: SeriesTask): SeriesAnswer {
  const hours = task.series.values.length
  try {
    const { outcomes, forecast } = backtestAndForecast(task.series, task.opts)
    const { backtest: _backtest, ...rest } = forecast
    return { label: task.label, hours, outcomes, forecast: rest }
  } catch (err) {
    if (err instanceof InputError) return { label: task.label, hours, error: err.message }
    throw err
  }
}
