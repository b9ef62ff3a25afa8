import type { NodeState, WorkloadInterval } from '../../core/model'
import type { TestStore } from './store'

const MIN = 60_000

/** A saturated on-prem pool for the burst tests: one 8-GPU job running on each DGX node, and 8-GPU pods pending. */
export interface SaturatedPool {
  /** Start of the scenario: nodes appear 120 min before, jobs start 110 min before, pods pend from 60 min before. */
  t0Ms: number
  cluster: string
  pool?: string
  /** One node per running job: [node, job]. */
  running: ReadonlyArray<readonly [string, string]>
  pending: readonly string[]
  namespace: string
  team: string
}

/** The node states and pod intervals of the pool. */
export function saturatedPool(p: SaturatedPool): { nodes: NodeState[]; pods: WorkloadInterval[] } {
  const nodes: NodeState[] = p.running.map(([node]) => ({
    tsMs: p.t0Ms - 120 * MIN, cluster: p.cluster, node, pool: p.pool ?? 'dgx', gpuModel: 'H100', provider: 'onprem', instanceType: 'dgx-h100', spot: false,
    capacityGpus: 8, allocatableGpus: 8, ready: true, schedulable: true,
  }))
  const pod = (name: string, node: string, startMs: number | undefined): WorkloadInterval => ({
    cluster: p.cluster, podUid: `uid-${p.cluster}-${name}`, namespace: p.namespace, pod: name, workloadKind: 'Job', workloadName: name, team: p.team, project: 'p', user: 'u', node, gpus: 8,
    gpuResource: 'nvidia.com/gpu', createdMs: startMs ?? p.t0Ms - 60 * MIN, startMs, lastSeenMs: p.t0Ms + 60 * MIN, phase: startMs ? 'Running' : 'Pending',
  })
  const pods = [...p.running.map(([node, job]) => pod(job, node, p.t0Ms - 110 * MIN)), ...p.pending.map((name) => pod(name, '', undefined))]
  return { nodes, pods }
}

/** Writes the pool into the store (and waits until it is stored). */
export async function seedSaturatedPool(ts: TestStore, p: SaturatedPool): Promise<void> {
  const { nodes, pods } = saturatedPool(p)
  const written = Promise.all([ts.writers.sinks.nodeState.write(nodes), ts.writers.sinks.workloadIntervals.write(pods)])
  await ts.writers.flush()
  await written
}

/** The fleet of test/burst.test.ts: 8 DGX nodes (64 GPUs) fully allocated in cluster c1, 16 GPUs pending. */
export const dgxFleet = (t0Ms: number): SaturatedPool => ({
  t0Ms, cluster: 'c1', namespace: 'train', team: 'nlp',
  running: Array.from({ length: 8 }, (_, i) => [`dgx-${i}`, `run-${i}`] as const), pending: ['wait-0', 'wait-1'],
})
