/**
 * Fleet-now reads behind the /metrics gauges (api/fleetMetrics.ts): capacity,
 * allocation, pending demand and utilization of allocated GPUs, each grouped
 * by a small label set (idle workloads come from the idle core instead). Every read is one GROUP BY
 * over the latest node states, the open intervals or a few minutes of the
 * 1-minute rollup, so a refresh stays cheap at fleet scale.
 */
import type { QueryFn } from '../../core/ports'

// The latest state of every node as of now (a removed node's last row says not ready).
const LATEST_NODES = `
SELECT cluster, node, argMax(pool, ts) AS node_pool, argMax(gpu_model, ts) AS node_model,
       argMax(allocatable_gpus, ts) AS node_allocatable, argMax(ready, ts) AS node_ready, argMax(schedulable, ts) AS node_schedulable
FROM node_state
WHERE toUnixTimestamp64Milli(ts) <= {nowMs:Int64}
GROUP BY cluster, node`

// Pods holding GPUs now: bound, started, not finished.
const ALLOCATED_PODS = `
SELECT cluster, namespace, pod, node, team, gpus
FROM workload_intervals FINAL
WHERE start_ts IS NOT NULL AND toUnixTimestamp64Milli(start_ts) <= {nowMs:Int64}
  AND (end_ts IS NULL OR toUnixTimestamp64Milli(end_ts) > {nowMs:Int64}) AND gpus > 0`

/** capacity(now) = allocatable GPUs on Ready, schedulable nodes. */
const CAPACITY = `
SELECT cluster, node_pool AS pool, node_model AS gpu_model, sum(node_allocatable) AS value
FROM (${LATEST_NODES})
WHERE node_ready AND node_schedulable
GROUP BY cluster, pool, gpu_model
HAVING value > 0`

/** allocation(now) by the node's pool and model and the pod's team. */
const ALLOCATED = `
SELECT a.cluster AS cluster, n.node_pool AS pool, n.node_model AS gpu_model, a.team AS team, sum(a.gpus) AS value
FROM (${ALLOCATED_PODS}) AS a
LEFT JOIN (${LATEST_NODES}) AS n ON a.cluster = n.cluster AND a.node = n.node
GROUP BY cluster, pool, gpu_model, team`

/** pending demand(now): GPUs requested by pods not bound yet (no node, so no pool or model). */
const PENDING = `
SELECT cluster, team, sum(gpus) AS value
FROM workload_intervals FINAL
WHERE start_ts IS NULL AND end_ts IS NULL AND toUnixTimestamp64Milli(created_ts) <= {nowMs:Int64} AND gpus > 0
GROUP BY cluster, team`

/**
 * Utilization of allocated GPUs over [fromMs, nowMs): per GPU the mean of
 * GR_ENGINE_ACTIVE where profiling samples exist, else GPU_UTIL; then the
 * mean over GPUs of each group (`weight` = GPUs averaged). Samples not mapped
 * to a pod are not allocation and are left out.
 */
const UTILIZATION = `
SELECT g.cluster AS cluster, n.node_pool AS pool, if(n.node_model != '', n.node_model, g.gpu_model) AS gpu_model, o.team AS team,
       avg(g.util) AS value, count() AS weight
FROM (
  SELECT cluster, node, gpu_uuid, namespace, pod, anyLast(model) AS gpu_model,
         if(sum(gr_engine_active_n) > 0, sum(gr_engine_active_sum) / sum(gr_engine_active_n), sum(gpu_util_sum) / sum(gpu_util_n)) AS util
  FROM gpu_samples_1m
  WHERE ts >= toDateTime(intDiv({fromMs:Int64}, 1000), 'UTC') AND ts < toDateTime(intDiv({nowMs:Int64}, 1000), 'UTC') AND pod != ''
  GROUP BY cluster, node, gpu_uuid, namespace, pod
  HAVING sum(gr_engine_active_n) > 0 OR sum(gpu_util_n) > 0
) AS g
LEFT JOIN (${LATEST_NODES}) AS n ON g.cluster = n.cluster AND g.node = n.node
LEFT JOIN (SELECT cluster, namespace, pod, argMax(team, last_seen_ts) AS team FROM workload_intervals FINAL GROUP BY cluster, namespace, pod) AS o
  ON g.cluster = o.cluster AND g.namespace = o.namespace AND g.pod = o.pod
GROUP BY cluster, pool, gpu_model, team`

/** One labelled value; `weight` is what a mean was taken over (1 for sums). */
export interface GaugeRow {
  labels: Record<string, string>
  value: number
  weight: number
}

/** Every gauge's rows at one instant. */
export interface FleetSnapshot {
  capacity: GaugeRow[]
  allocated: GaugeRow[]
  pending: GaugeRow[]
  utilization: GaugeRow[]
}

type Raw = Record<string, unknown> & { value: number; weight?: number }

function rows(raw: Raw[], labels: readonly string[]): GaugeRow[] {
  return raw.map((r) => ({
    labels: Object.fromEntries(labels.map((l) => [l, String(r[l] ?? '')])),
    value: Number(r.value),
    weight: r.weight === undefined ? 1 : Number(r.weight),
  }))
}

/** Reads the capacity, allocation, pending and utilization gauges as of nowMs; utilization averages the `utilWindowMs` before now. */
export async function fleetSnapshot(query: QueryFn, nowMs: number, utilWindowMs: number): Promise<FleetSnapshot> {
  const [capacity, allocated, pending, utilization] = await Promise.all([
    query<Raw>(CAPACITY, { nowMs }),
    query<Raw>(ALLOCATED, { nowMs }),
    query<Raw>(PENDING, { nowMs }),
    query<Raw>(UTILIZATION, { nowMs, fromMs: nowMs - utilWindowMs }),
  ])
  return {
    capacity: rows(capacity, ['cluster', 'pool', 'gpu_model']),
    allocated: rows(allocated, ['cluster', 'pool', 'gpu_model', 'team']),
    pending: rows(pending, ['cluster', 'team']),
    utilization: rows(utilization, ['cluster', 'pool', 'gpu_model', 'team']),
  }
}
