import { analyticsSchema } from '../../config/analytics'
import type { CloudInstance, GpuSample, NodeState, Price, WorkloadInterval } from '../../core/model'
import { openTestStore, type TestStore } from './store'

/**
 * A fleet priced by hand, shared by the chargeback and OpenCost tests. NOW is
 * noon on the 15th of the current UTC month (the rollups' TTLs never age the
 * data out); the period is this month so far.
 *
 * capacity GPU-hours x rate (rate card: H100 $2.50, pool infer $1.20, default $2.00):
 *   h1 8 x 348 h x 2.50 = 6960      h2 8 x 168 h (cordoned on the 8th) x 2.50 = 3360
 *   m1 1 x 348 h x 1.20 = 417.6     v1 4 x 348 h x 2.00 (default) = 2784
 *   g1 (aws p4d on-demand, $32 then $24 from the 12th, 8 GPUs) 8 x 48 h x 4 + 8 x 84 h x 3 = 3552
 *   s1 (aws spot, no price: default) 1 x 36 h x 2.00 = 72            fleet: $17,145.60
 *   (c1 $13,521.60; c2 $3,624), 6960 GPU-hours
 * allocation:
 *   vision: q1 4 x 48 h on h1 = 480, q2 a 1g slice all month on m1 = 417.6 / 7, q8 2 x 6 h on v1 = 24 -> 563.657..
 *   nlp:    q3 8 GPUs on g1 the 11th and 12th = 768 + 576, q4 2 x 48 h on h2 = 240, q6 1 x 12 h on s1 = 24 -> 1608
 *   no team (__unallocated__): q5 1 x 10 h on v1 = 20
 * in cents: allocated 219166 (2000 / 160800 / 56366); unallocated 1714560 - 219166 = 1495394.
 */
export const HOUR = 3_600_000
const today = new Date()
const Y = today.getUTCFullYear()
const M = today.getUTCMonth()
export const T = (d: number, h = 0): number => Date.UTC(Y, M, d, h)
export const NOW = T(15, 12)
export const MONTH = new Date(NOW).toISOString().slice(0, 7)

const node = (n: string, cluster: string, pool: string, gpuModel: string, gpus: number, tsMs: number, over: Partial<NodeState> = {}): NodeState => ({
  tsMs, cluster, node: n, pool, gpuModel, provider: 'onprem', instanceType: '', spot: false, capacityGpus: gpus, allocatableGpus: gpus, ready: true, schedulable: true, ...over,
})
export const NODES: NodeState[] = [
  node('h1', 'c1', 'train', 'NVIDIA-H100-80GB-HBM3', 8, T(1)),
  node('h2', 'c1', 'train', 'NVIDIA-H100-80GB-HBM3', 8, T(1)),
  node('h2', 'c1', 'train', 'NVIDIA-H100-80GB-HBM3', 8, T(8), { schedulable: false }),
  node('m1', 'c1', 'infer', 'NVIDIA-A100-SXM4-80GB', 1, T(1)),
  node('v1', 'c1', 'old', 'Tesla-V100-SXM2-32GB', 4, T(1)),
  node('g1', 'c2', 'burst', 'NVIDIA-A100-SXM4-40GB', 8, T(10), { provider: 'aws', instanceType: 'p4d.24xlarge' }),
  node('s1', 'c2', 'burst', 'NVIDIA-A10G', 1, T(14), { provider: 'aws', instanceType: 'g5.xlarge', spot: true }),
]
const instance = (id: string, n: string, type: string, lifecycle: 'spot' | 'on-demand', gpus: number, tsMs: number): CloudInstance => ({
  tsMs, provider: 'aws', region: 'us-east-1', instanceId: id, instanceType: type, lifecycle, state: 'running', gpus, gpuModel: '', cluster: 'c2', node: n,
})
export const INSTANCES: CloudInstance[] = [instance('i-g1', 'g1', 'p4d.24xlarge', 'on-demand', 8, T(10)), instance('i-s1', 's1', 'g5.xlarge', 'spot', 1, T(14))]
const price = (region: string, usdPerHour: number, effectiveFromMs: number): Price => ({
  provider: 'aws', region, instanceType: 'p4d.24xlarge', lifecycle: 'on-demand', gpus: 8, usdPerHour, effectiveFromMs,
})
export const PRICES: Price[] = [price('us-east-1', 32, Date.UTC(2000, 0, 1)), price('us-east-1', 24, T(12)), price('us-west-2', 40, Date.UTC(2000, 0, 1))]

const pod = (uid: string, team: string, project: string, ns: string, nodeName: string, gpus: number, startMs: number, endMs?: number, cluster = 'c1'): WorkloadInterval => ({
  cluster, podUid: uid, namespace: ns, pod: `${uid}-0`, workloadKind: 'Job', workloadName: uid, team, project, user: '', node: nodeName, gpus,
  gpuResource: gpus < 1 ? 'nvidia.com/mig-1g.10gb' : 'nvidia.com/gpu', createdMs: startMs, startMs, endMs, lastSeenMs: endMs ?? NOW, phase: endMs === undefined ? 'Running' : 'Succeeded',
})
export const PODS: WorkloadInterval[] = [
  pod('q1', 'vision', 'det', 'vision', 'h1', 4, T(2), T(4)),
  pod('q2', 'vision', 'seg', 'vision', 'm1', 1 / 7, T(1)),
  pod('q3', 'nlp', 'llm', 'nlp', 'g1', 8, T(11), T(13), 'c2'),
  pod('q4', 'nlp', 'chat', 'nlp', 'h2', 2, T(7), T(9)),
  pod('q5', '', '', 'scratch', 'v1', 1, T(3), T(3, 10)),
  pod('q6', 'nlp', 'llm', 'nlp', 's1', 1, T(15), undefined, 'c2'),
  pod('q7', 'vision', 'det', 'vision', 'h1', 8, T(1) - 20 * HOUR, T(1) - 10 * HOUR),
  // Crosses the period start: only its 6 hours in this month count.
  pod('q8', 'vision', 'det', 'vision', 'v1', 2, T(1) - 6 * HOUR, T(1, 6)),
]
/** q1's 4 GPUs sampled every hour of the 2nd at GR_ENGINE_ACTIVE 0.6; nothing else is sampled. */
export const SAMPLES: GpuSample[] = Array.from({ length: 24 * 4 }, (_, i) => ({
  tsMs: T(2) + Math.floor(i / 4) * HOUR + HOUR / 2, cluster: 'c1', node: 'h1', gpuUuid: `GPU-h1-${i % 4}`, gpuIndex: i % 4, model: 'NVIDIA H100 80GB HBM3',
  migProfile: '', namespace: 'vision', pod: 'q1-0', container: 'main', grEngineActiveRatio: 0.6,
}))

/** Opens a test store with the fleet's rate card and writes the fleet into it. */
export async function openPricedFleet(): Promise<TestStore> {
  const analytics = analyticsSchema.parse({ rateCard: { defaultUsdPerGpuHour: 2, rates: [{ gpuModel: 'H100', usdPerGpuHour: 2.5 }, { pool: 'infer', usdPerGpuHour: 1.2 }] } })
  const ts = await openTestStore({ analytics })
  const s = ts.writers.sinks
  const written = Promise.all([
    s.nodeState.write(NODES), s.workloadIntervals.write(PODS), s.gpuSamples.write(SAMPLES), s.prices.write(PRICES), s.cloudInstances.write(INSTANCES),
  ])
  await ts.writers.flush()
  await written
  return ts
}
