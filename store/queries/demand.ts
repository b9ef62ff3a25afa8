/**
 * Reads behind forecasting: hourly GPU-milliseconds of allocation, pending
 * demand and capacity for one series (a filter on cluster, pool, GPU model
 * and team), summed in ClickHouse from exact intervals, never from samples.
 *
 * - allocation: pods bound to a node, [start, end or now);
 * - pending demand: pods from creation until bound (or until they ended
 *   unbound, or now), as /usage counts it;
 * - capacity: each node_state row holds until the node's next row, and counts
 *   while the node is Ready and schedulable.
 *
 * Pool and GPU model are a node's latest values. A pending pod has no node,
 * so it counts for no pool and no GPU model. The SQL text is fixed: an empty
 * filter array means "any" (`empty(f) OR x IN f`), so nothing is spliced in.
 */
import type { QueryFn } from '../../core/ports'

/** Latest pool and GPU model of every node. */
const NODES = `nodes AS (
  SELECT cluster, node, argMax(pool, ts) AS pool, argMax(gpu_model, ts) AS gpu_model FROM node_state GROUP BY cluster, node)`

/** Filters over a workload interval `i` and its node `n`. */
const INTERVAL_FILTERS = `
    AND (empty({clusters:Array(String)}) OR i.cluster IN {clusters:Array(String)})
    AND (empty({pools:Array(String)}) OR n.pool IN {pools:Array(String)})
    AND (empty({gpuModels:Array(String)}) OR n.gpu_model IN {gpuModels:Array(String)})
    AND (empty({teams:Array(String)}) OR i.team IN {teams:Array(String)})`

/** [s, e) spans cut at every step boundary: exact GPU-milliseconds per bucket. */
const PER_BUCKET = `
SELECT b AS bucket_ms, sum(gpus * (least(e, b + {stepMs:Int64}) - greatest(s, b))) AS gpu_ms
FROM spans
ARRAY JOIN range(intDiv(s, {stepMs:Int64}) * {stepMs:Int64}, e, {stepMs:Int64}) AS b
WHERE e > s
GROUP BY b
ORDER BY b`

/** Allocated GPU-milliseconds per hour. */
export const ALLOCATION_HOURLY = `
WITH ${NODES},
spans AS (
  SELECT i.gpus AS gpus,
         greatest(toUnixTimestamp64Milli(assumeNotNull(i.start_ts)), {fromMs:Int64}) AS s,
         least(ifNull(toUnixTimestamp64Milli(i.end_ts), {nowMs:Int64}), {toMs:Int64}, {nowMs:Int64}) AS e
  FROM workload_intervals AS i FINAL
  LEFT JOIN nodes AS n ON n.cluster = i.cluster AND n.node = i.node
  WHERE i.start_ts IS NOT NULL AND i.start_ts < fromUnixTimestamp64Milli({toMs:Int64})
    AND (i.end_ts IS NULL OR i.end_ts > fromUnixTimestamp64Milli({fromMs:Int64}))${INTERVAL_FILTERS}
)${PER_BUCKET}`

/** Pending-demand GPU-milliseconds per hour. */
export const PENDING_HOURLY = `
WITH ${NODES},
spans AS (
  SELECT i.gpus AS gpus,
         greatest(toUnixTimestamp64Milli(i.created_ts), {fromMs:Int64}) AS s,
         least(ifNull(toUnixTimestamp64Milli(coalesce(i.start_ts, i.end_ts)), {nowMs:Int64}), {toMs:Int64}, {nowMs:Int64}) AS e
  FROM workload_intervals AS i FINAL
  LEFT JOIN nodes AS n ON n.cluster = i.cluster AND n.node = i.node
  WHERE i.created_ts < fromUnixTimestamp64Milli({toMs:Int64})
    AND (coalesce(i.start_ts, i.end_ts) IS NULL OR coalesce(i.start_ts, i.end_ts) > fromUnixTimestamp64Milli({fromMs:Int64}))${INTERVAL_FILTERS}
)${PER_BUCKET}`

/** Capacity GPU-milliseconds per hour (no team: capacity belongs to nodes). */
export const CAPACITY_HOURLY = `
WITH ${NODES},
spans AS (
  SELECT seg.gpus AS gpus, greatest(seg.ts_ms, {fromMs:Int64}) AS s, least(seg.next_ms, {toMs:Int64}, {nowMs:Int64}) AS e
  FROM (
    SELECT cluster, node, toUnixTimestamp64Milli(ts) AS ts_ms, if(ready AND schedulable, allocatable_gpus, 0) AS gpus,
           leadInFrame(toUnixTimestamp64Milli(ts), 1, toInt64(8640000000000000))
             OVER (PARTITION BY cluster, node ORDER BY ts ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_ms
    FROM node_state
    WHERE ts < fromUnixTimestamp64Milli({toMs:Int64})
  ) AS seg
  LEFT JOIN nodes AS n ON n.cluster = seg.cluster AND n.node = seg.node
  WHERE seg.gpus > 0 AND seg.next_ms > {fromMs:Int64}
    AND (empty({clusters:Array(String)}) OR seg.cluster IN {clusters:Array(String)})
    AND (empty({pools:Array(String)}) OR n.pool IN {pools:Array(String)})
    AND (empty({gpuModels:Array(String)}) OR n.gpu_model IN {gpuModels:Array(String)})
)${PER_BUCKET}`

