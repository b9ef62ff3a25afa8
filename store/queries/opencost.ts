/**
 * Reads behind the OpenCost-compatible /allocation/compute: allocated and
 * capacity GPU-milliseconds per group, idle scope (cluster, or cluster and
 * node) and bucket of the set grid, each at its price (the same pricing as
 * store/queries/fleet.ts: a cloud node's GPU-hours take the instance price in
 * effect at each clock hour, others are charged from the rate card by
 * core/chargeback.ts), and utilization per group and bucket (the same rollup
 * read as store/queries/usage.ts utilBuckets, keyed by pod-level columns).
 *
 * `{{slot}}`s are filled only from the fixed column expressions below, never
 * from user input; every value is a bound `{name:Type}` parameter.
 */
import type { OcColumn } from '../../core/opencost'
import type { OcAllocUse, OcCapacityUse } from '../../core/opencostSets'
import type { Params, QueryFn } from '../../core/ports'
import type { UtilRow } from '../../core/usage'
import { PRICE_CTES, PRICED_NODES_CTE } from './fleet'
import { podRowsSql, render, UTIL_BUCKETS, utilRowOf, type UtilColumns } from './usage'

/** Column expressions over a workload interval `i`. */
const COLUMN_EXPRS: Readonly<Record<OcColumn, string>> = {
  cluster: 'i.cluster',
  node: 'i.node',
  namespace: 'i.namespace',
  workloadKind: 'i.workload_kind',
  workloadName: 'i.workload_name',
  pod: 'i.pod',
  team: 'i.team',
  project: 'i.project',
  user: 'i.user',
}


/** Cuts \`raw\` spans (s0, e0) at the grid's buckets: \`spans\` has one row per span and bucket. */
const BUCKETED = `
spans AS (
  SELECT {{keys}}cluster, node, gpus, gpu_model, pool, provider, instance_type, lifecycle, b AS bucket_ms,
         greatest(s0, b) AS s, least(e0, b + {stepMs:Int64}) AS e
  FROM raw
  ARRAY JOIN range({originMs:Int64} + intDiv(s0 - {originMs:Int64}, {stepMs:Int64}) * {stepMs:Int64}, e0, {stepMs:Int64}) AS b
  WHERE e0 > s0
)`

/**
 * Prices the bucketed spans per group, idle scope and bucket: a cloud node's
 * spans are cut at clock hours and each hour takes the price in effect at its
 * start (ASOF), other spans get no price (the rate card applies).
 */
const PRICED = `
SELECT {{keys}}u.bucket_ms AS bucket_ms, u.cluster AS cluster, u.sn AS sn, u.gpu_model AS gpu_model, u.pool AS pool, u.provider AS provider,
       if(p.from_ms != 0, p.usd_per_gpu_hour, NULL) AS price, sum(u.gpu_ms) AS gpu_ms,
       min(u.first_ms) AS first_ms, max(u.last_ms) AS last_ms, max(u.frac) AS shared
FROM (
  SELECT {{keys}}a.bucket_ms AS bucket_ms, a.cluster AS cluster, a.sn AS sn, a.gpu_model AS gpu_model, a.pool AS pool, a.provider AS provider,
         a.instance_type AS instance_type, a.lifecycle AS lifecycle, a.hour_ms AS hour_ms, a.gpu_ms AS gpu_ms,
         a.first_ms AS first_ms, a.last_ms AS last_ms, a.frac AS frac, r.region AS region
  FROM (
    SELECT {{keys}}bucket_ms, cluster, node, if({byNode:UInt8} = 1, node, '') AS sn, gpu_model, pool, provider, instance_type, lifecycle,
           if(cloud, h, 0) AS hour_ms, sum(gpus * (if(cloud, least(e, h + 3600000), e) - greatest(s, h))) AS gpu_ms,
           min(s) AS first_ms, max(e) AS last_ms, max(gpus != floor(gpus)) AS frac
    FROM (SELECT *, provider NOT IN ('', 'onprem') AS cloud FROM spans WHERE e > s)
    ARRAY JOIN if(cloud, range(intDiv(s, 3600000) * 3600000, e, 3600000), [s]) AS h
    GROUP BY {{keys}}bucket_ms, cluster, node, sn, gpu_model, pool, provider, instance_type, lifecycle, hour_ms
  ) AS a
  LEFT JOIN regions AS r ON r.cluster = a.cluster AND r.node = a.node
) AS u
ASOF LEFT JOIN price AS p ON p.provider = u.provider AND p.region = u.region AND p.instance_type = u.instance_type
  AND p.lifecycle = u.lifecycle AND u.hour_ms >= p.from_ms
GROUP BY {{keys}}bucket_ms, cluster, sn, gpu_model, pool, provider, price`

