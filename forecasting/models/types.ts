/**
 * The model contract. A model is pure: `fit` reads a history of hourly values
 * (oldest first) and returns something that forecasts the hours after it.
 */
import type { HoltWintersSpec } from './holtWinters'

/** A fitted model: point forecasts for the next `horizon` hours, and the fitted parameters for the record. */
export interface Fitted {
  forecast(horizon: number): number[]
  params: Record<string, number>
  /**
   * The same model with these parameters run over another history (states
   * updated, nothing re-estimated); absent when a model has nothing to
   * re-estimate cheaply, and the backtest fits it again instead.
   */
  reuse?(history: readonly number[]): Fitted
}

/** A forecasting model as the backtest and the chooser see it. */
export interface Model {
  /** Stable id used on the CLI, in the API and in config, e.g. `snaive24`. */
  id: string
  /** Human label for tables and reports. */
  label: string
  /** Fewest hourly values `fit` accepts; shorter histories get an InputError naming this number. */
  minLength: number
  /** True for the seasonal-naive baselines (the bar every other model must beat). */
  naive: boolean
  /**
   * The Holt-Winters variants whose parameters `fit` estimates (absent: none).
   * A backtest has them fitted side by side before it fits its models
   * (models/holtWinters.ts prefitHoltWinters); the results are the same.
   */
  holtWinters?: readonly HoltWintersSpec[]
  fit(history: readonly number[]): Fitted
}
