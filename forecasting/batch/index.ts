/**
 * Forecasts many series at once (`gpuscope forecast batch`): every series gets
 * the backtest report (24 h, 7 d, 28 d) and the forecast, spread over worker
 * threads. Each series is independent and CPU-bound (model fitting, backtest
 * scoring), so the pool's threads answer in parallel on as many cores; the
 * answers are the same as forecasting the series one by one in this thread
 * (tested), in the order of the inputs. Worker threads come from piscina.
 */
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import { InputError } from '../../core/errors'
import type { BacktestOptions } from '../backtestReport'
import type { HourlySeries } from '../series'
import { runSeriesTask, type SeriesAnswer, type SeriesTask } from './task'

export type { BatchForecast, SeriesAnswer } from './task'

/** One series to forecast, and how far ahead (a quarter's hours depend on where the series ends). */
export interface BatchInput {
  label: string
  series: HourlySeries
  horizonHours: number
}

/** How a batch runs. */
export interface BatchOptions {
  /** Worker threads (default: the cores this process may use, at most one per series); 1 runs in this thread. */
  workers?: number
  /** Called after each series' answer, in the order they finish. */
  onProgress?: (done: number, total: number, answer: SeriesAnswer) => void
}

/** Most worker threads a batch starts: more than the cores only adds memory. */
export const MAX_WORKERS = 64

/** Worker threads for `series` series when none are asked for: one per core, at most one per series. */
export const defaultWorkers = (series: number): number => Math.max(1, Math.min(series, availableParallelism()))

/** Forecasts every input; a series the forecaster refuses is an answer with `error`. */
export async function forecastBatch(inputs: readonly BatchInput[], opts: BacktestOptions, options: BatchOptions = {}): Promise<SeriesAnswer[]> {
  const workers = options.workers ?? defaultWorkers(inputs.length)
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) throw new InputError(`bad worker count ${workers}: expected a whole number from 1 to ${MAX_WORKERS}`)
  let done = 0
  const finished = (answer: SeriesAnswer): SeriesAnswer => {
    options.onProgress?.(++done, inputs.length, answer)
    return answer
  }
  const task = ({ label, series, horizonHours }: BatchInput): SeriesTask => ({ label, series, opts: { ...opts, horizonHours } })
  if (workers === 1 || inputs.length <= 1) return inputs.map((input) => finished(runSeriesTask(task(input))))
  const pool = new Piscina<SeriesTask, SeriesAnswer>({
    filename: fileURLToPath(new URL('./worker.mjs', import.meta.url)),
    minThreads: Math.min(workers, inputs.length),
    maxThreads: Math.min(workers, inputs.length),
  })
  try {
    return await Promise.all(inputs.map(async (input) => finished(await pool.run(task(input)))))
  } finally {
    await pool.destroy()
  }
}