/** When the store first saw the series' nodes (or, with none, its workloads): hours before it are unknown, not zero. */
export const FIRST_SEEN = `
SELECT least(
  ifNull((SELECT toUnixTimestamp64Milli(min(ts)) FROM node_state
          WHERE (empty({clusters:Array(String)}) OR cluster IN {clusters:Array(String)}) HAVING count() > 0), toInt64(9223372036854775807)),
  ifNull((SELECT toUnixTimestamp64Milli(min(created_ts)) FROM workload_intervals
          WHERE (empty({clusters:Array(String)}) OR cluster IN {clusters:Array(String)}) HAVING count() > 0), toInt64(9223372036854775807))
) AS first_ms`

/** Distinct values of every series key: clusters, pools and GPU models from nodes, teams from workloads. */
export const SERIES_KEYS = `
SELECT key, value FROM (
  SELECT 'cluster' AS key, cluster AS value FROM node_state GROUP BY cluster
  UNION ALL SELECT 'pool' AS key, pool AS value FROM node_state WHERE pool != '' GROUP BY pool
  UNION ALL SELECT 'gpuModel' AS key, gpu_model AS value FROM node_state WHERE gpu_model != '' GROUP BY gpu_model
  UNION ALL SELECT 'team' AS key, team AS value FROM workload_intervals WHERE team != '' GROUP BY team
)
ORDER BY key, value`

/** One series' filter: each list empty = any value. */
export interface DemandFilter {
  clusters: string[]
  pools: string[]
  gpuModels: string[]
  teams: string[]
}

/** The span read: [fromMs, toMs) up to now, in buckets of stepMs aligned to the epoch. */
export interface DemandSpan {
  fromMs: number
  toMs: number
  nowMs: number
  stepMs: number
}

/** GPU-milliseconds in one bucket. */
export interface BucketRow {
  bucketMs: number
  gpuMs: number
}

const params = (f: DemandFilter, span: DemandSpan) => ({ ...f, ...span })

async function buckets(query: QueryFn, sql: string, f: DemandFilter, span: DemandSpan): Promise<BucketRow[]> {
  const rows = await query<{ bucket_ms: number | string; gpu_ms: number | string }>(sql, params(f, span))
  return rows.map((r) => ({ bucketMs: Number(r.bucket_ms), gpuMs: Number(r.gpu_ms) }))
}

/** Allocated GPU-milliseconds per bucket. */
export const allocationHourly = (query: QueryFn, f: DemandFilter, span: DemandSpan): Promise<BucketRow[]> => buckets(query, ALLOCATION_HOURLY, f, span)

/** Pending-demand GPU-milliseconds per bucket. */
export const pendingHourly = (query: QueryFn, f: DemandFilter, span: DemandSpan): Promise<BucketRow[]> => buckets(query, PENDING_HOURLY, f, span)

/** Capacity GPU-milliseconds per bucket (the team filter does not apply: capacity has no team). */
export const capacityHourly = (query: QueryFn, f: DemandFilter, span: DemandSpan): Promise<BucketRow[]> => buckets(query, CAPACITY_HOURLY, { ...f, teams: [] }, span)

/** Epoch ms of the first node row (or workload) of the clusters; undefined when the store has none. */
export async function firstSeenMs(query: QueryFn, clusters: string[]): Promise<number | undefined> {
  const [row] = await query<{ first_ms: number | string }>(FIRST_SEEN, { clusters })
  const ms = Number(row?.first_ms)
  return Number.isFinite(ms) && ms < 8.64e15 ? ms : undefined
}

/** Every value of every series key, for listing series. */
export async function seriesKeys(query: QueryFn): Promise<Array<{ key: string; value: string }>> {
  return query<{ key: string; value: string }>(SERIES_KEYS, {})
}

/**
 * A GPU's share of a full GPU in a rollup row: 1, or g/7 for a `<g>g.*` MIG
 * slice (g/4 on an A30), so a slice's samples weigh what the slice is.
 */
const MIG_WEIGHT = `if(toFloat64OrZero(extract(r.mig_profile, '^([0-9]+)g')) > 0,
  toFloat64OrZero(extract(r.mig_profile, '^([0-9]+)g')) / if(match(r.model, '(^|[^0-9A-Za-z])A30([^0-9A-Za-z]|$)'), 4, 7), 1)`

/**
 * Utilization of allocated GPUs per hour from the 1 h rollup: rows of GPUs
 * attributed to a pod, read as GR_ENGINE_ACTIVE where the GPU reported it in
 * that hour, else GPU_UTIL; sums weighted by the GPU's MIG share.
 */
