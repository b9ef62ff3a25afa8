import { z } from 'zod'
import { MODEL_IDS } from '../forecasting/models/ids'

const DURATION = /^(\d+(ms|[smhdw]))+$/

/**
 * Where the capacity plan prices cloud bursting, per lifecycle (spot,
 * on-demand): first the targets of a burst policy covering the series
 * (alerts.burst.pools); else the prices table (from the cloud collectors and
 * static `prices`) when it has a row matching the filters below (empty = any),
 * the cheapest per GPU-hour winning, never a row of an on-prem provider ('',
 * 'onprem', each cluster's defaultProvider); else the fallback prices, which
 * are placeholders: the plan warns when it uses them.
 */
export const burstSchema = z.strictObject({
  provider: z.string().default(''),
  region: z.string().default(''),
  instanceType: z.string().default(''),
  /** Fallback $/GPU-hour, spot: p4d.24xlarge spot in us-east-1 ($6.79 / 8 GPUs, SkyPilot catalog v7). A placeholder until set. */
  fallbackSpotUsdPerGpuHour: z.number().nonnegative().default(0.85),
  /** Fallback $/GPU-hour, on-demand: p4d.24xlarge on-demand in us-east-1 ($32.77 / 8 GPUs). A placeholder until set. */
  fallbackOnDemandUsdPerGpuHour: z.number().nonnegative().default(4.1),
})

/** Forecasting and capacity planning settings. */
export const forecastSchema = z.strictObject({
  /** Target allocation ratio the capacity plan keeps P90 demand under. */
  targetAllocationRatio: z.number().gt(0).max(1).default(0.85),
  /** Candidate models; the backtest picks one per series (seasonal naive 24 h is always a candidate, as the baseline). */
  models: z
    .array(z.enum(MODEL_IDS))
    .min(1)
    .default(() => MODEL_IDS.filter((id) => id !== 'mstl-ets')),
  /** Rolling-origin backtest: number of origins and hours between them (7 × 24 h = the last week for a 24 h horizon). */
  backtestOrigins: z.number().int().min(2).max(60).default(7),
  originStrideHours: z.number().int().min(1).max(24 * 28).default(24),
  /** History read from the store for a forecast, in days. */
  historyDays: z.number().int().min(8).max(3_650).default(90),
  /** Default capacity-plan horizon: a duration (13w = one quarter). */
  planHorizon: z.string().regex(DURATION, 'expected a duration like 13w or 90d').default('13w'),
  burst: burstSchema.default(() => burstSchema.parse({})),
})

/** Validated forecasting settings. */
export type ForecastConfig = z.infer<typeof forecastSchema>
/** Validated cloud-burst pricing settings. */
export type BurstConfig = z.infer<typeof burstSchema>
