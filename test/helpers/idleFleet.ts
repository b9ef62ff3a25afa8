/**
 * A hand-made fleet of running GPU workloads for the alerts tests: intervals,
 * one GPU sample per minute, kernel polls for notebooks, and earlier warn
 * rows, all on a clock of whole minutes around a recent hour (so no TTL ages
 * the rows out). Test-only.
 */
import type { ActionRecord, GpuSample, NotebookActivity, WorkloadInterval } from '../../core/model'
import type { StoreSinks } from '../../core/ports'

/** One minute in ms. */
export const MIN = 60_000
const HOUR = 60 * MIN

/** The test clock: T0 is the start of the previous whole hour; `at(k)` is k minutes after it. */
export interface FleetClock {
  T0: number
  at(minutes: number): number
}

/** A clock anchored one whole hour before now. */
export function fleetClock(): FleetClock {
  const T0 = Math.floor(Date.now() / HOUR) * HOUR - HOUR
  return { T0, at: (k) => T0 + k * MIN }
}

/** One running workload of the fleet. */
export interface WorkloadSpec {
  name: string
  ns: string
  kind: string
  gpus?: number
  team?: string
  user?: string
  /** Start, in minutes from T0 (default -600). */
  startMin?: number
  /** Utilization of the minute (0..1), or undefined for no sample. */
  util?: (minute: number) => number | undefined
  /** Kernel state at a poll minute (polls every 5 minutes over the sample span). */
  kernel?: (minute: number) => { busy: boolean; lastMin: number }
  /** An acted warn row at this minute. */
  warnedAtMin?: number
}

/** Minutes sampled, from the start to this many minutes after T0. */
const SAMPLES_TO_MIN = 30

/** The pod of a workload: a bare pod is its own workload. */
export const podOf = (s: WorkloadSpec): string => (s.kind === 'Pod' ? s.name : `${s.name}-0`)

function interval(s: WorkloadSpec, c: FleetClock): WorkloadInterval {
  const start = c.at(s.startMin ?? -600)
  return {
    cluster: 'c1', podUid: `uid-${s.ns}-${s.name}`, namespace: s.ns, pod: podOf(s), workloadKind: s.kind, workloadName: s.name, team: s.team ?? s.ns,
    project: `${s.ns}-proj`, user: s.user ?? 'ana', node: 'n1', gpus: s.gpus ?? 1, gpuResource: 'nvidia.com/gpu', createdMs: start, startMs: start, lastSeenMs: c.at(SAMPLES_TO_MIN), phase: 'Running',
  }
}

function samples(s: WorkloadSpec, c: FleetClock): GpuSample[] {
  const out: GpuSample[] = []
  if (!s.util) return out
  for (let k = s.startMin ?? -600; k < SAMPLES_TO_MIN; k++) {
    const v = s.util(k)
    if (v === undefined) continue
    for (let g = 0; g < Math.ceil(s.gpus ?? 1); g++) {
      out.push({
        tsMs: c.at(k) + 15_000, cluster: 'c1', node: 'n1', gpuUuid: `GPU-${s.ns}-${s.name}-${g}`, gpuIndex: g, model: 'NVIDIA H100 80GB HBM3', migProfile: '',
        namespace: s.ns, pod: podOf(s), container: 'main', grEngineActiveRatio: v, gpuUtilRatio: v, fbUsedBytes: 10 * 1024 ** 3, fbFreeBytes: 70 * 1024 ** 3,
      })
    }
  }
  return out
}

function polls(s: WorkloadSpec, c: FleetClock): NotebookActivity[] {
  const out: NotebookActivity[] = []
  if (!s.kernel) return out
  for (let k = -420; k < SAMPLES_TO_MIN; k += 5) {
    const st = s.kernel(k)
    out.push({ tsMs: c.at(k), cluster: 'c1', namespace: s.ns, notebook: s.name, kernelId: `${s.name}-k`, executionState: st.busy ? 'busy' : 'idle', lastActivityMs: c.at(st.lastMin), connections: 1 })
  }
  return out
}

/** An acted warn row, as the notifier writes it. */
export function warnRow(s: WorkloadSpec, c: FleetClock, minute: number): ActionRecord {
  return {
    tsMs: c.at(minute), id: `warn-${s.ns}-${s.name}-${minute}`, action: 'warn', cluster: 'c1', namespace: s.ns, workloadKind: s.kind, workloadName: s.name,
    decision: 'sent', dryRun: false, acted: true, reason: 'seeded', evidence: {}, actor: 'test',
  }
}


/** Writes the fleet through the store sinks and waits until it is stored. */
export async function seedFleet(sinks: StoreSinks, flush: () => Promise<void>, specs: readonly WorkloadSpec[], c: FleetClock): Promise<void> {
  const written = Promise.all([
    sinks.workloadIntervals.write(specs.map((s) => interval(s, c))),
    sinks.gpuSamples.write(specs.flatMap((s) => samples(s, c))),
    sinks.notebookActivity.write(specs.flatMap((s) => polls(s, c))),
    sinks.actions.write(specs.flatMap((s) => (s.warnedAtMin === undefined ? [] : [warnRow(s, c, s.warnedAtMin)]))),
  ])
  await flush()
  await written
}

/** Utilization `before` until minute `untilMin` (exclusive), then `after`. */
export const until = (untilMin: number, before: number, after: number) => (k: number): number => (k < untilMin ? before : after)

/** A quiet notebook kernel: idle at every poll, last activity at `lastMin`. */
export const quietKernel = (lastMin: number) => (): { busy: boolean; lastMin: number } => ({ busy: false, lastMin })
