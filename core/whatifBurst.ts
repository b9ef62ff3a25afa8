/**
 * Policy what-if, pending demand and burst side (rules in core/whatif.ts):
 * the recorded capacity, allocation and pending demand stepped in time, the
 * GPUs the simulated stops reclaimed serving the pending demand of their
 * cluster, and each burst pool's policy run on two tracks, `baseline` (the
 * recorded history) and `whatif` (with the reclaimed GPUs).
 */
import type { PoolObservation, PoolState } from '../alerts/burst/policy'
import type { BurstPoolConfig } from '../config/alerts'
import type { BurstTrack, NodeCapacityRow, WhatifEngine, WhatifOptions, WhatifWorkload } from './whatif'

const emptyTrack = (): BurstTrack => ({ scaleOuts: 0, scaleIns: 0, cloudGpuHours: 0, costUsd: 0, burstServedGpuHours: 0, holds: {}, decisions: [] })
interface TrackState { report: BurstTrack; state: PoolState; sizes: Map<string, number>; spent: Map<string, number>; monthMs: number; lastScaleMs: number | undefined }
const monthOf = (ms: number): number => {
  const d = new Date(ms)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}
const add = <K>(m: Map<K, number>, k: K, v: number): void => void m.set(k, (m.get(k) ?? 0) + v)
const poolKey = (cluster: string, pool: string): string => `${cluster}\u0000${pool}`

/** The GPUs reclaimed at one step, by pool and by cluster, and the pending demand they serve (by cluster and by the pool the GPUs were freed in). */
interface Reclaimed {
  pool: Map<string, number>
  cluster: Map<string, number>
  served: Map<string, number>
  servedPool: Map<string, number>
}

/**
 * The burst side of a what-if replay. Each step: stop() spans first (the
 * stops of that evaluation), then step(t) with the idle GPUs the evaluation
 * found. Time only moves forward.
 */
export class BurstReplay {
  private readonly allocEvents: Array<{ t: number; key: string; d: number }> = []
  private readonly pendEvents: Array<{ t: number; cluster: string; d: number }> = []
  private readonly nodes: readonly NodeCapacityRow[]
  private ev = { alloc: 0, pend: 0, cap: 0 }
  private readonly alloc = new Map<string, number>()
  private readonly pending = new Map<string, number>()
  private readonly cap = new Map<string, number>()
  private readonly nodeCap = new Map<string, { key: string; gpus: number }>()
  private readonly reclaimSpans: Array<{ cluster: string; key: string; s: number; e: number; gpus: number }> = []
  private readonly tracks: Array<{ p: BurstPoolConfig; baseline: TrackState; whatif: TrackState }>
  private acc = { pendingGpuHours: 0, avoidedGpuHours: 0 }

  constructor(workloads: readonly WhatifWorkload[], nodes: readonly NodeCapacityRow[], o: WhatifOptions, private readonly engine: WhatifEngine) {
    for (const w of workloads) {
      for (const p of w.pods) {
        if (p.startMs !== undefined) {
          this.allocEvents.push({ t: p.startMs, key: poolKey(w.cluster, p.pool), d: p.gpus })
          if (p.endMs !== undefined) this.allocEvents.push({ t: p.endMs, key: poolKey(w.cluster, p.pool), d: -p.gpus })
        }
        const boundMs = p.startMs ?? p.endMs
        if (boundMs === undefined || boundMs > p.createdMs) {
          this.pendEvents.push({ t: p.createdMs, cluster: w.cluster, d: p.gpus })
          if (boundMs !== undefined) this.pendEvents.push({ t: boundMs, cluster: w.cluster, d: -p.gpus })
        }
      }
    }
    this.allocEvents.sort((a, b) => a.t - b.t)
    this.pendEvents.sort((a, b) => a.t - b.t)
    this.nodes = [...nodes].sort((a, b) => a.tsMs - b.tsMs)
    const track = (): TrackState => ({ report: emptyTrack(), state: {}, sizes: new Map(), spent: new Map(), monthMs: monthOf(o.fromMs), lastScaleMs: undefined })
    this.tracks = o.pools.map((p) => ({ p, baseline: track(), whatif: track() }))
  }

  /** A stopped pod's GPUs, free in [sMs, eMs) on its pool. */
  reclaim(cluster: string, pool: string, sMs: number, eMs: number, gpus: number): void {
    this.reclaimSpans.push({ cluster, key: poolKey(cluster, pool), s: sMs, e: eMs, gpus })
  }

