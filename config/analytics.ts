import { z } from 'zod'

/**
 * One line of the on-prem rate card: the amortised $/GPU-hour of the GPUs of a
 * model and/or pool. A GPU model matches a node's model when it equals it or
 * is one of its words, case-insensitively (`H100` matches
 * `NVIDIA-H100-80GB-HBM3`), so the card can name models the short way.
 */
export const rateSchema = z
  .strictObject({
    gpuModel: z.string().min(1).optional(),
    pool: z.string().min(1).optional(),
    usdPerGpuHour: z.number().nonnegative(),
  })
  .refine((r) => r.gpuModel !== undefined || r.pool !== undefined, {
    message: 'a rate names a gpuModel, a pool or both (the default rate is defaultUsdPerGpuHour)',
  })

/**
 * The rate card chargeback prices GPU-hours with. Cloud nodes are charged at
 * their instance's price per GPU from the prices table (on-demand, or spot for
 * spot nodes); every other node, and a cloud node with no price, at the most
 * specific rate here (model and pool, then pool, then model), else the default.
 */
export const rateCardSchema = z.strictObject({
  /** Amortised $/GPU-hour of a GPU no rate names: a placeholder until set (answers say when it was used). */
  defaultUsdPerGpuHour: z.number().nonnegative().default(2),
  rates: z.array(rateSchema).default([]),
})

/** Analytics and chargeback settings. */
export const analyticsSchema = z.strictObject({
  /**
   * How the cost of capacity no workload held is shared: none (left as its own __idle__ row), proportional
   * to allocated cost, or even across rows. (__unallocated__ is another row: allocation with no value for
   * the chargeback key, e.g. pods with no team label.)
   */
  idleShare: z.enum(['none', 'proportional', 'even']).default('none'),
  /**
   * What owners are charged for (core/ledger.ts): allocated GPU-hours (default), effective GPU-hours
   * (allocation × utilization; the idle-while-allocated cost goes to the __idle_allocated__ row),
   * or hybrid (allocated plus idleSurchargeUsdPerGpuHour per idle-while-allocated GPU-hour).
   */
  chargeBasis: z.enum(['allocated', 'effective', 'hybrid']).default('allocated'),
  /** hybrid basis: $ per idle-while-allocated GPU-hour added to the owner's bill; negative = a credit. */
  idleSurchargeUsdPerGpuHour: z.number().min(-1_000).max(1_000).default(0),
  rateCard: rateCardSchema.default(() => rateCardSchema.parse({})),
  /** Most step buckets one series may have (Prometheus' range-query limit). */
  maxPoints: z.number().int().positive().default(11_000),
  /** Most points (groups x steps) one /usage answer may hold. */
  maxSeriesPoints: z.number().int().positive().default(250_000),
  /** How many teams /summary lists as the top wasting ones. */
  topWastingTeams: z.number().int().min(0).max(100).default(5),
  /** /summary answers are reused for this long (per team scope), so a wall of dashboards costs one computation; 0 turns it off. */
  summaryCacheMs: z.number().int().min(0).default(30_000),
})

/** Validated analytics settings. */
export type AnalyticsConfig = z.infer<typeof analyticsSchema>
/** The validated rate card. */
export type RateCard = z.infer<typeof rateCardSchema>
/** One validated rate card line. */
export type Rate = z.infer<typeof rateSchema>
