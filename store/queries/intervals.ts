/**
 * Reads the Kubernetes collector needs to reconcile the store with a fresh
 * list: intervals still open for a cluster, and each node's latest state.
 */
import type { NodeState, WorkloadInterval, WorkloadPhase } from '../../core/model'
import type { QueryFn } from '../../core/ports'

/** Intervals of a cluster with no end yet, newest row per pod (FINAL). */
const OPEN_INTERVALS = `
SELECT cluster, pod_uid, namespace, pod, workload_kind, workload_name, team, project, user, node, gpus, gpu_resource,
       toUnixTimestamp64Milli(created_ts) AS created_ms, toUnixTimestamp64Milli(start_ts) AS start_ms,
       toUnixTimestamp64Milli(last_seen_ts) AS last_seen_ms, phase
FROM workload_intervals FINAL
WHERE cluster = {cluster:String} AND end_ts IS NULL`

/** The latest node_state row of every node of a cluster. */
const LATEST_NODE_STATES = `
SELECT toUnixTimestamp64Milli(ts) AS ts_ms, cluster, node, pool, gpu_model, provider, instance_type, spot,
       capacity_gpus, allocatable_gpus, ready, schedulable
FROM node_state
WHERE cluster = {cluster:String}
ORDER BY node, ts DESC
LIMIT 1 BY node`

interface IntervalRow {
  cluster: string
  pod_uid: string
  namespace: string
  pod: string
  workload_kind: string
  workload_name: string
  team: string
  project: string
  user: string
  node: string
  gpus: number
  gpu_resource: string
  created_ms: number
  start_ms: number | null
  last_seen_ms: number
  phase: string
}

interface NodeRow {
  ts_ms: number
  cluster: string
  node: string
  pool: string
  gpu_model: string
  provider: string
  instance_type: string
  spot: boolean
  capacity_gpus: number
  allocatable_gpus: number
  ready: boolean
  schedulable: boolean
}

/** Every interval of the cluster that has no end in the store (running or pending pods, as last written). */
export async function openIntervals(query: QueryFn, cluster: string): Promise<WorkloadInterval[]> {
  const rows = await query<IntervalRow>(OPEN_INTERVALS, { cluster })
  return rows.map((r) => ({
    cluster: r.cluster,
    podUid: r.pod_uid,
    namespace: r.namespace,
    pod: r.pod,
    workloadKind: r.workload_kind,
    workloadName: r.workload_name,
    team: r.team,
    project: r.project,
    user: r.user,
    node: r.node,
    gpus: r.gpus,
    gpuResource: r.gpu_resource,
    createdMs: r.created_ms,
    startMs: r.start_ms ?? undefined,
    endMs: undefined,
    lastSeenMs: r.last_seen_ms,
    phase: r.phase as WorkloadPhase,
  }))
}

/** The latest stored state of every node of the cluster. */
export async function latestNodeStates(query: QueryFn, cluster: string): Promise<NodeState[]> {
  const rows = await query<NodeRow>(LATEST_NODE_STATES, { cluster })
  return rows.map((r) => ({
    tsMs: r.ts_ms,
    cluster: r.cluster,
    node: r.node,
    pool: r.pool,
    gpuModel: r.gpu_model,
    provider: r.provider,
    instanceType: r.instance_type,
    spot: r.spot,
    capacityGpus: r.capacity_gpus,
    allocatableGpus: r.allocatable_gpus,
    ready: r.ready,
    schedulable: r.schedulable,
  }))
}
