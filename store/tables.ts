import type { ActionRecord, CloudInstance, GpuSample, NodeSeen, NodeState, NotebookActivity, Price, WorkloadInterval } from '../core/model'
import { bool, json, num, optNum, optTs, str, strArray, ts, type Encoder, type TableSpec } from './tsv'

/** Builds a spec from `[column, encoder]` pairs so names and encoders cannot drift apart. */
function spec<T>(table: string, cols: Array<[string, Encoder<T>]>): TableSpec<T> {
  return { table, columns: cols.map((c) => c[0]), encoders: cols.map((c) => c[1]) }
}

/** Insert layout of gpu_samples (store/migrations/0001). */
export const gpuSamplesSpec = spec<GpuSample>('gpu_samples', [
  ['ts', ts((r) => r.tsMs)],
  ['cluster', str((r) => r.cluster)],
  ['node', str((r) => r.node)],
  ['gpu_uuid', str((r) => r.gpuUuid)],
  ['gpu_index', num((r) => r.gpuIndex)],
  ['model', str((r) => r.model)],
  ['mig_profile', str((r) => r.migProfile)],
  ['mig_instance', optNum((r) => r.migInstance)],
  ['namespace', str((r) => r.namespace)],
  ['pod', str((r) => r.pod)],
  ['container', str((r) => r.container)],
  ['gr_engine_active', optNum((r) => r.grEngineActiveRatio)],
  ['sm_active', optNum((r) => r.smActiveRatio)],
  ['sm_occupancy', optNum((r) => r.smOccupancyRatio)],
  ['tensor_active', optNum((r) => r.tensorActiveRatio)],
  ['dram_active', optNum((r) => r.dramActiveRatio)],
  ['gpu_util', optNum((r) => r.gpuUtilRatio)],
  ['fb_used_bytes', optNum((r) => r.fbUsedBytes)],
  ['fb_free_bytes', optNum((r) => r.fbFreeBytes)],
  ['power_watts', optNum((r) => r.powerWatts)],
  ['temperature_c', optNum((r) => r.temperatureC)],
])

/** Insert layout of workload_intervals (store/migrations/0001, images from 0005). */
export const workloadIntervalsSpec = spec<WorkloadInterval>('workload_intervals', [
  ['cluster', str((r) => r.cluster)],
  ['pod_uid', str((r) => r.podUid)],
  ['namespace', str((r) => r.namespace)],
  ['pod', str((r) => r.pod)],
  ['workload_kind', str((r) => r.workloadKind)],
  ['workload_name', str((r) => r.workloadName)],
  ['team', str((r) => r.team)],
  ['project', str((r) => r.project)],
  ['user', str((r) => r.user)],
  ['node', str((r) => r.node)],
  ['gpus', num((r) => r.gpus)],
  ['gpu_resource', str((r) => r.gpuResource)],
  ['created_ts', ts((r) => r.createdMs)],
  ['start_ts', optTs((r) => r.startMs)],
  ['end_ts', optTs((r) => r.endMs)],
  ['last_seen_ts', ts((r) => r.lastSeenMs)],
  ['phase', str((r) => r.phase)],
  // store/migrations/0005; a row without images writes [] (unknown).
  ['images', strArray((r) => r.images)],
])

/** Insert layout of node_state. */
export const nodeStateSpec = spec<NodeState>('node_state', [
  ['ts', ts((r) => r.tsMs)],
  ['cluster', str((r) => r.cluster)],
  ['node', str((r) => r.node)],
  ['pool', str((r) => r.pool)],
  ['gpu_model', str((r) => r.gpuModel)],
  ['provider', str((r) => r.provider)],
  ['instance_type', str((r) => r.instanceType)],
  ['spot', bool((r) => r.spot)],
  ['capacity_gpus', num((r) => r.capacityGpus)],
  ['allocatable_gpus', num((r) => r.allocatableGpus)],
  ['ready', bool((r) => r.ready)],
  ['schedulable', bool((r) => r.schedulable)],
])

/** Insert layout of node_seen. */
export const nodeSeenSpec = spec<NodeSeen>('node_seen', [
  ['cluster', str((r) => r.cluster)],
  ['node', str((r) => r.node)],
  ['last_seen_ts', ts((r) => r.seenMs)],
])

/** Insert layout of notebook_activity. */
export const notebookActivitySpec = spec<NotebookActivity>('notebook_activity', [
  ['ts', ts((r) => r.tsMs)],
  ['cluster', str((r) => r.cluster)],
  ['namespace', str((r) => r.namespace)],
  ['notebook', str((r) => r.notebook)],
  ['kernel_id', str((r) => r.kernelId)],
  ['execution_state', str((r) => r.executionState)],
  ['last_activity_ts', ts((r) => r.lastActivityMs)],
  ['connections', num((r) => r.connections)],
])

/** Insert layout of cloud_instances. */
export const cloudInstancesSpec = spec<CloudInstance>('cloud_instances', [
  ['ts', ts((r) => r.tsMs)],
  ['provider', str((r) => r.provider)],
  ['region', str((r) => r.region)],
  ['instance_id', str((r) => r.instanceId)],
  ['instance_type', str((r) => r.instanceType)],
  ['lifecycle', str((r) => r.lifecycle)],
  ['state', str((r) => r.state)],
  ['gpus', num((r) => r.gpus)],
  ['gpu_model', str((r) => r.gpuModel)],
  ['cluster', str((r) => r.cluster)],
  ['node', str((r) => r.node)],
])

/** Insert layout of prices. */
export const pricesSpec = spec<Price>('prices', [
  ['provider', str((r) => r.provider)],
  ['region', str((r) => r.region)],
  ['instance_type', str((r) => r.instanceType)],
  ['lifecycle', str((r) => r.lifecycle)],
  ['gpus', num((r) => r.gpus)],
  ['usd_per_hour', num((r) => r.usdPerHour)],
  ['effective_from_ts', ts((r) => r.effectiveFromMs)],
])

/** Insert layout of the actions audit log. */
export const actionsSpec = spec<ActionRecord>('actions', [
  ['ts', ts((r) => r.tsMs)],
  ['id', str((r) => r.id)],
  ['action', str((r) => r.action)],
  ['cluster', str((r) => r.cluster)],
  ['namespace', str((r) => r.namespace)],
  ['workload_kind', str((r) => r.workloadKind)],
  ['workload_name', str((r) => r.workloadName)],
  ['decision', str((r) => r.decision)],
  ['dry_run', bool((r) => r.dryRun)],
  ['acted', bool((r) => r.acted)],
  ['reason', str((r) => r.reason)],
  ['evidence', json((r) => r.evidence)],
  ['actor', str((r) => r.actor)],
])
