/**
 * Pod -> WorkloadInterval: node, start (PodScheduled), end (containers
 * terminated, or deletion), phase, and team / project / user from labels or
 * annotations on the pod, its owners and its namespace. Pure.
 */
import type { KubernetesConfig, KubernetesLabelKeys } from '../../config/kubernetes'
import type { WorkloadInterval, WorkloadPhase } from '../../core/model'
import { podGpuRequest, type GpuRequest } from './gpuRequests'
import { firstLabel } from './nodeState'
import { resolveWorkload, type OwnerLookup, type Workload } from './owners'
import type { ContainerStatus, KubeObject, Pod } from './types'

/** Who a workload is charged to. */
export interface Attribution {
  team: string
  project: string
  user: string
}

/** Where a pod is in its life, as an interval sees it. */
export interface PodLifecycle {
  /** Empty while not bound to a node. */
  node: string
  phase: WorkloadPhase
  startMs?: number | undefined
  endMs?: number | undefined
}

/** Everything besides the pod that its interval is built from. */
export interface IntervalFacts {
  cluster: string
  request: GpuRequest
  workload: Pick<Workload, 'kind' | 'name'>
  who: Attribution
  nowMs: number
  /** The pod is gone from the API (DELETED event, or absent from a relist). */
  deleted: boolean
}

