/**
 * Domain model: the row shapes the collectors write and every report reads.
 * Units live in the names (DESIGN.md, Definitions). Times are epoch
 * milliseconds (UTC); ratios are 0..1.
 */

/** One GPU (or MIG slice) sampled once by dcgm-exporter; a missing metric is undefined, never 0. */
export interface GpuSample {
  tsMs: number
  cluster: string
  node: string
  gpuUuid: string
  gpuIndex: number
  model: string
  /** MIG profile such as `1g.10gb`; empty for a full GPU. */
  migProfile: string
  /** MIG GPU instance id; undefined for a full GPU. */
  migInstance?: number | undefined
  namespace: string
  pod: string
  container: string
  grEngineActiveRatio?: number | undefined
  smActiveRatio?: number | undefined
  smOccupancyRatio?: number | undefined
  tensorActiveRatio?: number | undefined
  dramActiveRatio?: number | undefined
  /** DCGM_FI_DEV_GPU_UTIL / 100. */
  gpuUtilRatio?: number | undefined
  fbUsedBytes?: number | undefined
  fbFreeBytes?: number | undefined
  powerWatts?: number | undefined
  temperatureC?: number | undefined
}

/** Lifecycle phase of a workload interval, as Kubernetes reports it. */
export type WorkloadPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown' | 'Deleted'

/**
 * One pod's hold on GPUs: [startMs, endMs) on a node. Keyed by pod uid, so a
 * pod seen again (after a collector restart) updates the same interval.
 */
export interface WorkloadInterval {
  cluster: string
  podUid: string
  namespace: string
  pod: string
  /** Top owner kind after walking ownerReferences: Job, Notebook, Deployment, Pod, ... */
  workloadKind: string
  workloadName: string
  team: string
  project: string
  user: string
  /** Empty while pending. */
  node: string
  /** GPUs requested, MIG slices counted by their fraction of a full GPU. */
  gpus: number
  /** Resource name the request came from, e.g. `nvidia.com/gpu`. */
  gpuResource: string
  createdMs: number
  /** When the pod was bound to a node; undefined while pending. */
  startMs?: number | undefined
  /** When it finished or was deleted; undefined while running. */
  endMs?: number | undefined
  lastSeenMs: number
  phase: WorkloadPhase
  /**
   * Container images of the pod's app containers, in spec order (init containers
   * are left out). Empty or undefined means unknown: rows stored before images
   * were collected read [], and a pod always has at least one container.
   */
  images?: string[] | undefined
}

/** One observation of a node's GPU capacity; capacity over time is read from these. */
export interface NodeState {
  tsMs: number
  cluster: string
  node: string
  pool: string
  gpuModel: string
  provider: string
  instanceType: string
  spot: boolean
  capacityGpus: number
  allocatableGpus: number
  ready: boolean
  schedulable: boolean
}

/** The collector still watches a GPU node whose state has not changed (its heartbeat; node_state keeps changes only). */
export interface NodeSeen {
  cluster: string
  node: string
  seenMs: number
}

/** Jupyter kernel activity for one notebook at one poll. */
export interface NotebookActivity {
  tsMs: number
  cluster: string
  namespace: string
  notebook: string
  kernelId: string
  executionState: string
  lastActivityMs: number
  connections: number
}

/** A cloud instance as the cloud API lists it. */
export interface CloudInstance {
  tsMs: number
  provider: string
  region: string
  instanceId: string
  instanceType: string
  lifecycle: 'spot' | 'on-demand'
  state: string
  gpus: number
  gpuModel: string
  cluster: string
  node: string
}

/** Hourly price of an instance type. */
export interface Price {
  provider: string
  region: string
  instanceType: string
  lifecycle: 'spot' | 'on-demand'
  gpus: number
  usdPerHour: number
  effectiveFromMs: number
}

/** One audit row: every alert, warning, shutdown and burst decision, acted or not. */
export interface ActionRecord {
  tsMs: number
  id: string
  action: string
  cluster: string
  namespace: string
  workloadKind: string
  workloadName: string
  decision: string
  dryRun: boolean
  acted: boolean
  reason: string
  /** JSON-serialisable evidence the decision was based on. */
  evidence: unknown
  actor: string
}
