import type { HeliosMinute } from '../traces/helios'
import type { SimCluster, SimFinal, SimNode, SimPod } from './cluster'
import { gpuSpecOf, simGpu } from './gpus'
import { profileOf } from './profiles'
import { unit } from './random'

const GPUS_PER_NODE = 8
const MINUTE_MS = 60_000

/**
 * GPU-time shares of finished GPU jobs by final state on Helios Earth
 * (helios_cluster_summary.csv: complete_gpu_time 5,713,038,873, cancel_gpu_time
 * 4,793,853,520, fail_gpu_time 932,310,362 GPU-seconds). Cancelled jobs end as
 * pods deleted before finishing (`Deleted`).
 */
export const HELIOS_EARTH_GPU_TIME_SHARES: ReadonlyArray<readonly [SimFinal, number]> = [
  ['Succeeded', 5_713_038_873],
  ['Deleted', 4_793_853_520],
  ['Failed', 932_310_362],
]

/**
 * The Helios Earth per-minute VC sequences as a simulated cluster. The trace
 * gives, per virtual cluster and minute, the GPUs running and pending, not the
 * jobs; the simulation keeps a set of pods per VC whose GPUs match those
 * numbers at every minute: when running GPUs rise, new pods start (the largest of
 * 8, 4, 2, 1 GPUs that still fits on one node); when they fall, the newest pods
 * end first. Pending GPUs are pending pods built the same way. Each VC is a
 * pool of 8-GPU V100 nodes (Helios Earth is a V100 cluster). The trace's last
 * minute ends at `endMs + leadMs`. Pods that finish end Succeeded, Deleted (cancelled)
 * or Failed with Earth's GPU-time shares (assignFinalStates).
 *
 * `leadMs` (default 0) maps the trace's end `leadMs` after `endMs`: the
 * history (backfill) still ends at `endMs`, and the pods open there run on
 * into the live replay as the trace says (`traceEndMs` = endMs + leadMs).
 */
export function clusterFromHelios(minutes: HeliosMinute[], endMs: number, name = 'helios-earth', leadMs = 0): SimCluster {
  if (!(leadMs >= 0)) throw new Error(`helios replay lead must be 0 or more milliseconds, got ${leadMs}`)
  const byVc = new Map<string, HeliosMinute[]>()
  for (const m of minutes) (byVc.get(m.vc) ?? byVc.set(m.vc, []).get(m.vc)!).push(m)
  const { firstTs, lastTs } = heliosExtent(minutes)
  const traceEndMs = endMs + leadMs
  const shift = traceEndMs - (lastTs + MINUTE_MS)
  const spec = gpuSpecOf('V100M32')
  const nodes: SimNode[] = []
  const pods: SimPod[] = []
  for (const [vc, rows] of [...byVc].sort((a, b) => a[0].localeCompare(b[0]))) {
    rows.sort((a, b) => a.tsMs - b.tsMs)
    const vcNodes = buildNodes(name, vc, rows.reduce((n, r) => Math.max(n, r.totalGpus), 0), spec, firstTs + shift)
    nodes.push(...vcNodes)
    const free: Slot[] = vcNodes.flatMap((n) => n.gpus.map((g) => ({ node: n.name, device: g.index })))
    pods.push(...trackRunning(vc, rows, shift, free), ...trackPending(vc, rows, shift))
  }
  assignFinalStates(pods, HELIOS_EARTH_GPU_TIME_SHARES)
  return { name, trace: 'helios-earth-2020-05', nodes, pods, endMs, traceEndMs, beginMs: firstTs + shift, overcommitted: 0 }
}

/** How long the trace runs: from its first minute to the end of its last (one month for Earth May 2020). */
export function heliosSpanMs(minutes: readonly HeliosMinute[]): number {
  const { firstTs, lastTs } = heliosExtent(minutes)
  return minutes.length === 0 ? 0 : lastTs + MINUTE_MS - firstTs
}

function heliosExtent(minutes: readonly HeliosMinute[]): { firstTs: number; lastTs: number } {
  let lastTs = -Infinity
  let firstTs = Infinity
  for (const m of minutes) {
    lastTs = Math.max(lastTs, m.tsMs)
    firstTs = Math.min(firstTs, m.tsMs)
  }
  return { firstTs, lastTs }
}

function buildNodes(cluster: string, vc: string, gpus: number, spec: ReturnType<typeof gpuSpecOf>, createdMs: number): SimNode[] {
  return Array.from({ length: Math.ceil(gpus / GPUS_PER_NODE) }, (_, i) => {
    const nodeName = `${vc.toLowerCase()}-node-${String(i).padStart(2, '0')}`
    const count = Math.min(GPUS_PER_NODE, gpus - i * GPUS_PER_NODE)
    return {
      name: nodeName, pool: vc, gpuCode: 'V100M32', spec, instanceType: 'dgx-1v', provider: 'onprem', createdMs,
      gpus: Array.from({ length: count }, (_, index) => simGpu(cluster, nodeName, index, spec)),
    }
  })
}

