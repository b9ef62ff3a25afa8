import type { KubeObject, Node, Notebook, Pod } from '../../kubernetes/types'
import type { SimCluster, SimNode, SimPod } from './cluster'
import { hash32 } from './random'

/**
 * The simulated cluster as Kubernetes objects at a moment: what its API server
 * would list. The same objects feed the live replay (served over list+watch)
 * and the backfill (mapped by the Kubernetes collector's own functions).
 */

/** How long a finished pod stays listed before it is deleted (like a Job's TTL after finishing). */
export const FINISHED_POD_TTL_MS = 10 * 60_000

const iso = (ms: number) => new Date(ms).toISOString()
const ALIBABA_COUNT = 'alibabacloud.com/gpu-count'
const ALIBABA_MILLI = 'alibabacloud.com/gpu-milli'

/**
 * When the pod is removed from the API: a cancelled pod (final Deleted) when
 * it is deleted, at its end; a finished one FINISHED_POD_TTL_MS after it
 * finished; undefined while it has not ended.
 */
export function podRemovedAtMs(p: Pick<SimPod, 'endMs' | 'final'>): number | undefined {
  if (p.endMs === undefined) return undefined
  return p.final === 'Deleted' ? p.endMs : p.endMs + FINISHED_POD_TTL_MS
}

/** Whether the pod is listed at `tMs` (created, and not yet removed). */
export const podListedAt = (p: SimPod, tMs: number): boolean => {
  const removedMs = podRemovedAtMs(p)
  return p.createdMs <= tMs && (removedMs === undefined || tMs < removedMs)
}

/** A node object as the kubelet and GPU feature discovery would publish it. */
export function nodeObject(sim: SimCluster, n: SimNode): Node {
  const gpus = n.gpus.length
  const resources: Record<string, string> =
    sim.trace === 'alibaba-v2023' ? { [ALIBABA_COUNT]: String(gpus), [ALIBABA_MILLI]: String(gpus * 1000) } : { 'nvidia.com/gpu': String(gpus) }
  const labels: Record<string, string> = {
    'kubernetes.io/hostname': n.name,
    'nvidia.com/gpu.product': n.spec.product,
    'nvidia.com/gpu.count': String(gpus),
    'gpuscope.io/pool': n.pool,
    'node.kubernetes.io/instance-type': n.instanceType,
  }
  if (sim.trace === 'alibaba-v2023') labels['alibabacloud.com/gpu-card-model'] = n.gpuCode
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: n.name, uid: `node-${hash32(n.name).toString(16)}`, creationTimestamp: iso(n.createdMs), labels },
    spec: {},
    status: {
      capacity: { cpu: '64', memory: '256Gi', pods: '110', ...resources },
      allocatable: { cpu: '63', memory: '250Gi', pods: '110', ...resources },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastTransitionTime: iso(n.createdMs) }],
    },
  }
}

/** A namespace per team, labelled with the team (the collector's fallback for attribution). */
export function namespaceObject(team: string, createdMs: number): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: team, uid: `ns-${team}`, creationTimestamp: iso(createdMs), labels: { 'gpuscope.io/team': team } } }
}

/**
 * Real public images a workload of each kind would plausibly run: NGC training
 * containers for Jobs, GPU Jupyter images for Notebooks, inference servers for
 * Deployments. One is picked per workload (every pod of it runs the same).
 */
export const SIM_IMAGES: Readonly<Record<SimPod['kind'], readonly string[]>> = {
  Job: ['nvcr.io/nvidia/pytorch:24.05-py3', 'nvcr.io/nvidia/pytorch:24.03-py3', 'nvcr.io/nvidia/nemo:24.12.01', 'nvcr.io/nvidia/tensorflow:24.06-tf2-py3'],
  Notebook: ['quay.io/jupyter/pytorch-notebook:cuda12-latest', 'kubeflownotebookswg/jupyter-pytorch-cuda-full:v1.8.0'],
  Deployment: ['nvcr.io/nvidia/tritonserver:24.05-py3', 'vllm/vllm-openai:v0.4.3'],
}

/** The container image of a simulated workload: fixed by its kind and name. */
export function simImage(p: Pick<SimPod, 'kind' | 'workloadName'>): string {
  const choices = SIM_IMAGES[p.kind]
  return choices[hash32('image', p.kind, p.workloadName) % choices.length] as string
}

