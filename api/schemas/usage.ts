/** Response schemas of /usage, /summary and /chargeback (api/routes/usage.ts). */
import { z } from 'zod'
import { CHARGE_BASES } from '../../core/ledger'
import { GROUP_KEYS } from '../../core/usage'
import { Group, groupShape, isoTime, IsoWindow, orNull, UtilMetric } from './common'

const nullableNumber = z.number().nullable()

/** core/usage.ts UsagePoint. */
export const UsagePoint = z
  .strictObject({
    ts: isoTime.describe('start of the step'),
    capacityGpus: nullableNumber.describe('mean allocatable GPUs on Ready, schedulable nodes; null when the grouping or filter has workload keys'),
    allocatedGpus: z.number(),
    pendingGpus: z.number(),
    allocationRatio: nullableNumber,
    utilizedGpus: nullableNumber.describe('sampled allocated GPUs x utilization; null when unsampled'),
    allocatedGpuHours: z.number(),
    usedGpuHours: nullableNumber.describe('sampled allocated GPU-hours x utilization; null when unsampled'),
    utilUnknownGpuHours: z.number().describe('allocated GPU-hours no sample speaks for: all when unsampled, else those before the first sample in the step'),
    utilRatio: nullableNumber.describe('0..1; null when no sample exists (unknown, not 0)'),
    utilMetric: orNull(UtilMetric),
    utilSamples: z.number().int(),
    utilSamplesGrEngineActive: z.number().int(),
  })
  .meta({ id: 'UsagePoint', description: 'One step of one group: means over the part of the step inside the window and before now.' })

/** core/usage.ts UsageTotals. */
export const UsageTotals = z
  .strictObject({
    capacityGpuHours: nullableNumber,
    allocatedGpuHours: z.number(),
    pendingGpuHours: z.number(),
    usedGpuHours: nullableNumber,
    utilUnknownGpuHours: z.number(),
    allocationRatio: nullableNumber,
    utilRatio: nullableNumber,
    wasteGpuHours: nullableNumber,
  })
  .meta({ id: 'UsageTotals', description: "A group's figures over the whole window." })

/** core/usage.ts UsageSeries. */
export const UsageSeries = z.strictObject({ group: Group, points: z.array(UsagePoint), totals: UsageTotals }).meta({ id: 'UsageSeries', description: "One group's dense series: every step before now has a point." })

/** GET /api/v1/usage data. */
export const usageData = z.strictObject({
  window: IsoWindow,
  step: z.string().describe('the bucket size, e.g. 1h'),
  utilResolution: z.string().optional().describe('the rollup utilization is read from (1m or 1h)'),
  groupBy: z.array(z.enum(GROUP_KEYS)),
  filters: z.strictObject(groupShape(z.array(z.string()))).describe('the filters applied (a team token is confined to its team)'),
  series: z.array(UsageSeries),
})

const MonthlyAllocation = z.strictObject({
  month: z.string().describe('YYYY-MM'),
  capacityGpuHours: z.number(),
  allocatedGpuHours: z.number(),
  allocationRatio: nullableNumber,
  partial: z.boolean().describe('true for the current month, which ends at now'),
})

/** GET /api/v1/summary data. */
export const summaryData = z.strictObject({
  at: isoTime,
  capacityGpus: z.number(),
  allocatedGpus: z.number(),
  pendingGpus: z.number(),
  allocationRatio: nullableNumber,
  utilizedGpus: nullableNumber,
  utilRatio: nullableNumber,
  utilMetric: orNull(UtilMetric),
  idleGpus: nullableNumber,
  idleWorkloads: nullableNumber,
  utilUnknownGpus: z.number(),
  utilUnknownWorkloads: z.number(),
  idleRule: z.strictObject({ utilBelow: z.number(), windowMs: z.number() }),
  monthly: z.array(MonthlyAllocation),
  wasteWindow: IsoWindow,
  topWastingTeams: z.array(z.strictObject({
    team: z.string(),
    allocatedGpuHours: z.number(),
    usedGpuHours: nullableNumber,
    wasteGpuHours: nullableNumber,
    utilRatio: nullableNumber,
    utilUnknownGpuHours: z.number(),
  })),
})

const IdleShare = z.enum(['none', 'proportional', 'even'])

/** core/ledger.ts LedgerRow (a core/chargeback.ts ChargeRow on the dual ledger). */
export const ChargeRow = z
  .strictObject({
    key: z.string().describe('the team, project, user or namespace; __idle__, __unallocated__ and __idle_allocated__ are fleet rows'),
    allocatedGpuHours: z.number(),
    usedGpuHours: nullableNumber,
    idleGpuHours: nullableNumber,
    utilUnknownGpuHours: z.number(),
    allocatedCostUsd: z.number(),
    idleShareCostUsd: z.number(),
    costUsd: z.number(),
    costCents: z.number().int(),
    effectiveGpuHours: nullableNumber,
    idleAllocatedCostUsd: z.number(),
    basisAdjustmentUsd: z.number(),
  })
  .meta({ id: 'ChargeRow', description: 'One chargeback row: allocated and effective GPU-hours, and its cost on the chosen basis.' })

const FleetReconciliation = z.strictObject({
  scope: z.literal('fleet'),
  reconciled: z.boolean(),
  fleetCostUsd: z.number(),
  rowsCostUsd: z.number(),
  differenceCents: z.number(),
  capacityGpuHours: z.number(),
  allocatedGpuHours: z.number(),
  allocatedCostUsd: z.number(),
  unallocatedGpuHours: z.number(),
  unallocatedCostUsd: z.number(),
  policy: IdleShare,
})

const TeamReconciliation = z.strictObject({
  scope: z.string().describe("team '<name>'"),
  reconciled: z.boolean(),
  teamCostUsd: z.number(),
  rowsCostUsd: z.number(),
  differenceCents: z.number(),
  policy: IdleShare,
})

/** GET /api/v1/chargeback data. */
export const chargebackData = z.strictObject({
  period: z.strictObject({ input: z.string().nullable(), from: isoTime, to: isoTime }),
  by: z.enum(['team', 'project', 'user', 'namespace']),
  idleShare: IdleShare,
  chargeBasis: z.enum(CHARGE_BASES as readonly ['allocated', 'effective', 'hybrid']),
  idleSurchargeUsdPerGpuHour: z.number(),
  rows: z.array(ChargeRow),
  reconciliation: z.union([FleetReconciliation, TeamReconciliation]).describe('fleet-wide, or for a team token its team'),
})
