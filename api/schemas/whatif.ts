/** Response schema of POST /whatif (api/routes/whatif.ts; alerts/whatif/run.ts WhatifResult). */
import { z } from 'zod'
import { epochMs } from './common'
import { BurstPoolPolicy } from './alerts'
import { IdlePolicy } from './idle'

const counts = z.record(z.string(), z.number().int())

/** core/whatif.ts BurstTrack. */
const BurstTrack = z.strictObject({
  scaleOuts: z.number().int(),
  scaleIns: z.number().int(),
  cloudGpuHours: z.number(),
  costUsd: z.number(),
  burstServedGpuHours: z.number(),
  holds: counts.describe('steps held, by reason code'),
  decisions: z.array(z.strictObject({
    atMs: epochMs,
    action: z.enum(['scale-out', 'scale-in', 'hold']),
    code: z.string(),
    changes: z.array(z.strictObject({ target: z.string(), fromGpus: z.number(), toGpus: z.number(), fromNodes: z.number(), toNodes: z.number() })),
  })),
})

/** core/whatif.ts WhatifStop. */
const WhatifStop = z.strictObject({
  cluster: z.string(),
  namespace: z.string(),
  kind: z.string(),
  name: z.string(),
  team: z.string(),
  user: z.string(),
  gpus: z.number(),
  idleSinceMs: epochMs.nullable(),
  warnedAtMs: epochMs.nullable(),
  stoppedAtMs: epochMs,
  recordedEndMs: epochMs.nullable(),
  reclaimedGpuHours: z.number(),
  falseStop: z.boolean().nullable().describe('active again within the grace period; null when the window ended first'),
  resumedAtMs: epochMs.nullable(),
})

/** POST /api/v1/whatif data. */
export const whatifData = z.strictObject({
  policy: z.strictObject({
    windowMs: z.number(),
    stepMs: z.number(),
    clusters: z.array(z.string()),
    idle: IdlePolicy,
    enforcer: z.strictObject({
      namespaceAllowList: z.array(z.string()),
      protectedNamespaces: z.array(z.string()),
      maxActionsPerRun: z.number().int(),
      deleteBarePods: z.boolean(),
      clusters: z.array(z.string()),
      graceMs: z.number(),
    }),
    burstPools: z.array(BurstPoolPolicy),
  }),
  report: z.strictObject({
    window: z.strictObject({ fromMs: epochMs, toMs: epochMs, stepMs: z.number(), steps: z.number().int() }),
    idle: z.strictObject({
      workloadsEvaluated: z.number().int(),
      evaluatedGpuHours: z.number(),
      unknownGpuHours: z.number(),
      warnedWorkloads: z.number().int(),
      warnings: z.number().int(),
      stoppedWorkloads: z.number().int(),
      falseStops: z.number().int(),
      falseStopsUnjudged: z.number().int(),
      reclaimedGpuHours: z.number(),
      falseStopReclaimedGpuHours: z.number(),
      blocked: counts.describe('warned workloads the enforcer would not stop, by why'),
    }),
    demand: z.strictObject({ pendingGpuHours: z.number(), pendingWaitAvoidedGpuHours: z.number() }),
    burst: z.array(z.strictObject({ cluster: z.string(), pool: z.string(), baseline: BurstTrack, whatif: BurstTrack })),
    stops: z.array(WhatifStop),
  }),
  recorded: z.array(z.strictObject({ action: z.string(), acted: z.boolean(), dryRun: z.boolean(), count: z.number().int() })),
  notes: z.array(z.string()),
  warnings: z.array(z.string()).describe('the same as the envelope warnings'),
})