const PHASES: ReadonlySet<string> = new Set(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'])

/** Epoch ms of an RFC 3339 time; undefined when absent or unparsable. */
export function timeMs(s: string | undefined): number | undefined {
  if (!s) return undefined
  const ms = Date.parse(s)
  return Number.isFinite(ms) ? ms : undefined
}

/**
 * Team, project and user: for each, the first configured key found as a
 * label or annotation on the first source that has one. Sources go from the
 * most specific (the pod) to the least (its namespace).
 */
export function attribution(sources: readonly KubeObject[], keys: Pick<KubernetesLabelKeys, 'team' | 'project' | 'user'>): Attribution {
  const pick = (k: readonly string[]) => {
    for (const src of sources) {
      const v = firstLabel(src, k)
      if (v !== '') return v
    }
    return ''
  }
  return { team: pick(keys.team), project: pick(keys.project), user: pick(keys.user) }
}

function terminatedAt(statuses: readonly ContainerStatus[] | undefined): number[] {
  return (statuses ?? []).flatMap((s) => {
    const t = timeMs(s.state?.terminated?.finishedAt)
    return t === undefined ? [] : [t]
  })
}

/** The latest container finish time, and whether every app container has terminated. */
function finish(pod: Pod): { finishedMs: number | undefined; allTerminated: boolean } {
  const app = pod.status?.containerStatuses ?? []
  const times = [...terminatedAt(app), ...terminatedAt(pod.status?.initContainerStatuses)]
  const allTerminated = app.length > 0 && app.every((s) => s.state?.terminated !== undefined)
  return { finishedMs: times.length > 0 ? Math.max(...times) : undefined, allTerminated }
}

/**
 * A pod's node, phase, start and end. Start is when it was bound (the
 * PodScheduled condition turning True; else its start time or creation).
 * A Succeeded or Failed pod ends when its last container finished; a pod
 * deleted before that ends when its containers finished or, failing that,
 * at nowMs (when the collector learned of it), with phase Deleted.
 */
export function podLifecycle(pod: Pod, nowMs: number, deleted: boolean): PodLifecycle {
  const node = pod.spec?.nodeName ?? ''
  const raw = pod.status?.phase
  let phase: WorkloadPhase = raw === undefined ? 'Pending' : PHASES.has(raw) ? (raw as WorkloadPhase) : 'Unknown'
  const createdMs = timeMs(pod.metadata.creationTimestamp) ?? nowMs
  const scheduled = (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'True')
  const startMs = node ? (timeMs(scheduled?.lastTransitionTime) ?? timeMs(pod.status?.startTime) ?? createdMs) : undefined
  let endMs: number | undefined
  if (phase === 'Succeeded' || phase === 'Failed') {
    endMs = finish(pod).finishedMs ?? nowMs
  } else if (deleted) {
    const f = finish(pod)
    endMs = f.allTerminated && f.finishedMs !== undefined ? f.finishedMs : nowMs
    phase = 'Deleted'
  }
  if (endMs !== undefined) endMs = Math.max(endMs, startMs ?? createdMs)
  return { node, phase, startMs, endMs }
}

/**
 * The images of the pod's app containers, in spec order, without repeats.
 * Init containers are left out: they run before the workload (fetching data,
 * fixing permissions) or beside it as infrastructure (a native-sidecar mesh
 * proxy), and the 360 view answers "what does this job run".
 */
export function podImages(pod: Pod): string[] {
  return [...new Set((pod.spec?.containers ?? []).flatMap((c) => (c.image ? [c.image] : [])))]
}

/** Builds a pod's interval from the pod and the facts the collector gathered about it. */
export function toWorkloadInterval(pod: Pod, facts: IntervalFacts): WorkloadInterval {
  const life = podLifecycle(pod, facts.nowMs, facts.deleted)
  const namespace = pod.metadata.namespace ?? ''
  return {
    cluster: facts.cluster,
    podUid: pod.metadata.uid ?? `${namespace}/${pod.metadata.name}`,
    namespace,
    pod: pod.metadata.name,
    workloadKind: facts.workload.kind,
    workloadName: facts.workload.name,
    team: facts.who.team,
    project: facts.who.project,
    user: facts.who.user,
    node: life.node,
    gpus: facts.request.gpus,
    gpuResource: facts.request.resource,
    createdMs: timeMs(pod.metadata.creationTimestamp) ?? facts.nowMs,
    startMs: life.startMs,
    endMs: life.endMs,
    lastSeenMs: facts.nowMs,
    phase: life.phase,
    images: podImages(pod),
  }
}

const COMPARED: ReadonlyArray<keyof WorkloadInterval> = [
  'cluster', 'podUid', 'namespace', 'pod', 'workloadKind', 'workloadName', 'team', 'project', 'user', 'node', 'gpus', 'gpuResource',
  'createdMs', 'startMs', 'endMs', 'phase',
]

/** True when two intervals differ at most in lastSeenMs (so the newer need not be written on a watch event). */
export function sameInterval(a: WorkloadInterval, b: WorkloadInterval): boolean {
  return COMPARED.every((k) => a[k] === b[k]) && sameImages(a.images, b.images)
}

// A running pod's image may change (`kubectl set image` on the pod), so images are compared too.
function sameImages(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = a ?? []
  const y = b ?? []
  return x.length === y.length && x.every((v, i) => v === y[i])
}

/** What mapping a pod needs besides the pod: the cluster, the rules, and lookups into the other caches. */
export interface PodContext {
  cluster: string
  config: Pick<KubernetesConfig, 'gpuResources' | 'labels'>
  owners: OwnerLookup
  namespace(name: string): KubeObject | undefined
  /** GPU model of a node (for MIG fractions); undefined when unknown. */
  nodeModel(node: string): string | undefined
}

/**
 * A pod's interval at nowMs (deleted: it is gone from the API), or undefined
 * when it requests no GPU: GPUs by the pod request rule, the owner workload
 * walked through the caches, and team/project/user from the pod, its owners,
 * then its namespace.
 */
export function podToInterval(pod: Pod, ctx: PodContext, nowMs: number, deleted: boolean): WorkloadInterval | undefined {
  const request = podGpuRequest(pod.spec, ctx.config.gpuResources, ctx.nodeModel(pod.spec?.nodeName ?? ''))
  if (request.gpus <= 0) return undefined
  const workload = resolveWorkload(pod, ctx.owners)
  const ns = ctx.namespace(pod.metadata.namespace ?? '')
  const who = attribution([pod, ...workload.chain, ...(ns ? [ns] : [])], ctx.config.labels)
  return toWorkloadInterval(pod, { cluster: ctx.cluster, request, workload, who, nowMs, deleted })
}
