import type { GpuSample } from '../../../core/model'
import type { SimCluster, SimNode, SimPod } from './cluster'
import { gpuSampleAt, type GpuHolder } from './gpus'

/**
 * GPU samples of a simulated cluster over a window, time step by time step
 * (every node at t, then every node at t + step), in chunks: what
 * dcgm-exporter would have reported every `stepMs`. Time-major order keeps
 * each insert inside one or two daily partitions, and yields arrays of at most
 * about `chunkRows` rows so a backfill streams through the writer with bounded
 * memory.
 */
export function* clusterSamples(sim: SimCluster, fromMs: number, toMs: number, stepMs: number, chunkRows = 50_000): Generator<GpuSample[]> {
  const bound = sim.pods.filter((p) => p.startMs !== undefined && p.node !== undefined && p.startMs < toMs && (p.endMs === undefined || p.endMs > fromMs))
  const starts = [...bound].sort((a, b) => (a.startMs as number) - (b.startMs as number))
  const active = new Map<string, Set<SimPod>>(sim.nodes.map((n) => [n.name, new Set()]))
  let next = 0
  let chunk: GpuSample[] = []
  for (let t = Math.ceil(fromMs / stepMs) * stepMs; t < toMs; t += stepMs) {
    while (next < starts.length && (starts[next]?.startMs as number) <= t) {
      const p = starts[next++] as SimPod
      active.get(p.node as string)?.add(p)
    }
    for (const node of sim.nodes) {
      if (node.createdMs > t) continue
      const set = active.get(node.name) as Set<SimPod>
      for (const p of set) if (p.endMs !== undefined && p.endMs <= t) set.delete(p)
      for (const s of nodeSamplesAt(node, [...set], t)) chunk.push(s)
    }
    if (chunk.length >= chunkRows) {
      yield chunk
      chunk = []
    }
  }
  if (chunk.length > 0) yield chunk
}

/** Number of sample rows clusterSamples will yield (for progress). */
export function countSamples(sim: SimCluster, fromMs: number, toMs: number, stepMs: number): number {
  const first = Math.ceil(fromMs / stepMs) * stepMs
  let n = 0
  for (const node of sim.nodes) {
    const start = Math.max(first, Math.ceil(node.createdMs / stepMs) * stepMs)
    if (start < toMs) n += Math.ceil((toMs - start) / stepMs) * node.gpus.length
  }
  return n
}

/** The samples of one node's GPUs at `tMs`, given the pods placed on the node. */
export function nodeSamplesAt(node: SimNode, pods: readonly SimPod[], tMs: number): GpuSample[] {
  const holders: GpuHolder[][] = node.gpus.map(() => [])
  for (const p of pods) {
    if ((p.startMs as number) > tMs || (p.endMs !== undefined && p.endMs <= tMs)) continue
    for (const d of p.devices) holders[d]?.push({ profile: p.profile, share: p.share, startMs: p.startMs as number, namespace: p.namespace, pod: p.name })
  }
  return node.gpus.map((g, i) => gpuSampleAt(g, holders[i] as GpuHolder[], tMs))
}

/** Bound pods grouped by node. */
export function podsByNode(pods: readonly SimPod[]): Map<string, SimPod[]> {
  const out = new Map<string, SimPod[]>()
  for (const p of pods) {
    if (p.startMs === undefined || p.node === undefined) continue
    const list = out.get(p.node) ?? []
    list.push(p)
    out.set(p.node, list)
  }
  return out
}