function podOwner(p: SimPod): { kind: string; name: string; apiVersion: string } {
  if (p.kind === 'Job') return { apiVersion: 'batch/v1', kind: 'Job', name: p.workloadName }
  if (p.kind === 'Notebook') return { apiVersion: 'apps/v1', kind: 'StatefulSet', name: p.workloadName }
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${p.workloadName}-${(hash32(p.workloadName) % 0xfffff).toString(16).padStart(5, '0')}` }
}

/** The pod as the API server would show it at `tMs` (phase, conditions, container states). */
export function podObject(sim: SimCluster, p: SimPod, tMs: number): Pod {
  const requests: Record<string, string> =
    sim.trace === 'alibaba-v2023'
      ? { cpu: '4', [ALIBABA_COUNT]: String(p.numGpu), [ALIBABA_MILLI]: String(Math.round(p.share * 1000)) }
      : { cpu: '8', 'nvidia.com/gpu': String(p.numGpu) }
  const owner = podOwner(p)
  const started = p.startMs !== undefined && p.startMs <= tMs
  const finished = p.endMs !== undefined && p.endMs <= tMs
  // A cancelled pod is deleted while it runs: its containers are stopped (SIGTERM) and the API
  // removes it before the kubelet reports a final phase, so it stays Running, marked for deletion.
  const cancelled = finished && p.final === 'Deleted'
  const phase = cancelled ? 'Running' : finished ? (p.final === 'Failed' || p.final === 'Pending' ? 'Failed' : 'Succeeded') : started ? 'Running' : 'Pending'
  const labels: Record<string, string> = {
    'gpuscope.io/team': p.profile.team, 'gpuscope.io/project': p.profile.project, 'gpuscope.io/user': p.profile.user,
  }
  if (p.kind === 'Notebook') labels['notebook-name'] = p.workloadName
  if (p.kind === 'Job') labels['job-name'] = p.workloadName
  const scheduled = started
    ? { type: 'PodScheduled', status: 'True', lastTransitionTime: iso(p.startMs as number) }
    : { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', lastTransitionTime: iso(p.createdMs) }
  const exit = cancelled ? { exitCode: 143, reason: 'Error' } : p.final === 'Failed' ? { exitCode: 1, reason: 'Error' } : { exitCode: 0, reason: 'Completed' }
  const containerState = finished
    ? { terminated: { startedAt: iso(p.startMs ?? p.createdMs), finishedAt: iso(p.endMs as number), ...exit } }
    : started ? { running: { startedAt: iso(p.startMs as number) } } : { waiting: { reason: 'ContainerCreating' } }
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: p.name, namespace: p.namespace, uid: p.uid, creationTimestamp: iso(p.createdMs), labels,
      ...(cancelled ? { deletionTimestamp: iso(p.endMs as number) } : {}),
      ownerReferences: [{ ...owner, uid: `owner-${hash32(owner.kind, owner.name).toString(16)}`, controller: true }],
    },
    spec: { ...(p.node && started ? { nodeName: p.node } : {}), containers: [{ name: 'main', image: simImage(p), resources: { requests, limits: requests } }] },
    status: {
      phase, conditions: [scheduled], ...(started ? { startTime: iso(p.startMs as number) } : {}),
      containerStatuses: [{ name: 'main', state: containerState }],
    },
  }
}

/** The owner chain objects of listed pods: Jobs, StatefulSets + Notebooks, ReplicaSets + Deployments. */
export function ownerObjects(pods: readonly SimPod[]): { jobs: KubeObject[]; statefulsets: KubeObject[]; notebooks: Notebook[]; replicasets: KubeObject[] } {
  const out = { jobs: [] as KubeObject[], statefulsets: [] as KubeObject[], notebooks: [] as Notebook[], replicasets: [] as KubeObject[] }
  const seen = new Set<string>()
  for (const p of pods) {
    const key = `${p.namespace}/${p.kind}/${p.workloadName}`
    if (seen.has(key)) continue
    seen.add(key)
    const meta = (kind: string, name: string) => ({ name, namespace: p.namespace, uid: `owner-${hash32(kind, name).toString(16)}`, creationTimestamp: iso(p.createdMs), labels: { 'gpuscope.io/team': p.profile.team } })
    if (p.kind === 'Job') out.jobs.push({ apiVersion: 'batch/v1', kind: 'Job', metadata: meta('Job', p.workloadName) })
    if (p.kind === 'Notebook') {
      out.notebooks.push({ apiVersion: 'kubeflow.org/v1', kind: 'Notebook', metadata: { ...meta('Notebook', p.workloadName), labels: { 'gpuscope.io/team': p.profile.team, 'notebooks.kubeflow.org/creator': p.profile.user } }, status: { readyReplicas: 1 } })
      out.statefulsets.push({
        apiVersion: 'apps/v1', kind: 'StatefulSet',
        metadata: { ...meta('StatefulSet', p.workloadName), ownerReferences: [{ apiVersion: 'kubeflow.org/v1', kind: 'Notebook', name: p.workloadName, uid: `owner-${hash32('Notebook', p.workloadName).toString(16)}`, controller: true }] },
      })
    }
    if (p.kind === 'Deployment') {
      const rs = podOwner(p).name
      out.replicasets.push({
        apiVersion: 'apps/v1', kind: 'ReplicaSet',
        metadata: { ...meta('ReplicaSet', rs), ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: p.workloadName, uid: `owner-${hash32('Deployment', p.workloadName).toString(16)}`, controller: true }] },
      })
    }
  }
  return out
}
