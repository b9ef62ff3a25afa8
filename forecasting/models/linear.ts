/**
 * Linear trend: ordinary least squares of value on hour index over a trailing
 * window (simple-statistics' linearRegression), extended straight ahead. It
 * ignores seasonality on purpose: it is the "is demand growing?" model.
 */
import { linearRegression } from 'simple-statistics'
import { requireLength, WEEK_HOURS } from '../series'
import type { Fitted, Model } from './types'

/** Fewest points a trend is fitted on: one full week, so the daily cycle does not pass for a trend. */
const MIN_TREND_HOURS = WEEK_HOURS

/** Linear trend over the last `windowHours` values (all of them when the history is shorter). */
export function linearTrend(windowHours = 28 * 24): Model {
  const label = 'linear trend'
  return {
    id: 'linear',
    label,
    minLength: MIN_TREND_HOURS,
    naive: false,
    fit(history: readonly number[]): Fitted {
      requireLength(history.length, MIN_TREND_HOURS, label)
      const from = Math.max(0, history.length - windowHours)
      const points = history.slice(from).map((y, i) => [i, y])
      const { m, b } = linearRegression(points)
      const n = points.length
      return {
        params: { slopeGpusPerHour: m, intercept: b, windowHours: n },
        forecast: (horizon) => Array.from({ length: horizon }, (_, h) => b + m * (n + h)),
      }
    },
  }
}
