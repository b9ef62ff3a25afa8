import { z } from 'zod'

/**
 * The simulated cluster replayed from a public trace (collector/replay/).
 * `auto` runs it only when no cluster, exporter or Prometheus is configured,
 * so `npm start` on a laptop shows gpuscope working, and a configured
 * deployment never starts it.
 */
export const replaySchema = z.strictObject({
  mode: z.enum(['auto', 'on', 'off']).default('auto'),
  trace: z.enum(['helios', 'alibaba-v2023']).default('helios'),
  /** Folder holding the public traces; empty = ../shared/fixtures beside the checkout, else test/fixtures/shared. */
  fixtures: z.string().default(''),
  /** History written at start (workload intervals, node state). */
  backfillDays: z.number().int().min(0).max(365).default(30),
  /** GPU samples and notebook activity are backfilled for this many of the last days (raw samples past the TTL are dropped). */
  sampleDays: z.number().int().min(0).max(365).default(7),
  /** Resolution of backfilled GPU samples. */
  sampleStepMs: z.number().int().min(15_000).default(300_000),
  /** Virtual seconds per real second in the live replay. */
  speed: z.number().positive().max(10_000).default(1),
  /** Serve the simulated cluster's API, exporters and Jupyter on loopback after the backfill. */
  live: z.boolean().default(true),
})

export type ReplayConfig = z.infer<typeof replaySchema>