function newPod(vc: string, seq: number, gpus: number, tMs: number, pending: boolean): SimPod {
  const uid = `helios-${vc}-${pending ? 'p' : 'r'}${seq}`
  const kind = gpus === 1 && unit(uid, 'kind') < 0.2 ? 'Notebook' : 'Job'
  const profile = profileOf(uid, kind)
  const name = `${vc.toLowerCase()}-${kind === 'Notebook' ? 'nb' : 'job'}-${pending ? 'p' : ''}${seq}`
  return {
    uid, name, namespace: profile.team, profile, kind, workloadName: name, numGpu: gpus, share: 1, createdMs: tMs,
    startMs: pending ? undefined : tMs, final: pending ? 'Pending' : 'Running', devices: [],
  }
}

function trackRunning(vc: string, rows: HeliosMinute[], shift: number, free: Slot[]): SimPod[] {
  const all: SimPod[] = []
  const live: SimPod[] = []
  let held = 0
  for (const r of rows) {
    const t = r.tsMs + shift
    while (held > r.runningGpus) {
      const p = live.pop() as SimPod
      p.endMs = t
      held -= p.numGpu
      for (const device of p.devices) free.push({ node: p.node as string, device })
    }
    let need = r.runningGpus - held
    while (need > 0) {
      const slot = bestNode(free, need)
      const p = newPod(vc, all.length, slot.size, t, false)
      p.node = slot.node
      p.devices = takeDevices(free, slot.node, slot.size)
      live.push(p)
      all.push(p)
      held += slot.size
      need -= slot.size
    }
  }
  return all
}

/**
 * Gives every pod that ran and finished in the trace a final state so that
 * the states' shares of GPU-time (GPUs × run time), not of job count, match
 * `shares`. The trace has no job states, so the choice is a seeded systematic
 * sample: pods in the order of a keyed draw on their uid, each taking the
 * state whose cumulative GPU-time share holds the middle of its own GPU-time.
 * The shares come out exact up to the GPU-time of the pods at the two
 * boundaries; which pod gets which state is as random as the draw. Pods still
 * running at the end stay Running; pods that never ran keep their state.
 */
export function assignFinalStates(pods: readonly SimPod[], shares: ReadonlyArray<readonly [SimFinal, number]>): void {
  const finished = pods
    .filter((p) => p.startMs !== undefined && p.endMs !== undefined && p.final === 'Running')
    .map((p) => ({ p, key: unit(p.uid, 'final'), gpuMs: p.numGpu * p.share * ((p.endMs as number) - (p.startMs as number)) }))
    .sort((a, b) => a.key - b.key || a.p.uid.localeCompare(b.p.uid))
  const total = finished.reduce((n, f) => n + f.gpuMs, 0)
  const weight = shares.reduce((n, [, w]) => n + w, 0)
  let done = 0
  for (const f of finished) {
    const mid = total > 0 ? (done + f.gpuMs / 2) / total : 0
    done += f.gpuMs
    let acc = 0
    f.p.final = (shares[shares.length - 1] as readonly [SimFinal, number])[0]
    for (const [state, w] of shares) {
      acc += w / weight
      if (mid < acc) {
        f.p.final = state
        break
      }
    }
  }
}

type Slot = { node: string; device: number }

/**
 * The pod size and node for the next `need` GPUs: the largest of 8, 4, 2, 1
 * (at most `need`) that some node can hold whole, on the node with the fewest
 * free GPUs that fits (best fit keeps whole nodes free for 8-GPU pods).
 */
function bestNode(free: Slot[], need: number): { node: string; size: number } {
  const counts = new Map<string, number>()
  for (const s of free) counts.set(s.node, (counts.get(s.node) ?? 0) + 1)
  for (const size of [8, 4, 2, 1]) {
    if (size > need) continue
    let best: [string, number] | undefined
    for (const [node, c] of counts) if (c >= size && (!best || c < best[1])) best = [node, c]
    if (best) return { node: best[0], size }
  }
  throw new Error(`no free GPU for ${need} more running GPUs: the trace runs more GPUs than its VC has`)
}

function takeDevices(free: Slot[], node: string, n: number): number[] {
  const out: number[] = []
  for (let i = free.length - 1; i >= 0 && out.length < n; i--) {
    if (free[i]?.node === node) out.push((free.splice(i, 1)[0] as Slot).device)
  }
  return out
}

function trackPending(vc: string, rows: HeliosMinute[], shift: number): SimPod[] {
  const all: SimPod[] = []
  const waiting: SimPod[] = []
  let held = 0
  for (const r of rows) {
    const t = r.tsMs + shift
    while (held > r.pendingGpus) {
      const p = waiting.shift() as SimPod
      p.endMs = t
      held -= p.numGpu
    }
    for (const size of pendingSizes(r.pendingGpus - held)) {
      const p = newPod(vc, all.length, size, t, true)
      waiting.push(p)
      all.push(p)
      held += size
    }
  }
  return all
}

/** Sizes of the pending pods that add `n` GPUs: 8s first, then 4, 2, 1. */
function pendingSizes(n: number): number[] {
  const out: number[] = []
  for (const size of [8, 4, 2, 1]) while (n >= size) (out.push(size), (n -= size))
  return out
}
