/** Response schemas of /burst, /burst/audit and /actions (api/routes/alerts.ts). */
import { z } from 'zod'
import { anyJson, epochMs, isoTime, MsWindow, orNull } from './common'

/** alerts/burst/status.ts BurstRow. */
export const BurstRow = z
  .strictObject({
    tsMs: epochMs,
    action: z.string(),
    cluster: z.string(),
    pool: z.string(),
    decision: z.string(),
    dryRun: z.boolean(),
    acted: z.boolean(),
    reason: z.string(),
    evidence: anyJson,
  })
  .meta({ id: 'BurstDecisionRow', description: 'One burst decision from the audit log.' })

/** A burst target as the API shows it: its adapter's type only (no URL, key or secret). */
const BurstTarget = z.strictObject({
  name: z.string(),
  provider: z.string(),
  lifecycle: z.enum(['spot', 'on-demand']),
  pool: z.string(),
  gpusPerNode: z.number(),
  maxNodes: z.number().int(),
  usdPerGpuHour: z.number(),
  adapter: z.string().describe('the adapter type: webhook, aws-asg or kubernetes-patch'),
})

/** A burst pool's policy (config alerts.burst.pools) without secrets. */
export const BurstPoolPolicy = z
  .strictObject({
    cluster: z.string(),
    pool: z.string(),
    thresholdRatio: z.number(),
    minPendingGpus: z.number(),
    forMs: z.number(),
    maxBurstGpus: z.number(),
    monthlyBudgetUsd: z.number(),
    budgetLookaheadMs: z.number(),
    cooldownMs: z.number(),
    scaleInAfterMs: z.number(),
    reclaimFirst: z.boolean(),
    targets: z.array(BurstTarget),
  })
  .meta({ id: 'BurstPoolPolicy', description: "A burst pool's policy; targets name their adapter's type only." })

/** GET /api/v1/burst data. */
export const burstData = z.strictObject({
  enabled: z.boolean(),
  dryRun: z.boolean(),
  window: MsWindow,
  pools: z.array(z.strictObject({
    cluster: z.string(),
    pool: z.string(),
    bursting: z.boolean(),
    burstingSinceMs: epochMs.nullable(),
    latestDecision: orNull(BurstRow),
    policy: BurstPoolPolicy,
  })),
  decisions: z.array(BurstRow),
})

const auditTotals = {
  cloudGpuHours: z.number(),
  cloudCostUsd: z.number(),
  cloudGpuHoursWhileOnpremIdle: z.number(),
  cloudCostWhileOnpremIdleUsd: z.number(),
  onpremIdleAllocatedGpuHours: z.number(),
  onpremUtilUnknownGpuHours: z.number(),
  reclaimableGpuHours: z.number(),
  reclaimSavingsUsd: z.number(),
}

/** GET /api/v1/burst/audit data. */
export const burstAuditData = z.strictObject({
  period: z.strictObject({ input: z.string(), from: isoTime, to: isoTime }),
  idleRule: z.strictObject({ utilBelow: z.number(), stepMs: z.number() }),
  totals: z.strictObject(auditTotals),
  byCluster: z.array(z.strictObject({ cluster: z.string(), ...auditTotals })),
  cloudUsdPerGpuHour: z.number().nullable().describe('the average cloud price the costs use; null without cloud GPU-hours'),
  steps: z.array(z.strictObject({
    ts: isoTime,
    cluster: z.string(),
    cloudGpus: z.number(),
    onpremIdleGpus: z.number(),
    onpremUnknownGpus: z.number(),
    reclaimableGpus: z.number(),
  })),
})

/** core/model.ts ActionRecord: one audit log row. */
export const ActionRecord = z
  .strictObject({
    tsMs: epochMs,
    id: z.string(),
    action: z.string(),
    cluster: z.string(),
    namespace: z.string(),
    workloadKind: z.string(),
    workloadName: z.string(),
    decision: z.string(),
    dryRun: z.boolean(),
    acted: z.boolean(),
    reason: z.string(),
    evidence: anyJson,
    actor: z.string(),
  })
  .meta({ id: 'ActionRecord', description: 'One audit log row: an alert, reminder, digest, stop or burst decision, with its evidence.' })

/** GET /api/v1/actions data. */
export const actionsData = z.strictObject({ actions: z.array(ActionRecord) })
