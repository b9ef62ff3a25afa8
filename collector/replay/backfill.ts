import type { KubernetesConfig } from '../../config/kubernetes'
import type { NotebookActivity, WorkloadInterval } from '../../core/model'
import type { StoreSinks } from '../../core/ports'
import { nodeState, type NodeContext } from '../kubernetes/nodeState'
import { podToInterval, type PodContext } from '../kubernetes/podInterval'
import type { KubeObject } from '../kubernetes/types'
import { lastNotebookActivity, activityAt } from './sim/activity'
import type { SimCluster, SimPod } from './sim/cluster'
import { namespaceObject, nodeObject, ownerObjects, podObject } from './sim/objects'
import { clusterSamples, countSamples } from './sim/samples'

/** What a backfill writes and how finely. */
export interface BackfillOptions {
  fromMs: number
  toMs: number
  /** GPU sample resolution (dcgm scrape interval of the history); 0 writes no samples. */
  sampleStepMs: number
  /** Samples and notebook activity start here (default fromMs): raw samples older than the store's TTL would be dropped anyway. */
  samplesFromMs?: number
  /** Notebook kernel poll resolution. */
  notebookStepMs: number
  kubernetes: Pick<KubernetesConfig, 'gpuResources' | 'labels'>
  /** The store already holds this cluster's node state (a restart): do not write it again. */
  skipNodeState?: boolean
  /** Stops the backfill between chunks (shutdown during a backfill). */
  signal?: AbortSignal
  /** Called as rows are stored: done and total sample rows. */
  onProgress?: (p: { phase: string; done: number; total: number }) => void
}

/** Rows a backfill stored, by table. */
export interface BackfillResult {
  nodeState: number
  workloadIntervals: number
  gpuSamples: number
  notebookActivity: number
}

/** At most this many writes in flight: enough to keep the writer's batches full, bounded for memory. */
const MAX_IN_FLIGHT = 8

/**
 * Writes a simulated cluster's history for [fromMs, toMs) through the store
 * writers: node_state and workload_intervals built by the Kubernetes
 * collector's own mapping from the objects the simulated API would serve, GPU
 * samples as dcgm-exporter would have reported them every `sampleStepMs`, and
 * notebook kernel activity. Resolves when every row is stored.
 */
export async function backfill(sim: SimCluster, sinks: StoreSinks, opts: BackfillOptions): Promise<BackfillResult> {
  const { fromMs, toMs } = opts
  const inWindow = sim.pods.filter((p) => p.createdMs < toMs && (p.endMs === undefined || p.endMs > fromMs))
  const nodeCtx: NodeContext = { cluster: sim.name, gpuResources: opts.kubernetes.gpuResources, labels: opts.kubernetes.labels, defaultProvider: 'onprem', defaultGpuModel: '' }
  const nodes = sim.nodes.map((n) => nodeState(nodeObject(sim, n), nodeCtx, Math.max(n.createdMs, fromMs)))
  if (!opts.skipNodeState) await sinks.nodeState.write(nodes)

  const intervals = podIntervals(sim, inWindow.map((p) => sinceHistory(p, fromMs)), opts.kubernetes, toMs)
  await sinks.workloadIntervals.write(intervals)

  const samplesFrom = Math.max(fromMs, opts.samplesFromMs ?? fromMs)
  const total = opts.sampleStepMs > 0 ? countSamples(sim, samplesFrom, toMs, opts.sampleStepMs) : 0
  let done = 0
  const inFlight = new Set<Promise<void>>()
  for (const chunk of opts.sampleStepMs > 0 ? clusterSamples(sim, samplesFrom, toMs, opts.sampleStepMs) : []) {
    opts.signal?.throwIfAborted()
    const p = sinks.gpuSamples.write(chunk).then(() => {
      done += chunk.length
      opts.onProgress?.({ phase: 'gpu samples', done, total })
    })
    inFlight.add(p)
    void p.then(() => inFlight.delete(p), () => inFlight.delete(p))
    if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)

  const activity = notebookActivity(sim, inWindow, samplesFrom, toMs, opts.notebookStepMs)
  await sinks.notebookActivity.write(activity)
  return { nodeState: opts.skipNodeState ? 0 : nodes.length, workloadIntervals: intervals.length, gpuSamples: done, notebookActivity: activity.length }
}

/**
 * A pod as the store's history shows it when that history starts at `fromMs`: created (and,
 * if it was running, started) no earlier than then. Node rows start at fromMs too, so a pod
 * that began before would count allocation where the store has no capacity (allocation over
 * 100% for the first day of a 30-day replay of a 31-day trace).
 */
function sinceHistory(p: SimPod, fromMs: number): SimPod {
  if (p.createdMs >= fromMs) return p
  return { ...p, createdMs: fromMs, ...(p.startMs !== undefined ? { startMs: Math.max(p.startMs, fromMs) } : {}) }
}

/** Each pod's interval as the Kubernetes collector would store it at `atMs`, owners resolved through the simulated caches. */
function podIntervals(sim: SimCluster, pods: readonly SimPod[], k8s: BackfillOptions['kubernetes'], atMs: number): WorkloadInterval[] {
  const owners = ownerObjects(pods)
  const index = new Map<string, KubeObject>()
  for (const o of [...owners.jobs, ...owners.statefulsets, ...owners.notebooks, ...owners.replicasets]) index.set(`${o.kind}/${o.metadata.namespace}/${o.metadata.name}`, o)
  const namespaces = new Map(pods.map((p) => [p.namespace, namespaceObject(p.namespace, sim.beginMs)]))
  const models = new Map(sim.nodes.map((n) => [n.name, n.spec.product]))
  const ctx: PodContext = {
    cluster: sim.name,
    config: k8s,
    owners: (kind, ns, name) => index.get(`${kind}/${ns}/${name}`),
    namespace: (name) => namespaces.get(name),
    nodeModel: (node) => models.get(node),
  }
  const out: WorkloadInterval[] = []
  for (const p of pods) {
    // A finished pod is gone from the API by now: it is stored as the collector saw it when it finished,
    // and a cancelled one (final Deleted) as the collector saw it deleted.
    const ended = p.endMs !== undefined && p.endMs <= atMs
    const seenAt = ended ? (p.endMs as number) : atMs
    const interval = podToInterval(podObject(sim, p, seenAt), ctx, seenAt, ended && p.final === 'Deleted')
    if (interval) out.push(interval)
  }
  return out
}

/** Kernel activity of every running notebook, one row per notebook every `stepMs` (the collector's poll). */
function notebookActivity(sim: SimCluster, pods: readonly SimPod[], fromMs: number, toMs: number, stepMs: number): NotebookActivity[] {
  const rows: NotebookActivity[] = []
  for (const p of pods) {
    if (p.kind !== 'Notebook' || p.startMs === undefined) continue
    const start = Math.max(fromMs, Math.ceil(p.startMs / stepMs) * stepMs)
    const end = Math.min(toMs, p.endMs ?? toMs)
    for (let t = start; t < end; t += stepMs) {
      const busy = activityAt(p.profile, p.startMs, t).kernelBusy
      rows.push({
        tsMs: t, cluster: sim.name, namespace: p.namespace, notebook: p.workloadName, kernelId: `${p.uid}-kernel`,
        executionState: busy ? 'busy' : 'idle', lastActivityMs: busy ? t : (lastNotebookActivity(p.profile, p.startMs, t) ?? p.startMs), connections: 1,
      })
    }
  }
  return rows
}
