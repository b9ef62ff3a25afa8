import { z } from 'zod'

/** Analytics and chargeback settings (refined by the analytics API work). */
export const analyticsSchema = z.strictObject({
  /** How unallocated capacity cost is shared: none (shown as __unallocated__), proportional to allocated GPU-hours, or even across rows. */
  idleShare: z.enum(['none', 'proportional', 'even']).default('none'),
})

export type AnalyticsConfig = z.infer<typeof analyticsSchema>
