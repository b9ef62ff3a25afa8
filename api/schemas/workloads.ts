/** Response schemas of /workloads, /workloads/{id} and /workloads/{id}/logs (api/routes/workloads.ts). */
import { z } from 'zod'
import { isoTime, IsoWindow, orNull } from './common'
import { IdleAssessment } from './idle'
import { ActionRecord } from './alerts'

const nullableNumber = z.number().nullable()
const WorkloadState = z.enum(['running', 'pending', 'finished'])

/** One row of the workload list. */
export const WorkloadSummary = z
  .strictObject({
    id: z.string().describe('base64url (no padding) of cluster/namespace/kind/name'),
    cluster: z.string(),
    namespace: z.string(),
    kind: z.string(),
    name: z.string(),
    team: z.string(),
    project: z.string(),
    user: z.string(),
    state: WorkloadState,
    pods: z.number().int(),
    podsRunning: z.number().int(),
    podsPending: z.number().int(),
    gpusAllocated: z.number(),
    gpusPending: z.number(),
    gpuResources: z.array(z.string()),
    firstCreated: isoTime,
    firstStart: isoTime.nullable(),
    lastEnd: isoTime.nullable().describe('null while any pod is open'),
    gpuHours: z.number().describe('GPU-hours within the window'),
  })
  .meta({ id: 'WorkloadSummary', description: 'A workload (pods sharing cluster, namespace and top owner) active in the window.' })

/** GET /api/v1/workloads data. */
export const workloadListData = z.strictObject({
  window: IsoWindow,
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
  next: z.number().int().nullable().describe('offset of the next page; null on the last'),
  workloads: z.array(WorkloadSummary),
})

const Pod = z.strictObject({
  uid: z.string(),
  name: z.string(),
  node: z.string().nullable(),
  phase: z.string(),
  gpus: z.number(),
  gpuResource: z.string(),
  images: z.array(z.string()).nullable().describe("the pod's app container images in spec order (init containers left out); null when unknown (recorded before images were collected)"),
  created: isoTime,
  start: isoTime.nullable(),
  end: isoTime.nullable(),
  lastSeen: isoTime,
})

const DcgmMetric = z.enum(['DCGM_FI_PROF_GR_ENGINE_ACTIVE', 'DCGM_FI_DEV_GPU_UTIL'])

/** GET /api/v1/workloads/{id} data: the 360 view. */
export const workloadDetailData = z.strictObject({
  id: z.string(),
  cluster: z.string(),
  namespace: z.string(),
  kind: z.string(),
  name: z.string(),
  owner: z.strictObject({ team: z.string(), project: z.string(), user: z.string() }),
  state: WorkloadState,
  created: isoTime,
  start: isoTime.nullable(),
  end: isoTime.nullable(),
  images: z
    .array(z.string())
    .nullable()
    .describe("distinct container images of the pods' app containers, oldest pod first, each pod's in spec order (init containers left out); null when no pod's images are known: pods recorded before images were collected are named in warnings"),
  resources: z.strictObject({ gpuResources: z.array(z.string()), gpusAllocated: z.number(), gpusPending: z.number(), peakGpus: z.number() }),
  nodes: z.array(z.strictObject({ node: z.string(), gpuModel: z.string().nullable(), pool: z.string().nullable(), provider: z.string().nullable() })),
  pods: z.array(Pod),
  window: IsoWindow,
  gpuHours: z.number(),
  utilization: z.strictObject({ utilRatio: nullableNumber, metric: DcgmMetric.nullable(), fbUsedBytesMax: nullableNumber, powerWattsPerGpu: nullableNumber }),
  series: z.strictObject({
    stepMs: z.number(),
    rollup: z.enum(['1m', '1h']),
    points: z.array(z.strictObject({
      time: isoTime,
      allocatedGpus: z.number(),
      utilRatio: nullableNumber,
      utilMetric: DcgmMetric.nullable(),
      fbUsedBytesMax: nullableNumber,
      powerWattsPerGpu: nullableNumber,
    })),
  }),
  idle: orNull(IdleAssessment),
  actions: z.array(z.strictObject({ time: isoTime, ...ActionRecord.omit({ tsMs: true, cluster: true, namespace: true, workloadKind: true, workloadName: true }).shape })),
})

/** GET /api/v1/workloads/{id}/logs data. */
export const workloadLogsData = z.strictObject({
  source: z.enum(['elasticsearch', 'kubernetes']),
  from: isoTime,
  to: isoTime,
  lines: z.array(z.strictObject({ time: isoTime, pod: z.string(), container: z.string(), message: z.string() })),
  nextCursor: z.string().nullable().describe('pass as cursor for the next page; null on the last'),
})
