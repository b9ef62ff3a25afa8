/**
 * Response schemas of the OpenCost-compatible /allocation/compute and
 * /allocation/compute/summary (api/routes/opencost.ts): OpenCost's own
 * envelope `{code, status, data}`, not gpuscope's.
 */
import { z } from 'zod'
import { isoTime } from './common'

const nullableNumber = z.number().nullable()
const ocTime = isoTime.describe("RFC 3339 in seconds, as Go's time.RFC3339 prints it")
const OcWindow = z.strictObject({ start: ocTime, end: ocTime })

/** OpenCost Allocation fields gpuscope always answers 0 (it charges GPUs only); the route fills them from this list. */
export const ZERO_FIELDS = [
  'cpuCores', 'cpuCoreRequestAverage', 'cpuCoreLimitAverage', 'cpuCoreUsageAverage', 'cpuCoreHours', 'cpuCost', 'cpuCostAdjustment', 'cpuCostIdle', 'cpuEfficiency',
  'networkTransferBytes', 'networkReceiveBytes', 'networkCost', 'networkCrossZoneCost', 'networkCrossRegionCost', 'networkInternetCost', 'networkCostAdjustment',
  'loadBalancerCost', 'loadBalancerCostAdjustment', 'pvBytes', 'pvByteHours', 'pvCost', 'pvCostAdjustment',
  'ramBytes', 'ramByteRequestAverage', 'ramByteLimitAverage', 'ramByteUsageAverage', 'ramByteHours', 'ramCost', 'ramCostAdjustment', 'ramCostIdle', 'ramEfficiency',
  'externalCost', 'sharedCost',
] as const
/** The same for a summary allocation. */
export const SUMMARY_ZEROS = ['cpuCoreRequestAverage', 'cpuCoreUsageAverage', 'cpuCost', 'cpuCostIdle', 'networkCost', 'loadBalancerCost', 'pvCost', 'ramByteRequestAverage', 'ramByteUsageAverage', 'ramCost', 'ramCostIdle', 'sharedCost', 'externalCost'] as const
const zeros = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, z.number().describe('always 0: gpuscope charges GPUs only')]))

/** OpenCost's AllocationProperties, as far as gpuscope fills them. */
const OcProperties = z.strictObject({
  cluster: z.string().optional(),
  node: z.string().optional(),
  namespace: z.string().optional(),
  controllerKind: z.string().optional(),
  controller: z.string().optional(),
  pod: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional().describe('team, owner and aggregated label:/annotation: keys'),
})

/** One OpenCost Allocation: GPU fields from gpuscope, the other resources 0. */
export const OcAllocation = z
  .strictObject({
    name: z.string(),
    properties: OcProperties,
    window: OcWindow,
    start: ocTime,
    end: ocTime,
    minutes: z.number(),
    ...zeros(ZERO_FIELDS),
    gpuCount: z.number(),
    gpuHours: z.number(),
    gpuCost: z.number(),
    gpuCostAdjustment: z.number(),
    gpuCostIdle: z.number(),
    gpuEfficiency: nullableNumber,
    pvs: z.null(),
    totalCost: z.number(),
    totalEfficiency: nullableNumber,
    lbAllocations: z.null(),
    gpuAllocation: z.strictObject({ isGPUShared: z.boolean(), gpuUsageAverage: nullableNumber, gpuRequestAverage: z.number() }).nullable().describe('null on __idle__ rows'),
    gpuscope: z.strictObject({ usedGpuHours: nullableNumber, utilUnknownGpuHours: z.number() }),
  })
  .meta({ id: 'OpenCostAllocation', description: "OpenCost's Allocation with GPU fields; gpuscope's used and unknown GPU-hours beside them." })

/** One OpenCost summary allocation. */
export const OcSummaryAllocation = z
  .strictObject({
    name: z.string(),
    start: ocTime,
    end: ocTime,
    ...zeros(SUMMARY_ZEROS),
    gpuRequestAverage: z.number(),
    gpuUsageAverage: nullableNumber,
    gpuCost: z.number(),
    gpuCostIdle: z.number(),
    gpuHours: z.number(),
    totalEfficiency: nullableNumber,
    totalCost: z.number(),
  })
  .meta({ id: 'OpenCostSummaryAllocation', description: "OpenCost's SummaryAllocation with GPU fields." })

const ocEnvelope = (data: z.ZodType) =>
  z.strictObject({
    code: z.literal(200),
    status: z.literal('success'),
    data,
    warning: z.string().optional().describe("the warnings joined with '; ' (OpenCost's field)"),
    warnings: z.array(z.string()).optional(),
  })

/** GET /allocation/compute answer: one map of allocations by name per set. */
export const ocAllocationAnswer = ocEnvelope(z.array(z.record(z.string(), OcAllocation)))

/** GET /allocation/compute/summary answer: OpenCost's SummaryAllocationSetRange. */
export const ocSummaryAnswer = ocEnvelope(z.strictObject({
  step: z.number().describe('nanoseconds (Go time.Duration)'),
  sets: z.array(z.strictObject({ allocations: z.record(z.string(), OcSummaryAllocation), window: OcWindow })),
  window: OcWindow,
}))

/** OpenCost's error shape. */
export const ocError = z
  .strictObject({ code: z.number().int(), status: z.literal('error'), data: z.null(), message: z.string() })
  .meta({ id: 'OpenCostError', description: "OpenCost's error answer {code, status: 'error', data: null, message}." })
