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

const Exceedance = z.strictObject({
  firstMs: epochMs.nullable(),
  demandGpus: nullableNumber,
  hoursAbove: z.number(),
  extrapolated: z.boolean().describe('true when the first hour above capacity lies past the longest backtested horizon, where intervals are widened by an assumption (see intervals)'),
  hoursAboveWithinBacktest: z.number().describe('hours above capacity within the longest backtested horizon'),
})
const BurstPrice = z.strictObject({
  usdPerGpuHour: z.number(),
  source: z.string(),
  from: z.enum(['burst-policy', 'prices-table', 'config-fallback']).describe("where the price came from: the covering burst policy's target, the prices table (cloud providers only), or the config's placeholder"),
})
const BurstScenario = z.strictObject({
  gpuHours: z.number().describe('summed hour by hour at one quantile: at P90, every hour at its own P90 at once (an upper bound)'),
  spotCostUsd: z.number(),
  onDemandCostUsd: z.number(),
  extrapolatedGpuHours: z.number().describe('the part of gpuHours from hours past the longest backtested horizon'),
})

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
  capacityGpus: z.number().describe('capacity of the last measured hour, held flat over the horizon'),
  capacityAtMs: epochMs.describe('start of the hour capacityGpus was measured in'),
  startsNow: z.boolean().describe("true when the plan starts within a day of when it was made (its capacity is today's)"),
  pricesAtMs: epochMs.nullable().describe('when the burst prices were read: those in effect then'),
  targetAllocationRatio: z.number(),
  model: z.strictObject({ id: z.string(), label: z.string(), naive: z.boolean(), reason: z.string() }),
  intervals: z.strictObject({
    backtestHorizonHours: z.number().int().describe('the longest backtested horizon'),
    widenedFromMs: epochMs.nullable().describe('first hour past it (null when the horizon is within it): from there quantiles other than P50 are widened by √(h/H), an assumption'),
  }),
  exceeds: z.strictObject({ p50: Exceedance, p90: Exceedance }),
  peak: z.strictObject({ p50Gpus: z.number(), p90Gpus: z.number(), p90AtMs: epochMs }),
  p50Trend: z.strictObject({
    windowHours: z.number().int().describe('a week, or the whole horizon when shorter'),
    firstGpus: z.number().describe('mean P50 demand over the first windowHours'),
    lastGpus: z.number().describe('mean P50 demand over the last windowHours'),
    firstRatio: z.number(),
    lastRatio: z.number(),
  }).describe('the P50 trend, beside the P90-driven figures'),
  buy: z.strictObject({
    gpus: z.number(),
    capacityNeededGpus: z.number(),
    why: z.string(),
    extrapolated: z.boolean().describe('true when the hour of peak P90 that sets gpus lies past the longest backtested horizon'),
    withinBacktest: z.strictObject({ gpus: z.number(), capacityNeededGpus: z.number(), peakP90Gpus: z.number(), throughMs: epochMs })
      .describe('the same figure from the hours within the longest backtested horizon only'),
  }),
  burst: z.strictObject({
    prices: z.strictObject({
      spot: BurstPrice,
      onDemand: BurstPrice,
      fallback: z.boolean().describe('true when either price is the config placeholder (also a warning)'),
      onPremProviders: z.array(z.string()).describe('providers whose prices are never burst prices'),
    }),
    p50: BurstScenario.describe('P50 demand above capacity: what the burst policy would burst (it bursts only when on-prem GPUs are fully allocated), capped per hour at policyCap.gpus when known'),
    p90: BurstScenario.describe('P90 demand above capacity: what the burst policy would burst (it bursts only when on-prem GPUs are fully allocated), capped per hour at policyCap.gpus when known; an upper bound'),
    policyCap: z.strictObject({
      gpus: nullableNumber.describe('GPUs the covering burst policies can add (maxBurstGpus or targets\' maxNodes × gpusPerNode, the smaller, summed); null = not capped'),
      why: z.string(),
      uncapped: z.strictObject({ p50: BurstScenario, p90: BurstScenario }).describe('demand above capacity without the cap'),
    }),
    aboveTarget: z.strictObject({
      thresholdGpus: z.number().describe('targetAllocationRatio × capacityGpus'),
      p50: BurstScenario,
      p90: BurstScenario,
    }).describe('demand above target × capacity: bursting instead of buying, like for like (both keep P90 allocation at or under the target)'),
  }),
  months: z.array(MonthTrend),
  notes: z.array(z.string()),
})
