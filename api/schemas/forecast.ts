/** Response schemas of /forecast, /forecast/backtest and /capacity-plan (api/routes/forecast.ts). */
import { z } from 'zod'
import { epochMs, isoTime, orNull, UtilMetric } from './common'

const nullableNumber = z.number().nullable()

/** forecasting/backtest.ts ModelScore. */
export const ModelScore = z
  .strictObject({
    modelId: z.string(),
    label: z.string(),
    naive: z.boolean(),
    smapeRatio: z.number().describe('sMAPE as a ratio (0.113 = 11.3 %)'),
    maeGpus: z.number(),
    mase: nullableNumber.describe('MAE over seasonal naive (24 h) MAE; null when the baseline made no error'),
    coverage80: nullableNumber,
    coverage50: nullableNumber,
  })
  .meta({ id: 'ModelScore', description: "One model's rolling-origin backtest scores." })

/** forecasting/choose.ts Choice. */
export const ModelChoice = z
  .strictObject({
    modelId: z.string(),
    label: z.string(),
    naive: z.boolean().describe('true when seasonal naive is the choice (no model beat it)'),
    reason: z.string(),
    horizonHours: z.number().int(),
    score: ModelScore,
    bar: ModelScore,
  })
  .meta({ id: 'ModelChoice', description: 'The model chosen by backtest, and why.' })

/** forecasting/backtest.ts HorizonBacktest without residuals. */
export const HorizonBacktest = z
  .strictObject({
    horizonHours: z.number().int(),
    originsMs: z.array(epochMs),
    points: z.number().int(),
    baselineId: z.string(),
    scores: z.array(ModelScore),
    skipped: z.array(z.strictObject({ modelId: z.string(), label: z.string(), reason: z.string() })),
  })
  .meta({ id: 'HorizonBacktest', description: 'A rolling-origin backtest at one horizon.' })

/** GET /api/v1/forecast data. */
export const forecastData = z.strictObject({
  series: z.string().describe('the series selector, e.g. fleet or cluster=a,team=b'),
  originMs: epochMs,
  originTs: isoTime,
  horizonHours: z.number().int(),
  model: z.strictObject({ id: z.string(), label: z.string(), params: z.record(z.string(), z.number()) }),
  choice: ModelChoice,
  backtest: HorizonBacktest,
  quantileProbs: z.array(z.number()),
  notes: z.array(z.string()),
  points: z.array(z.strictObject({ ts: isoTime, pointGpus: z.number(), quantileGpus: z.array(z.number()).describe('one per quantileProbs') })),
})

/** GET /api/v1/forecast/backtest data. */
export const backtestData = z.strictObject({
  series: z.string(),
  hours: z.number().int().describe('hourly values in the history'),
  outcomes: z.array(z.strictObject({
    horizonHours: z.number().int(),
    backtest: z.union([HorizonBacktest]).optional().describe('scores (residuals left out); absent when skipped'),
    choice: z.union([ModelChoice]).optional(),
    skipped: z.string().optional().describe('why the horizon was skipped'),
  })),
})

const Exceedance = z.strictObject({ firstMs: epochMs.nullable(), demandGpus: nullableNumber, hoursAbove: z.number() })
const BurstPrice = z.strictObject({ usdPerGpuHour: z.number(), source: z.string() })
const BurstScenario = z.strictObject({ gpuHours: z.number(), spotCostUsd: z.number(), onDemandCostUsd: z.number() })

/** forecasting/trend.ts MonthTrend. */
export const MonthTrend = z
  .strictObject({
    month: z.string(),
    fromMs: epochMs,
    toMs: epochMs,
    actualHours: z.number(),
    forecastHours: z.number(),
    capacityGpus: nullableNumber,
    allocatedGpus: nullableNumber,
    demandGpus: nullableNumber,
    p50DemandGpus: nullableNumber,
    p90DemandGpus: nullableNumber,
    allocationRatio: nullableNumber,
    forecastDemandRatio: nullableNumber,
    utilRatio: nullableNumber,
    utilMetric: orNull(UtilMetric),
  })
  .meta({ id: 'MonthTrend', description: 'One month of the capacity trend: measured and forecast.' })

/** GET /api/v1/capacity-plan data (forecasting/plan.ts CapacityPlan). */
export const capacityPlanData = z.strictObject({
  series: z.string(),
  originMs: epochMs,
  horizonHours: z.number().int(),
  endMs: epochMs,
  capacityGpus: z.number(),
  targetAllocationRatio: z.number(),
  model: z.strictObject({ id: z.string(), label: z.string(), naive: z.boolean(), reason: z.string() }),
  exceeds: z.strictObject({ p50: Exceedance, p90: Exceedance }),
  peak: z.strictObject({ p50Gpus: z.number(), p90Gpus: z.number(), p90AtMs: epochMs }),
  buy: z.strictObject({ gpus: z.number(), capacityNeededGpus: z.number(), why: z.string() }),
  burst: z.strictObject({
    prices: z.strictObject({ spot: BurstPrice, onDemand: BurstPrice, fallback: z.boolean() }),
    p50: BurstScenario.describe('P50 demand above capacity: what the burst policy would burst (it bursts only when on-prem GPUs are fully allocated)'),
    p90: BurstScenario.describe('P90 demand above capacity: what the burst policy would burst (it bursts only when on-prem GPUs are fully allocated)'),
    aboveTarget: z.strictObject({
      thresholdGpus: z.number().describe('targetAllocationRatio × capacityGpus'),
      p50: BurstScenario,
      p90: BurstScenario,
    }).describe('demand above target × capacity: bursting instead of buying, like for like (both keep P90 allocation at or under the target)'),
  }),
  months: z.array(MonthTrend),
  notes: z.array(z.string()),
})