/** Allocation per group on each node (its latest pool, model, provider, type), clipped to the window and to now. */
const ALLOCATION = `
WITH ${PRICE_CTES},
${PRICED_NODES_CTE},
raw AS (
  SELECT {{keyExprs}}i.cluster AS cluster, i.node AS node, i.gpus AS gpus, x.gpu_model AS gpu_model, x.pool AS pool, x.provider AS provider,
         x.instance_type AS instance_type, x.lifecycle AS lifecycle,
         greatest(toUnixTimestamp64Milli(assumeNotNull(i.start_ts)), {fromMs:Int64}) AS s0,
         least(ifNull(toUnixTimestamp64Milli(i.end_ts), {nowMs:Int64}), {toMs:Int64}, {nowMs:Int64}) AS e0
  FROM workload_intervals AS i FINAL
  LEFT JOIN nodes AS x ON x.cluster = i.cluster AND x.node = i.node
  WHERE i.start_ts IS NOT NULL AND i.start_ts < fromUnixTimestamp64Milli({toMs:Int64})
    AND (i.end_ts IS NULL OR i.end_ts > fromUnixTimestamp64Milli({fromMs:Int64}))
),
${BUCKETED}
${PRICED}`

/** Capacity: each node_state row holds until the node's next row; its GPUs count while the node is Ready and schedulable. */
const CAPACITY = `
WITH ${PRICE_CTES},
raw AS (
  SELECT cluster, node, pool, gpu_model, provider, instance_type, lifecycle, gpus, greatest(ts_ms, {fromMs:Int64}) AS s0, least(next_ms, {toMs:Int64}, {nowMs:Int64}) AS e0
  FROM (
    SELECT cluster, node, pool, gpu_model, provider, instance_type, if(spot, 'spot', 'on-demand') AS lifecycle,
           toUnixTimestamp64Milli(ts) AS ts_ms, if(ready AND schedulable, allocatable_gpus, 0) AS gpus,
           leadInFrame(toUnixTimestamp64Milli(ts), 1, toInt64(8640000000000000))
             OVER (PARTITION BY cluster, node ORDER BY ts ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_ms
    FROM node_state WHERE ts < fromUnixTimestamp64Milli({toMs:Int64})
  )
  WHERE gpus > 0 AND next_ms > {fromMs:Int64}
),
${BUCKETED}
${PRICED}`



/** What one OpenCost read covers: the window, now, the set grid, the group columns and whether idle is kept by node. */
export interface OcSpec {
  fromMs: number
  toMs: number
  nowMs: number
  grid: { originMs: number; stepMs: number }
  columns: readonly OcColumn[]
  byNode: boolean
}

interface PricedRow {
  bucket_ms: number
  cluster: string
  sn: string
  gpu_model: string | null
  pool: string | null
  provider: string | null
  price: number | null
  gpu_ms: number
  first_ms: number
  last_ms: number
  shared: number | boolean
  [k: string]: unknown
}

function slots(spec: OcSpec): { slots: Record<string, string>; params: Params } {
  return {
    slots: {
      keys: spec.columns.map((_, i) => `k${i}, `).join(''),
      keyExprs: spec.columns.map((c, i) => `${COLUMN_EXPRS[c]} AS k${i}, `).join(''),
      ivKeys: spec.columns.map((_, i) => `iv.k${i} AS k${i}, `).join(''),
    },
    params: { fromMs: spec.fromMs, toMs: spec.toMs, nowMs: spec.nowMs, originMs: spec.grid.originMs, stepMs: spec.grid.stepMs, byNode: spec.byNode ? 1 : 0 },
  }
}

const groupOf = (row: Record<string, unknown>, n: number): string[] => Array.from({ length: n }, (_, i) => String(row[`k${i}`] ?? ''))

const usePart = (r: PricedRow) => ({
  cluster: r.cluster,
  scopeNode: r.sn,
  bucketMs: Number(r.bucket_ms),
  gpuMs: Number(r.gpu_ms),
  gpuModel: r.gpu_model ?? '',
  pool: r.pool ?? '',
  provider: r.provider ?? '',
  cloudUsdPerGpuHour: r.price === null ? null : Number(r.price),
})

/** Allocated GPU-milliseconds per group, idle scope, bucket and price, with each group's first and last running time. */
export async function ocAllocation(query: QueryFn, spec: OcSpec): Promise<OcAllocUse[]> {
  const { slots: s, params } = slots(spec)
  const rows = await query<PricedRow>(render(ALLOCATION, s), params)
  return rows.map((r) => ({
    ...usePart(r),
    group: groupOf(r, spec.columns.length),
    firstMs: Number(r.first_ms),
    lastMs: Number(r.last_ms),
    shared: Boolean(Number(r.shared)),
  }))
}

/** Capacity GPU-milliseconds per idle scope, bucket and price. */
export async function ocCapacity(query: QueryFn, spec: OcSpec): Promise<OcCapacityUse[]> {
  const { params } = slots(spec)
  const rows = await query<PricedRow>(render(CAPACITY, { keys: '' }), params)
  return rows.map(usePart)
}

/** Utilization samples of allocated GPUs per group and bucket, read as utilBuckets reads them (podRowsSql). */
export async function ocUtil(query: QueryFn, spec: OcSpec): Promise<UtilRow[]> {
  const { slots: s, params } = slots(spec)
  const podRows = podRowsSql(spec.grid, spec.fromMs, spec.toMs, params)
  const rows = await query<Record<string, unknown> & UtilColumns>(render(UTIL_BUCKETS, { ...s, nodesCte: '', joinNodes: '', filters: '', podRows }), params)
  return rows.map((r) => utilRowOf(r, groupOf(r, spec.columns.length)))
}
