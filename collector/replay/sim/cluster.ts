import type { GpuSpec, SimGpu } from './gpus'
import type { SimKind, WorkloadProfile } from './profiles'

/**
 * The simulated cluster: nodes with GPUs and GPU pods with exact lifetimes on
 * the wall clock, built from a trace (fromAlibaba.ts, fromHelios.ts). Both the
 * live replay (Kubernetes API, exporters, Jupyter on loopback) and the
 * backfill read this one structure.
 */

/** A simulated GPU node. */
export interface SimNode {
  name: string
  pool: string
  gpuCode: string
  spec: GpuSpec
  gpus: SimGpu[]
  instanceType: string
  provider: string
  createdMs: number
}

/** Final state of a pod as the trace records it; Deleted = deleted before it finished (a cancelled job). */
export type SimFinal = 'Running' | 'Succeeded' | 'Failed' | 'Pending' | 'Deleted'

/** A GPU pod of the simulation with its lifetime on the wall clock. */
export interface SimPod {
  uid: string
  name: string
  namespace: string
  profile: WorkloadProfile
  kind: SimKind
  /** Name of the top owner (Job, Notebook, Deployment). */
  workloadName: string
  /** GPUs per device and how many devices: a shared GPU is numGpu 1 with share < 1. */
  numGpu: number
  share: number
  createdMs: number
  /** When bound to a node; undefined if it never was (pending at the end). */
  startMs?: number
  /** When it finished; undefined while still running (or pending) at the trace end. */
  endMs?: number
  final: SimFinal
  node?: string
  /** Device indices on the node. */
  devices: number[]
}

/** A whole simulated cluster. */
export interface SimCluster {
  name: string
  trace: 'alibaba-v2023' | 'helios-earth-2020-05'
  nodes: SimNode[]
  pods: SimPod[]
  /**
   * The wall time the replay's history ends: the backfill writes up to here
   * and the live replay starts here. The trace's last instant maps here too,
   * unless `traceEndMs` says it maps later.
   */
  endMs: number
  /**
   * The wall time the trace's last instant maps to when the trace runs on
   * past `endMs` (Helios: pods open at the start of the live replay stay
   * open into it instead of all ending there); absent = endMs.
   */
  traceEndMs?: number
  /** The wall time the trace's first instant maps to. */
  beginMs: number
  /** Pods placed on a GPU that was already full (the trace's own placement is unknown). */
  overcommitted: number
}

/** The wall time the trace's last instant maps to (the end of lap 0 of a looping replay). */
export const traceEndOf = (sim: Pick<SimCluster, 'endMs' | 'traceEndMs'>): number => sim.traceEndMs ?? sim.endMs

/** GPUs a pod holds: devices × share. */
export const podGpus = (p: Pick<SimPod, 'numGpu' | 'share'>): number => p.numGpu * p.share

/** Whether a pod is bound and not finished at `tMs`. */
export const runningAt = (p: SimPod, tMs: number): boolean =>
  p.startMs !== undefined && p.startMs <= tMs && (p.endMs === undefined || tMs < p.endMs)

/** Whether a pod is waiting to be scheduled at `tMs`. */
export const pendingAt = (p: SimPod, tMs: number): boolean =>
  p.createdMs <= tMs && (p.startMs === undefined || tMs < p.startMs) && (p.endMs === undefined || tMs < p.endMs)

/**
 * Places pods on GPUs in start order with first-fit, freeing GPUs when pods
 * end: whole-GPU pods need `numGpu` free devices on one node of an allowed
 * model; a shared pod needs one device with room for its share. When nothing
 * fits (the trace does not say where pods ran), the pod goes to the least
 * loaded allowed node and is counted as over-committed.
 */
export function placePods(nodes: SimNode[], pods: SimPod[], allowed: (pod: SimPod, node: SimNode) => boolean): number {
  const load = new Map<string, number[]>(nodes.map((n) => [n.name, n.gpus.map(() => 0)]))
  type Ev = { t: number; kind: 0 | 1; pod: SimPod }
  const events: Ev[] = []
  for (const p of pods) {
    if (p.startMs === undefined) continue
    events.push({ t: p.startMs, kind: 1, pod: p })
    if (p.endMs !== undefined) events.push({ t: p.endMs, kind: 0, pod: p })
  }
  // Ends before starts at the same instant, so a freed GPU can be reused at once.
  events.sort((a, b) => a.t - b.t || a.kind - b.kind || a.pod.uid.localeCompare(b.pod.uid))
  let overcommitted = 0
  for (const ev of events) {
    const p = ev.pod
    if (ev.kind === 0) {
      const l = p.node ? load.get(p.node) : undefined
      if (l) for (const d of p.devices) l[d] = (l[d] ?? 0) - p.share
      continue
    }
    const fit = findFit(nodes, load, p, allowed)
    if (!fit.fits) overcommitted++
    p.node = fit.node.name
    p.devices = fit.devices
    const l = load.get(fit.node.name) as number[]
    for (const d of fit.devices) l[d] = (l[d] ?? 0) + p.share
  }
  return overcommitted
}

function findFit(nodes: SimNode[], load: Map<string, number[]>, p: SimPod, allowed: (pod: SimPod, node: SimNode) => boolean) {
  const EPS = 1e-9
  let best: { node: SimNode; free: number } | undefined
  for (const node of nodes) {
    if (node.gpus.length < p.numGpu || !allowed(p, node)) continue
    const l = load.get(node.name) as number[]
    const devices: number[] = []
    for (let d = 0; d < l.length && devices.length < p.numGpu; d++) if ((l[d] ?? 0) + p.share <= 1 + EPS) devices.push(d)
    if (devices.length === p.numGpu) return { fits: true, node, devices }
    const free = l.reduce((n, x) => n + Math.max(0, 1 - x), 0)
    if (!best || free > best.free) best = { node, free }
  }
  if (!best) throw new Error(`no node can ever hold pod ${p.name} (${p.numGpu} GPUs)`)
  const l = load.get(best.node.name) as number[]
  const order = l.map((x, d) => [x, d] as const).sort((a, b) => a[0] - b[0]).slice(0, p.numGpu)
  return { fits: false, node: best.node, devices: order.map(([, d]) => d) }
}
