/**
 * What the burst policy observes, read from the store: the on-prem pool's
 * capacity and allocation and the cluster's pending demand now (the fleet
 * gauges' reads, store/queries/gauges.ts), each target's size (the size
 * gpuscope last set, from the audit log, else what its pool shows), the GPUs
 * allocated on it, and this month's spend on it (capacity GPU-hours of its
 * pool from node_state × its price).
 */
import type { BurstPoolConfig } from '../../config/alerts'
import type { QueryFn } from '../../core/ports'
import { fleetSnapshot, type FleetSnapshot } from '../../store/queries/gauges'
import { ACTIONS } from '../audit'
import type { PoolObservation } from './policy'

/** The newest scaling decision of a pool in the current mode (acted when live, dry-run rows when in dry-run). */
const LAST_SCALE = `
SELECT toUnixTimestamp64Milli(ts) AS ts_ms, evidence
FROM actions FINAL
WHERE action IN {actions:Array(String)} AND cluster = {cluster:String} AND workload_name = {pool:String}
  AND dry_run = {dryRun:Bool} AND (acted OR dry_run)
ORDER BY ts DESC
LIMIT 1`

/** Capacity GPU-hours per pool of one cluster over [fromMs, toMs): each node row holds until the node's next row (the last one until toMs). */
const POOL_GPU_HOURS = `
SELECT pool, sum(gpus * (least(next_ms, {toMs:Int64}) - greatest(ts_ms, {fromMs:Int64}))) / 3600000 AS gpu_hours
FROM (
  SELECT pool, toUnixTimestamp64Milli(ts) AS ts_ms, if(ready AND schedulable, allocatable_gpus, 0) AS gpus,
         leadInFrame(toUnixTimestamp64Milli(ts), 1, toInt64(8640000000000000))
           OVER (PARTITION BY cluster, node ORDER BY ts ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_ms
  FROM node_state
  WHERE cluster = {cluster:String} AND ts < fromUnixTimestamp64Milli({toMs:Int64})
)
WHERE pool IN {pools:Array(String)} AND next_ms > {fromMs:Int64} AND gpus > 0
GROUP BY pool`

/** Start of the UTC month of an instant. */
export const monthStartMs = (ms: number): number => {
  const d = new Date(ms)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}

const sumWhere = <R extends { labels: Record<string, string>; value: number }>(rows: readonly R[], match: Record<string, string>): number =>
  rows.filter((r) => Object.entries(match).every(([k, v]) => r.labels[k] === v)).reduce((n, r) => n + r.value, 0)

/** The newest scaling of a pool: when, and the target sizes it left (GPUs by target name). */
export async function lastScale(query: QueryFn, p: BurstPoolConfig, dryRun: boolean): Promise<{ tsMs: number; sizes: Record<string, number> } | undefined> {
  const [row] = await query<{ ts_ms: number; evidence: string }>(LAST_SCALE, { actions: [ACTIONS.burstOut, ACTIONS.burstIn], cluster: p.cluster, pool: p.pool, dryRun })
  if (!row) return undefined
  let sizes: Record<string, number> = {}
  try {
    sizes = (JSON.parse(row.evidence) as { sizes?: Record<string, number> }).sizes ?? {}
  } catch {
    // An unreadable row still dates the last scaling (cooldown); sizes fall back to what the pools show.
  }
  return { tsMs: Number(row.ts_ms), sizes }
}

/** Reads one pool's observation at nowMs from a fleet snapshot of the same instant. */
export async function observePool(query: QueryFn, p: BurstPoolConfig, snap: FleetSnapshot, nowMs: number, dryRun: boolean): Promise<PoolObservation> {
  const pools = p.targets.map((t) => t.pool)
  const [last, hours] = await Promise.all([
    lastScale(query, p, dryRun),
    query<{ pool: string; gpu_hours: number }>(POOL_GPU_HOURS, { cluster: p.cluster, pools, fromMs: monthStartMs(nowMs), toMs: nowMs }),
  ])
  const gpuHours = new Map(hours.map((h) => [h.pool, Number(h.gpu_hours)]))
  return {
    nowMs,
    capacityGpus: sumWhere(snap.capacity, { cluster: p.cluster, pool: p.pool }),
    allocatedGpus: sumWhere(snap.allocated, { cluster: p.cluster, pool: p.pool }),
    pendingGpus: sumWhere(snap.pending, { cluster: p.cluster }),
    targets: p.targets.map((t) => ({
      name: t.name,
      gpus: last?.sizes[t.name] ?? sumWhere(snap.capacity, { cluster: p.cluster, pool: t.pool }),
      allocatedGpus: sumWhere(snap.allocated, { cluster: p.cluster, pool: t.pool }),
      spentUsd: (gpuHours.get(t.pool) ?? 0) * t.usdPerGpuHour,
    })),
    lastScaleMs: last?.tsMs,
  }
}

/** Reads the fleet gauges once for every pool of a step. */
export const snapshotAt = (query: QueryFn, nowMs: number): Promise<FleetSnapshot> => fleetSnapshot(query, nowMs, 5 * 60_000)