export const UTILIZATION_HOURLY = `
WITH ${NODES}
SELECT toInt64(toUnixTimestamp(r.ts)) * 1000 AS bucket_ms, sum(w * chosen_sum) AS weighted_sum, sum(w * chosen_n) AS weighted_n,
       sum(chosen_n) AS samples, sumIf(chosen_n, use_gr) AS gr_samples
FROM (
  SELECT r.ts AS ts, r.gr_n > 0 AS use_gr, if(use_gr, r.gr_sum, r.util_sum) AS chosen_sum, if(use_gr, r.gr_n, r.util_n) AS chosen_n, ${MIG_WEIGHT} AS w
  FROM (
    SELECT cluster, node, ts, anyLast(model) AS model, anyLast(mig_profile) AS mig_profile,
           sum(gr_engine_active_sum) AS gr_sum, sum(gr_engine_active_n) AS gr_n, sum(gpu_util_sum) AS util_sum, sum(gpu_util_n) AS util_n
    FROM gpu_samples_1h
    WHERE ts >= toDateTime(intDiv({fromMs:Int64}, 1000), 'UTC') AND ts < toDateTime(intDiv({toMs:Int64}, 1000), 'UTC') AND pod != ''
      AND (empty({clusters:Array(String)}) OR cluster IN {clusters:Array(String)})
    GROUP BY cluster, node, gpu_uuid, namespace, pod, ts
  ) AS r
  LEFT JOIN nodes AS n ON n.cluster = r.cluster AND n.node = r.node
  WHERE (empty({pools:Array(String)}) OR n.pool IN {pools:Array(String)})
    AND (empty({gpuModels:Array(String)}) OR n.gpu_model IN {gpuModels:Array(String)})
) AS r
WHERE chosen_n > 0
GROUP BY bucket_ms
ORDER BY bucket_ms`

/**
 * The latest cloud price per GPU-hour of every instance type and lifecycle in
 * effect at a time, optionally narrowed; on-prem providers' rows (amortised
 * rates, not what bursting costs) are left out.
 */
export const BURST_PRICES = `
SELECT provider, region, instance_type, lifecycle, argMax(usd_per_hour / gpus, effective_from_ts) AS usd_per_gpu_hour
FROM prices FINAL
WHERE gpus > 0 AND effective_from_ts <= fromUnixTimestamp64Milli({atMs:Int64})
  AND provider NOT IN {onPremProviders:Array(String)}
  AND ({provider:String} = '' OR provider = {provider:String})
  AND ({region:String} = '' OR region = {region:String})
  AND ({instanceType:String} = '' OR instance_type = {instanceType:String})
GROUP BY provider, region, instance_type, lifecycle
ORDER BY lifecycle, usd_per_gpu_hour, provider, region, instance_type`

/** Utilization samples of allocated GPUs in one hour: weighted sums (mean = weightedSum / weightedN) and raw counts. */
export interface UtilHourRow {
  bucketMs: number
  weightedSum: number
  weightedN: number
  samples: number
  grEngineActiveSamples: number
}

/** Hourly utilization of allocated GPUs (hours with no sample are absent: unknown, not 0); the team filter does not apply. */
export async function utilizationHourly(query: QueryFn, f: DemandFilter, span: DemandSpan): Promise<UtilHourRow[]> {
  const rows = await query<Record<string, number | string>>(UTILIZATION_HOURLY, params(f, span))
  return rows.map((r) => ({
    bucketMs: Number(r.bucket_ms),
    weightedSum: Number(r.weighted_sum),
    weightedN: Number(r.weighted_n),
    samples: Number(r.samples),
    grEngineActiveSamples: Number(r.gr_samples),
  }))
}

/** A price per GPU-hour from the prices table. */
export interface GpuHourPrice {
  provider: string
  region: string
  instanceType: string
  lifecycle: string
  usdPerGpuHour: number
}

/**
 * Every cloud price per GPU-hour in effect at `atMs` that matches the filters
 * (empty = any), cheapest first per lifecycle; rows of `onPremProviders`
 * ('' and 'onprem' always among them) are never returned.
 */
export async function burstPrices(query: QueryFn, filter: { provider: string; region: string; instanceType: string }, atMs: number, onPremProviders: readonly string[] = []): Promise<GpuHourPrice[]> {
  const onPrem = [...new Set(['', 'onprem', ...onPremProviders])]
  const rows = await query<{ provider: string; region: string; instance_type: string; lifecycle: string; usd_per_gpu_hour: number | string }>(BURST_PRICES, { provider: filter.provider, region: filter.region, instanceType: filter.instanceType, atMs, onPremProviders: onPrem })
  return rows.map((r) => ({ provider: r.provider, region: r.region, instanceType: r.instance_type, lifecycle: r.lifecycle, usdPerGpuHour: Number(r.usd_per_gpu_hour) }))
}
