import { z } from 'zod'

/** Forecasting and capacity planning settings (refined by the forecasting work). */
export const forecastSchema = z.strictObject({
  /** Target allocation ratio the capacity plan keeps P90 demand under. */
  targetAllocationRatio: z.number().gt(0).max(1).default(0.85),
})

export type ForecastConfig = z.infer<typeof forecastSchema>
