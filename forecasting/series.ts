/**
 * Hourly series: the one shape every model, backtest and plan reads. Values
 * are GPUs (time-weighted mean over each hour), hours are UTC-aligned and
 * contiguous; a missing hour is not a zero, so a series with gaps is refused
 * here rather than forecast from invented data.
 */
import { InputError } from '../core/errors'

/** One hour in milliseconds, the step of every forecasting series. */
export const HOUR_MS = 3_600_000
/** Hours in a day: the daily season. */
export const DAY_HOURS = 24
/** Hours in a week: the weekly season. */
export const WEEK_HOURS = 168

/** A contiguous hourly series: values[i] covers [startMs + i h, startMs + (i+1) h). */
export interface HourlySeries {
  startMs: number
  values: number[]
}

/** Epoch ms of the hour after the last value (the forecast origin). */
export const endOf = (s: HourlySeries): number => s.startMs + s.values.length * HOUR_MS

/** Throws InputError unless the series has at least `minHours` values, naming what needs them. */
export function requireLength(length: number, minHours: number, what: string): void {
  if (length < minHours) {
    throw new InputError(
      `series too short for ${what}: it needs at least ${minHours} hourly values (${formatHours(minHours)}), and has ${length} (${formatHours(length)})`,
    )
  }
}

/** Throws InputError when a value is not a finite number (a gap must never become a silent zero). */
export function requireFinite(values: readonly number[], what: string): void {
  const bad = values.findIndex((v) => !Number.isFinite(v))
  if (bad >= 0) throw new InputError(`${what}: value ${bad} is ${values[bad]}, expected a finite number of GPUs`)
}

/** Formats hours the way people say them: `168 h = 7 d`, `36 h`. */
export function formatHours(hours: number): string {
  if (hours >= 2 * DAY_HOURS && hours % DAY_HOURS === 0) return `${hours / DAY_HOURS} d`
  return `${hours} h`
}

/** Parses a horizon given in hours as a duration string (`24h`, `7d`, `13w`), whole hours only. */
export function horizonHours(durationMs: number): number {
  if (durationMs % HOUR_MS !== 0) throw new InputError(`horizon ${durationMs} ms is not a whole number of hours`)
  return durationMs / HOUR_MS
}
