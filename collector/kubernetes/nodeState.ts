/**
 * Node -> NodeState: GPU capacity and allocatable, GPU model, pool, provider,
 * instance type, spot, Ready and schedulable, as the node object states them. Pure.
 */
import type { GpuResourceConfig, KubernetesLabelKeys } from '../../config/kubernetes'
import type { NodeState } from '../../core/model'
import { nodeGpus } from './gpuRequests'
import type { KubeObject, Node } from './types'

/** What mapping a node needs besides the node itself. */
export interface NodeContext {
  cluster: string
  gpuResources: readonly GpuResourceConfig[]
  labels: Pick<KubernetesLabelKeys, 'pool' | 'gpuModel'>
  defaultProvider: string
  defaultGpuModel: string
}

/** providerID schemes whose usual name differs (`gce://` is Google Cloud). */
const PROVIDER_ALIASES: Readonly<Record<string, string>> = { gce: 'gcp', azure: 'azure', aws: 'aws' }

/** Labels clouds and autoscalers put on spot / preemptible nodes, with the value meaning spot (lower-cased). */
const SPOT_LABELS: ReadonlyArray<readonly [string, string]> = [
  ['eks.amazonaws.com/capacityType', 'spot'],
  ['karpenter.sh/capacity-type', 'spot'],
  ['cloud.google.com/gke-spot', 'true'],
  ['cloud.google.com/gke-preemptible', 'true'],
  ['kubernetes.azure.com/scalesetpriority', 'spot'],
  ['node.kubernetes.io/lifecycle', 'spot'],
]

/** The first of `keys` present as a label (then as an annotation) on the object; '' when none. */
export function firstLabel(obj: KubeObject | undefined, keys: readonly string[]): string {
  for (const key of keys) {
    const v = obj?.metadata.labels?.[key] ?? obj?.metadata.annotations?.[key]
    if (v !== undefined && v !== '') return v
  }
  return ''
}

/** Cloud provider from a providerID (`aws:///us-east-1a/i-0abc` -> aws, `gce://...` -> gcp); the fallback when there is none. */
export function providerOf(providerID: string | undefined, fallback: string): string {
  const scheme = /^([a-z0-9-]+):\/\//i.exec(providerID ?? '')?.[1]?.toLowerCase()
  if (!scheme) return fallback
  return PROVIDER_ALIASES[scheme] ?? scheme
}

/** True when any of the usual cloud or autoscaler labels marks the node as spot / preemptible. */
export function isSpot(labels: Record<string, string> | undefined): boolean {
  return SPOT_LABELS.some(([key, value]) => labels?.[key]?.toLowerCase() === value)
}

/** GPU model named by the node's labels or annotations (GPU feature discovery), '' when none. */
export function labelledGpuModel(node: Node, keys: readonly string[]): string {
  return firstLabel(node, keys)
}

/** Maps a node to its state at tsMs. */
export function nodeState(node: Node, ctx: NodeContext, tsMs: number): NodeState {
  const labels = node.metadata.labels ?? {}
  const gpuModel = labelledGpuModel(node, ctx.labels.gpuModel) || ctx.defaultGpuModel
  const model = gpuModel || undefined
  const ready = (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  return {
    tsMs,
    cluster: ctx.cluster,
    node: node.metadata.name,
    pool: firstLabel(node, ctx.labels.pool),
    gpuModel,
    provider: providerOf(node.spec?.providerID, ctx.defaultProvider),
    instanceType: labels['node.kubernetes.io/instance-type'] ?? labels['beta.kubernetes.io/instance-type'] ?? '',
    spot: isSpot(labels),
    capacityGpus: nodeGpus(node.status?.capacity, ctx.gpuResources, model),
    allocatableGpus: nodeGpus(node.status?.allocatable, ctx.gpuResources, model),
    ready,
    schedulable: node.spec?.unschedulable !== true,
  }
}

/**
 * True when a node belongs in node_state: it has GPU capacity, or its labels
 * name a GPU model (a GPU node whose device plugin is not up yet has capacity 0).
 */
export function isGpuNode(node: Node, state: NodeState, ctx: NodeContext): boolean {
  return state.capacityGpus > 0 || state.allocatableGpus > 0 || labelledGpuModel(node, ctx.labels.gpuModel) !== ''
}

/** True when two states differ only in their timestamp. */
export function sameNodeState(a: NodeState, b: NodeState): boolean {
  return (
    a.cluster === b.cluster && a.node === b.node && a.pool === b.pool && a.gpuModel === b.gpuModel && a.provider === b.provider &&
    a.instanceType === b.instanceType && a.spot === b.spot && a.capacityGpus === b.capacityGpus &&
    a.allocatableGpus === b.allocatableGpus && a.ready === b.ready && a.schedulable === b.schedulable
  )
}

/** The row written when a node leaves the cluster: no GPUs, not Ready, not schedulable, from tsMs on. */
export function goneNodeState(last: NodeState, tsMs: number): NodeState {
  return { ...last, tsMs, capacityGpus: 0, allocatableGpus: 0, ready: false, schedulable: false }
}

/** True for a row goneNodeState produced (or any node with nothing to offer). */
export function isGone(state: NodeState): boolean {
  return state.capacityGpus === 0 && state.allocatableGpus === 0 && !state.ready && !state.schedulable
}
