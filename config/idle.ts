import { z } from 'zod'

/** Idle detection policy (DESIGN.md, Definitions: idle). */
export const idleSchema = z.strictObject({
  /** Utilization below this for the whole window is idle. */
  utilBelow: z.number().min(0).max(1).default(0.05),
  notebookWindowMs: z.number().int().positive().default(30 * 60_000),
  jobWindowMs: z.number().int().positive().default(60 * 60_000),
})

export type IdleConfig = z.infer<typeof idleSchema>
