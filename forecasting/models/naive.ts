/**
 * Seasonal naive: the forecast for an hour is the value one season earlier
 * (24 h or 168 h), repeated for horizons longer than the season. It is the
 * baseline every other model must beat (DESIGN.md, Forecasting: the bar).
 */
import { requireLength } from '../series'
import type { Fitted, Model } from './types'

/** Seasonal naive with the given season in hours (24 = daily, 168 = weekly). */
export function seasonalNaive(seasonHours: number): Model {
  const label = `seasonal naive (${seasonHours} h)`
  return {
    id: `snaive${seasonHours}`,
    label,
    minLength: seasonHours,
    naive: true,
    fit(history: readonly number[]): Fitted {
      requireLength(history.length, seasonHours, label)
      const last = history.slice(history.length - seasonHours)
      return {
        params: { seasonHours },
        forecast(horizon) {
          const out = new Array<number>(horizon)
          for (let h = 0; h < horizon; h++) out[h] = last[h % seasonHours] as number
          return out
        },
      }
    },
  }
}
