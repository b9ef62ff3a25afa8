import { traceEndOf, type SimCluster, type SimPod } from '../sim/cluster'
import { FINISHED_POD_TTL_MS } from '../sim/objects'
import { podsByNode } from '../sim/samples'

/**
 * The simulated cluster as a timeline of pod changes for the live replay:
 * each pod is created, maybe bound to a node later, maybe finishes, and is
 * deleted FINISHED_POD_TTL_MS after it finished. The changes are sorted once;
 * the driver walks them with a cursor, so a tick costs only the changes it
 * applies, however large the cluster.
 *
 * The trace's last instant is `traceEndOf(sim)`: for the default Helios
 * replay a lead after the live start (`sim.endMs`), so the live replay first
 * continues the very pods the backfill left open, and lap 1 comes only then.
 *
 * After the trace's last instant:
 * - without looping (Alibaba: a snapshot), nothing changes any more: pods
 *   running at the end keep running and pending ones keep waiting, forever;
 * - with looping (Helios: one month of VC sequences), the month is replayed
 *   again and again, each lap shifted by the month's length. Pods still
 *   running (or queued) at the month's end finish there (queued ones Failed,
 *   running ones Succeeded), and lap k ≥ 1 brings new pods named and uid'd
 *   `<name>-r<k>` (workloads too), so every lap is new work to the collectors.
 */

/** One change of one pod. */
export type PodStep = 'create' | 'start' | 'end' | 'delete'

/** A change at `tMs` (lap-0 time) of the pod at `index` in a lap's pod list. */
export interface PodEvent {
  tMs: number
  step: PodStep
  index: number
}

const STEP_ORDER: Record<PodStep, number> = { create: 0, start: 1, end: 2, delete: 3 }

/**
 * The changes of `pods`, in time order (a pod's own changes in lifecycle
 * order). A change at the same instant as the previous one is folded into it:
 * a pod bound at creation is created running.
 */
export function podEvents(pods: readonly SimPod[]): PodEvent[] {
  const out: PodEvent[] = []
  pods.forEach((p, index) => {
    out.push({ tMs: p.createdMs, step: 'create', index })
    let last = p.createdMs
    if (p.startMs !== undefined && p.startMs > last) {
      out.push({ tMs: p.startMs, step: 'start', index })
      last = p.startMs
    }
    if (p.endMs !== undefined) {
      if (p.endMs > last) out.push({ tMs: p.endMs, step: 'end', index })
      // A cancelled pod (final Deleted) is deleted as it ends; a finished one stays listed FINISHED_POD_TTL_MS.
      out.push({ tMs: Math.max(last, p.endMs) + (p.final === 'Deleted' ? 0 : FINISHED_POD_TTL_MS), step: 'delete', index })
    }
  })
  return out.sort((a, b) => a.tMs - b.tMs || STEP_ORDER[a.step] - STEP_ORDER[b.step] || a.index - b.index)
}

/** Index of the first event after `tMs` (events sorted by time). */
export function firstEventAfter(events: readonly PodEvent[], tMs: number): number {
  let lo = 0
  let hi = events.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((events[mid] as PodEvent).tMs > tMs) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** The pods of one lap and their lookups. */
export interface Lap {
  k: number
  /** Added to lap-0 times to get this lap's times. */
  shiftMs: number
  pods: SimPod[]
  byNode: Map<string, SimPod[]>
  /** Notebook pods by `<namespace>/<workload name>`. */
  notebooks: Map<string, SimPod[]>
}

/** The laps of a replay: lap 0 is the trace itself; with looping, lap k is the trace shifted by k periods. */
export class Laps {
  /** Length of one lap (the trace's span); Infinity without looping. */
  readonly periodMs: number
  /** The changes of lap 0; lap k's are the same shifted by k × periodMs. */
  readonly events: PodEvent[]
  private readonly base: SimPod[]
  private readonly cache = new Map<number, Lap>()

  constructor(
    private readonly sim: SimCluster,
    readonly loop: boolean,
  ) {
    const traceEndMs = traceEndOf(sim)
    const span = traceEndMs - sim.beginMs
    if (loop && !(span > 0)) throw new Error(`cannot loop ${sim.name}: its trace spans ${span} ms`)
    this.periodMs = loop ? span : Infinity
    // Looping closes what is still open at the trace end, so laps do not overlap on a GPU.
    this.base = loop ? sim.pods.map((p) => closeAtEnd(p, traceEndMs)) : sim.pods
    this.events = podEvents(this.base)
  }

  /** The lap that holds virtual time `tMs` (0 before the trace and always without looping). */
  lapOf(tMs: number): number {
    if (!this.loop || tMs < this.sim.beginMs) return 0
    return Math.floor((tMs - this.sim.beginMs) / this.periodMs)
  }

  /** When lap k begins. */
  lapStart(k: number): number {
    return k === 0 ? -Infinity : this.sim.beginMs + k * this.periodMs
  }

  /** Lap k's pods and lookups (the newest three laps are kept). */
  lap(k: number): Lap {
    let lap = this.cache.get(k)
    if (lap) return lap
    const shiftMs = k === 0 ? 0 : k * this.periodMs
    const pods = k === 0 ? this.base : this.base.map((p) => shifted(p, k, shiftMs))
    lap = { k, shiftMs, pods, byNode: podsByNode(pods), notebooks: notebookIndex(pods) }
    this.cache.set(k, lap)
    for (const old of this.cache.keys()) if (old < k - 2) this.cache.delete(old)
    return lap
  }
}

function closeAtEnd(p: SimPod, endMs: number): SimPod {
  if (p.endMs !== undefined) return p
  return { ...p, endMs: Math.max(endMs, p.createdMs), final: p.final === 'Running' ? 'Succeeded' : p.final }
}

function shifted(p: SimPod, k: number, shiftMs: number): SimPod {
  const suffix = `-r${k}`
  return {
    ...p, uid: p.uid + suffix, name: p.name + suffix, workloadName: p.workloadName + suffix, devices: [...p.devices],
    createdMs: p.createdMs + shiftMs,
    startMs: p.startMs === undefined ? undefined : p.startMs + shiftMs,
    endMs: p.endMs === undefined ? undefined : p.endMs + shiftMs,
  }
}

function notebookIndex(pods: readonly SimPod[]): Map<string, SimPod[]> {
  const out = new Map<string, SimPod[]>()
  for (const p of pods) {
    if (p.kind !== 'Notebook') continue
    const key = `${p.namespace}/${p.workloadName}`
    const list = out.get(key)
    if (list) list.push(p)
    else out.set(key, [p])
  }
  return out
}