  /** The recorded history up to t, then pending demand and the reclaimed GPUs serving it at t, then each pool's burst policy on both tracks. */
  step(t: number, dtH: number, idleGpus: Map<string, number>): void {
    this.applyEvents(t)
    const r = this.serve(t, dtH)
    for (const name of ['baseline', 'whatif'] as const) {
      const absorb = new Map<string, number>()
      for (const tr of this.tracks) {
        const ts = tr[name]
        const p = tr.p
        const key = poolKey(p.cluster, p.pool)
        const whatif = name === 'whatif'
        const pendingC = Math.max(0, (this.pending.get(p.cluster) ?? 0) - (whatif ? (r.served.get(p.cluster) ?? 0) : 0))
        let free = Math.max(0, pendingC - (absorb.get(p.cluster) ?? 0))
        const targets = p.targets.map((tg) => {
          const gpus = ts.sizes.get(tg.name) ?? 0
          const allocatedGpus = Math.min(gpus, free)
          free -= allocatedGpus
          add(absorb, p.cluster, allocatedGpus)
          return { name: tg.name, gpus, allocatedGpus, spentUsd: ts.spent.get(tg.name) ?? 0 }
        })
        const burstServed = targets.reduce((n, x) => n + x.allocatedGpus, 0)
        const reclaimedHere = r.cluster.get(p.cluster) ?? 0
        const obs: PoolObservation = {
          nowMs: t, capacityGpus: this.cap.get(key) ?? 0,
          allocatedGpus: (this.alloc.get(key) ?? 0) - (whatif ? (r.pool.get(key) ?? 0) - (r.servedPool.get(key) ?? 0) : 0),
          pendingGpus: Math.max(0, pendingC - burstServed),
          idleAllocatedGpus: (idleGpus.get(p.cluster) ?? 0) + (whatif ? 0 : reclaimedHere),
          targets, lastScaleMs: ts.lastScaleMs,
        }
        this.stepTrack(p, ts, obs, dtH, burstServed)
      }
    }
  }

  /** Pending GPU-hours of the window and the part reclaimed GPUs served. */
  demand(): { pendingGpuHours: number; pendingWaitAvoidedGpuHours: number } {
    return { pendingGpuHours: this.acc.pendingGpuHours, pendingWaitAvoidedGpuHours: this.acc.avoidedGpuHours }
  }

  /** Each pool's two tracks as run so far. */
  report(): Array<{ cluster: string; pool: string; baseline: BurstTrack; whatif: BurstTrack }> {
    return this.tracks.map((x) => ({ cluster: x.p.cluster, pool: x.p.pool, baseline: x.baseline.report, whatif: x.whatif.report }))
  }

  private applyEvents(t: number): void {
    const e = this.ev
    for (; e.alloc < this.allocEvents.length && (this.allocEvents[e.alloc] as { t: number }).t <= t; e.alloc++) add(this.alloc, this.allocEvents[e.alloc]!.key, this.allocEvents[e.alloc]!.d)
    for (; e.pend < this.pendEvents.length && (this.pendEvents[e.pend] as { t: number }).t <= t; e.pend++) add(this.pending, this.pendEvents[e.pend]!.cluster, this.pendEvents[e.pend]!.d)
    for (; e.cap < this.nodes.length && (this.nodes[e.cap] as NodeCapacityRow).tsMs <= t; e.cap++) {
      const n = this.nodes[e.cap] as NodeCapacityRow
      const id = `${n.cluster}\u0000${n.node}`
      const prev = this.nodeCap.get(id)
      if (prev) add(this.cap, prev.key, -prev.gpus)
      const key = poolKey(n.cluster, n.pool)
      add(this.cap, key, n.gpus)
      this.nodeCap.set(id, { key, gpus: n.gpus })
    }
  }

  /** The GPUs reclaimed at t and the pending demand they serve, counting the pending and avoided GPU-hours of the step. */
  private serve(t: number, dtH: number): Reclaimed {
    const r: Reclaimed = { pool: new Map(), cluster: new Map(), served: new Map(), servedPool: new Map() }
    for (let i = this.reclaimSpans.length - 1; i >= 0; i--) {
      const s = this.reclaimSpans[i]!
      if (s.e <= t) this.reclaimSpans.splice(i, 1)
      else if (s.s <= t) (add(r.pool, s.key, s.gpus), add(r.cluster, s.cluster, s.gpus))
    }
    for (const [cluster, pend] of this.pending) {
      if (pend <= 0) continue
      this.acc.pendingGpuHours += pend * dtH
      let left = Math.min(pend, r.cluster.get(cluster) ?? 0)
      r.served.set(cluster, left)
      this.acc.avoidedGpuHours += left * dtH
      for (const [key, gpus] of [...r.pool].sort((a, b) => a[0].localeCompare(b[0]))) {
        if (left <= 0 || !key.startsWith(`${cluster}\u0000`)) continue
        const n = Math.min(left, gpus)
        r.servedPool.set(key, n)
        left -= n
      }
    }
    return r
  }

  private stepTrack(p: BurstPoolConfig, ts: TrackState, obs: PoolObservation, dtH: number, burstServed: number): void {
    const t = obs.nowMs
    if (monthOf(t) !== ts.monthMs) (ts.monthMs = monthOf(t)), ts.spent.clear()
    const { state, decision } = this.engine.stepBurst(p, ts.state, obs)
    ts.state = state
    const r = ts.report
    if (decision.action === 'hold') {
      if (decision.code !== 'steady') r.holds[decision.code] = (r.holds[decision.code] ?? 0) + 1
    } else {
      for (const c of decision.changes) ts.sizes.set(c.target, c.toGpus)
      ts.lastScaleMs = t
      if (decision.action === 'scale-out') r.scaleOuts++
      else r.scaleIns++
      r.decisions.push({ atMs: t, action: decision.action, code: decision.code, changes: decision.changes })
    }
    r.burstServedGpuHours += burstServed * dtH
    for (const tg of p.targets) {
      const gpus = ts.sizes.get(tg.name) ?? 0
      r.cloudGpuHours += gpus * dtH
      r.costUsd += gpus * dtH * tg.usdPerGpuHour
      add(ts.spent, tg.name, gpus * dtH * tg.usdPerGpuHour)
    }
  }
}
