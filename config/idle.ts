import { z } from 'zod'

/**
 * Idle detection policy (DESIGN.md, Definitions: idle; STYLE.md, "Idle is a
 * state machine") and the thresholds of the insights built on it. The
 * defaults equal core/idle.ts `defaultIdlePolicy()` and core/insights.ts
 * `defaultInsightsPolicy()` (a test keeps them equal).
 */

const ratio = z.number().min(0).max(1)
const ms = z.number().int().positive()
const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS

const insightsSchema = z.strictObject({
  /** A team whose used / allocated GPU-hours over the insights window is below this is flagged. */
  efficiencyBelow: ratio.default(0.3),
  /** A busy job whose peak GPU memory stays below this share of the GPU's memory gets a larger-batch suggestion. */
  memoryBelowRatio: ratio.default(0.25),
  /** Notebooks idle (or hung) at least this long are listed for culling (Kubeflow's default cull time is 1 day). */
  cullAfterMs: ms.default(24 * HOUR_MS),
  /** Findings about less than this many GPU-hours in the window are not worth a line. */
  minGpuHours: z.number().min(0).default(1),
})

/** Idle detection policy (DESIGN.md, Definitions: idle). */
export const idleSchema = z
  .strictObject({
    /** Utilization below this for the whole window is idle; a reading equal to it is activity. */
    utilBelow: ratio.default(0.05),
    /** Idle window of Kubeflow Notebooks. */
    notebookWindowMs: ms.default(30 * MINUTE_MS),
    /** Idle window of every other kind (Job, Deployment, bare Pod, ...). */
    jobWindowMs: ms.default(60 * MINUTE_MS),
    /** Per-kind overrides of the window, keyed by workload kind as stored (e.g. `{ Deployment: 7200000 }`). */
    windowsByKindMs: z.record(z.string().min(1), ms).default({}),
    /** Below the threshold this long makes a workload `suspect` (the alert rule's `for:`); shorter dips stay `active`. */
    holdForMs: ms.default(10 * MINUTE_MS),
    /** After an owner is warned, the enforcer may stop the workload once this has passed. */
    graceMs: ms.default(2 * HOUR_MS),
    /** Share of the evaluated GPU-minutes that must have samples; below it the verdict is `unknown`. */
    minCoverage: z.number().gt(0).max(1).default(0.8),
    /** A sample stands for its minute and the following ones up to this age (Prometheus' lookback delta). */
    stalenessMs: z.number().int().min(MINUTE_MS).default(5 * MINUTE_MS),
    /** A job with no GPU activity since its start is `stuck` once it is this old. */
    stuckMinAgeMs: ms.default(30 * MINUTE_MS),
    /** Activity below this since the start counts as none for `stuck` (effectively zero). */
    stuckUtilBelow: ratio.default(0.01),
    /** Per GPU-minute reading compared with utilBelow: the max sample (strict) or the mean. */
    activityStat: z.enum(['max', 'mean']).default('max'),
    /** Notebooks need fresh kernel activity to be judged idle; false judges them by their GPUs alone. */
    requireKernelActivity: z.boolean().default(true),
    insights: insightsSchema.default(() => insightsSchema.parse({})),
  })
  .refine((p) => p.stuckUtilBelow <= p.utilBelow, { message: 'stuckUtilBelow must not exceed utilBelow', path: ['stuckUtilBelow'] })
  .refine((p) => p.holdForMs <= Math.min(p.notebookWindowMs, p.jobWindowMs, ...Object.values(p.windowsByKindMs)), {
    message: 'holdForMs must not exceed any idle window (suspect comes before idle)',
    path: ['holdForMs'],
  })

/** Validated idle policy and insight thresholds. */
export type IdleConfig = z.infer<typeof idleSchema>
