import type { AlibabaNode, AlibabaPod } from '../traces/alibaba'
import { placePods, type SimCluster, type SimNode, type SimPod } from './cluster'
import { gpuSpecOf, simGpu } from './gpus'
import { profileOf, type SimKind } from './profiles'
import { unit } from './random'

/**
 * The Alibaba PAI v2023 snapshot as a simulated cluster. The trace is a
 * snapshot: a pod's phase is its state at the trace's last instant S, which is
 * mapped to `endMs` on the wall clock (times before it keep their distance
 * from S). So pods recorded Running run from their scheduled time through S
 * (their deletion_time is not used: the snapshot says they are running), pods
 * recorded Pending wait from creation through S, and Succeeded / Failed pods
 * run from scheduled to deletion. Only GPU pods are kept.
 */
export function clusterFromAlibaba(nodes: AlibabaNode[], pods: AlibabaPod[], endMs: number, name = 'alibaba-pai'): SimCluster {
  const lastS = pods.reduce((n, p) => Math.max(n, p.creationS, p.deletionS ?? 0, p.scheduledS ?? 0), 0)
  const wall = (s: number) => endMs - (lastS - s) * 1000
  const simNodes: SimNode[] = nodes
    .filter((n) => n.gpus > 0)
    .map((n) => {
      const spec = gpuSpecOf(n.model)
      return {
        name: n.name, pool: n.model, gpuCode: n.model, spec, instanceType: `ecs.gpu.${n.model.toLowerCase()}.${n.gpus}x`, provider: 'onprem', createdMs: wall(0),
        gpus: Array.from({ length: n.gpus }, (_, index) => simGpu(name, n.name, index, spec)),
      }
    })
  const simPods = pods.filter((p) => p.numGpu > 0).map((p) => toSimPod(p, wall))
  const constraint = new Map(pods.map((p) => [p.name, p.gpuSpec ? new Set(p.gpuSpec.split('|')) : undefined]))
  const overcommitted = placePods(simNodes, simPods, (pod, node) => constraint.get(pod.name)?.has(node.gpuCode) ?? true)
  return { name, trace: 'alibaba-v2023', nodes: simNodes, pods: simPods, endMs, beginMs: wall(0), overcommitted }
}

/**
 * Kind of workload a trace pod is simulated as: shared-GPU pods are mostly
 * inference services, multi-GPU pods are training jobs, single whole-GPU pods
 * split between notebooks, jobs and services (see docs/replay.md).
 */
export function alibabaKind(p: Pick<AlibabaPod, 'name' | 'numGpu' | 'gpuMilli'>): SimKind {
  const u = unit(p.name, 'kind')
  if (p.gpuMilli < 1000) return u < 0.15 ? 'Notebook' : 'Deployment'
  if (p.numGpu > 1) return 'Job'
  return u < 0.25 ? 'Notebook' : u < 0.75 ? 'Job' : 'Deployment'
}

function toSimPod(p: AlibabaPod, wall: (s: number) => number): SimPod {
  const kind = alibabaKind(p)
  const uid = `alibaba-${p.name}`
  const profile = profileOf(uid, kind)
  const base = kind === 'Notebook' ? `${profile.user}-nb` : kind === 'Job' ? `${profile.project}-train` : `${profile.project}-serve`
  const running = p.phase === 'Running'
  return {
    uid, name: p.name, namespace: profile.team, profile, kind,
    workloadName: `${base}-${p.name.replace(/^openb-pod-/, '')}`,
    numGpu: p.numGpu, share: p.gpuMilli / 1000, createdMs: wall(p.creationS),
    startMs: p.phase === 'Pending' || p.scheduledS === undefined ? undefined : wall(p.scheduledS),
    endMs: running || p.phase === 'Pending' || p.deletionS === undefined ? undefined : wall(p.deletionS),
    final: p.phase, devices: [],
  }
}
