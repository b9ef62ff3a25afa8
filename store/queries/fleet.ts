/**
 * Reads behind /summary and /chargeback: the fleet at one instant, the last
 * hour's activity of the GPUs allocated now, and GPU-milliseconds per row and
 * price for the cost of allocation and of capacity. Templates take `{{slot}}`s
 * filled only from the fixed expressions in store/queries/usage.ts; values are
 * bound parameters.
 */
import type { PricedUse } from '../../core/chargeback'
import type { Params, QueryFn } from '../../core/ports'
import type { Filters, GroupKey } from '../../core/usage'
import { INTERVAL_KEYS, keySlots, NODE_KEY_COLUMNS, nodeSegments, render } from './usage'

/** Capacity, allocation and pending demand at one instant (capacity is the fleet's; the others honour the filter). */
const FLEET_AT = `
SELECT
  (SELECT sum(g) FROM (
     SELECT argMax(if(ready AND schedulable, allocatable_gpus, 0), ts) AS g FROM node_state
     WHERE ts <= fromUnixTimestamp64Milli({atMs:Int64}) GROUP BY cluster, node)) AS capacity_gpus,
  (SELECT sum(i.gpus) FROM workload_intervals AS i FINAL
   WHERE i.start_ts <= fromUnixTimestamp64Milli({atMs:Int64}) AND (i.end_ts IS NULL OR i.end_ts > fromUnixTimestamp64Milli({atMs:Int64})){{filters}}) AS allocated_gpus,
  (SELECT sum(i.gpus) FROM workload_intervals AS i FINAL
   WHERE i.created_ts <= fromUnixTimestamp64Milli({atMs:Int64})
     AND (coalesce(i.start_ts, i.end_ts) IS NULL OR coalesce(i.start_ts, i.end_ts) > fromUnixTimestamp64Milli({atMs:Int64})){{filters}}) AS pending_gpus`

/**
 * The pods holding GPUs at `atMs` with their last hour of per-pod minutes
 * (pod_activity_1m, the 1-minute rollup summed per pod; GR_ENGINE_ACTIVE
 * where reported, else GPU_UTIL): GPUs utilized (GPUs ×
 * mean), GPUs idle (held the whole hour with every minute's maximum below the
 * threshold) and GPUs unknown (no sample in the hour).
 */
const LAST_HOUR = `
WITH iv AS (
  SELECT i.cluster AS cluster, i.namespace AS namespace, i.pod AS pod, i.gpus AS gpus,
         toUnixTimestamp64Milli(assumeNotNull(i.start_ts)) <= {sinceMs:Int64} AS whole_hour
  FROM workload_intervals AS i FINAL
  WHERE i.start_ts <= fromUnixTimestamp64Milli({atMs:Int64}) AND (i.end_ts IS NULL OR i.end_ts > fromUnixTimestamp64Milli({atMs:Int64})){{filters}}
),
act AS (
  SELECT cluster, namespace, pod, sum(gr_sum) AS gr_sum, sum(gr_n) AS gr_n, max(gr_max) AS gr_max,
         sum(util_sum) AS util_sum, sum(util_n) AS util_n, max(util_max) AS util_max
  FROM pod_activity_1m
  WHERE ts >= toDateTime(intDiv({sinceMs:Int64}, 1000), 'UTC') AND ts < toDateTime(intDiv({atMs:Int64} + 999, 1000), 'UTC')
  GROUP BY cluster, namespace, pod
)
SELECT sum(gpus) AS allocated_gpus, sumIf(gpus, known) AS known_gpus, sumIf(gpus * mean, known) AS utilized_gpus,
       sumIf(gpus, known AND whole_hour AND peak < {utilBelow:Float64}) AS idle_gpus,
       countIf(known AND whole_hour AND peak < {utilBelow:Float64}) AS idle_pods,
       sumIf(gpus, NOT known) AS unknown_gpus, countIf(NOT known) AS unknown_pods,
       countIf(known AND act.gr_n = 0) AS gpu_util_pods, countIf(act.gr_n > 0) AS gr_pods
FROM (
  SELECT iv.gpus AS gpus, iv.whole_hour AS whole_hour, act.gr_n AS gr_n, (act.gr_n + act.util_n) > 0 AS known,
         if(act.gr_n > 0, act.gr_sum / act.gr_n, act.util_sum / greatest(act.util_n, 1)) AS mean,
         if(act.gr_n > 0, act.gr_max, act.util_max) AS peak
  FROM iv LEFT JOIN act ON act.cluster = iv.cluster AND act.namespace = iv.namespace AND act.pod = iv.pod
) AS act`

/** Region of each cloud node (from the cloud instance list; '' for a node it does not name), and prices per GPU. */
export const PRICE_CTES = `
regions AS (SELECT cluster, node, argMax(region, ts) AS region FROM cloud_instances WHERE node != '' GROUP BY cluster, node),
price AS (
  SELECT provider, region, instance_type, lifecycle, toUnixTimestamp64Milli(effective_from_ts) AS from_ms, usd_per_hour / gpus AS usd_per_gpu_hour
  FROM prices FINAL WHERE gpus > 0
)`

/** Each node's latest pool, model, provider, instance type and lifecycle: what its allocation is priced by. */
export const PRICED_NODES_CTE = `nodes AS (
  SELECT cluster, node, argMax(pool, ts) AS pool, argMax(gpu_model, ts) AS gpu_model, argMax(provider, ts) AS provider,
         argMax(instance_type, ts) AS instance_type, if(argMax(spot, ts), 'spot', 'on-demand') AS lifecycle
  FROM node_state GROUP BY cluster, node
)`

/** A node whose GPUs may have a cloud price: everything but on-prem (whose rates are the rate card's). */
const CLOUD = "provider NOT IN ('', 'onprem')"

/**
 * Prices [s, e) spans (\`spans\`: keys, cluster, node, node kind, gpus, s, e).
 * A cloud node's spans are cut at clock hours and each hour takes the price
 * in effect at its start (ASOF on provider, region, type, lifecycle); other
 * spans stay whole and get no price (core/chargeback.ts charges them from the
 * rate card). GPU-milliseconds are summed per node and hour before the region
 * and price joins, so those joins see a few rows per node, not one per span.
 */
const PRICED_SUM = `
SELECT {{keys}}u.gpu_model AS gpu_model, u.pool AS pool, u.provider AS provider,
       if(p.from_ms != 0, p.usd_per_gpu_hour, NULL) AS price, sum(u.gpu_ms) AS gpu_ms
FROM (
  SELECT {{keys}}gpu_model, pool, provider, instance_type, lifecycle, hour_ms, gpu_ms, r.region AS region
  FROM (
    SELECT {{keys}}cluster, node, gpu_model, pool, provider, instance_type, lifecycle, if(cloud, b, 0) AS hour_ms,
           sum(gpus * (if(cloud, least(e, b + 3600000), e) - greatest(s, b))) AS gpu_ms
    FROM (SELECT *, ${CLOUD} AS cloud FROM spans WHERE e > s)
    ARRAY JOIN if(cloud, range(intDiv(s, 3600000) * 3600000, e, 3600000), [s]) AS b
    GROUP BY {{keys}}cluster, node, gpu_model, pool, provider, instance_type, lifecycle, hour_ms
  ) AS a
  LEFT JOIN regions AS r ON r.cluster = a.cluster AND r.node = a.node
) AS u
ASOF LEFT JOIN price AS p ON p.provider = u.provider AND p.region = u.region AND p.instance_type = u.instance_type
  AND p.lifecycle = u.lifecycle AND u.hour_ms >= p.from_ms
GROUP BY {{keys}}gpu_model, pool, provider, price`

/** Allocation per chargeback row on each kind of node (its latest state), at each price. */
const ALLOCATION_COST = `
WITH ${PRICE_CTES},
${PRICED_NODES_CTE},
spans AS (
  SELECT {{keyExprs}}i.cluster AS cluster, i.node AS node, i.gpus AS gpus, x.gpu_model AS gpu_model, x.pool AS pool, x.provider AS provider,
         x.instance_type AS instance_type, x.lifecycle AS lifecycle,
         greatest(toUnixTimestamp64Milli(assumeNotNull(i.start_ts)), {fromMs:Int64}) AS s,
         least(ifNull(toUnixTimestamp64Milli(i.end_ts), {nowMs:Int64}), {toMs:Int64}, {nowMs:Int64}) AS e
  FROM workload_intervals AS i FINAL
  LEFT JOIN nodes AS x ON x.cluster = i.cluster AND x.node = i.node
  WHERE i.start_ts IS NOT NULL AND i.start_ts < fromUnixTimestamp64Milli({toMs:Int64})
    AND (i.end_ts IS NULL OR i.end_ts > fromUnixTimestamp64Milli({fromMs:Int64})){{filters}}
)
${PRICED_SUM}`

/** Capacity of the whole fleet on each kind of node (as each node_state row gives it), at each price. */
const CAPACITY_COST = `
WITH ${PRICE_CTES},
spans AS (
  SELECT cluster, node, gpus, gpu_model, pool, provider, instance_type, lifecycle,
         greatest(ts_ms, {fromMs:Int64}) AS s, least(next_ms, {toMs:Int64}, {nowMs:Int64}) AS e
  FROM (${nodeSegments([...NODE_KEY_COLUMNS, ['instance_type', 'instance_type'], ['lifecycle', "if(spot, 'spot', 'on-demand')"]])}
  )
  WHERE gpus > 0 AND next_ms > {fromMs:Int64}
)
${PRICED_SUM}`

/** The fleet at one instant. */
export interface FleetAt {
  capacityGpus: number
  allocatedGpus: number
  pendingGpus: number
}

/** The last hour of the GPUs allocated now: how much of them is used, idle or unknown. */
export interface LastHour {
  allocatedGpus: number
  /** GPUs of pods with at least one sample in the hour. */
  knownGpus: number
  /** Σ GPUs × mean utilization over pods with samples. */
  utilizedGpus: number
  idleGpus: number
  idleWorkloads: number
  unknownGpus: number
  unknownWorkloads: number
  /** Pods whose figure came from GR_ENGINE_ACTIVE, and from GPU_UTIL. */
  grEngineActivePods: number
  gpuUtilPods: number
}

/** Only the team filter applies to the instant reads (they do not join nodes). */
function teamOnly(filters: Filters): Filters {
  return filters.team ? { team: filters.team } : {}
}

function slots(filters: Filters, params: Params): Record<string, string> {
  const { slots: s, params: p } = keySlots({ grid: { fromMs: 0, toMs: 0, stepMs: 1, originMs: 0 }, nowMs: 0, groupBy: [], filters: teamOnly(filters) }, INTERVAL_KEYS)
  for (const [k, v] of Object.entries(p)) if (k.startsWith('f_')) params[k] = v
  return s
}

/** Capacity (whole fleet), allocation and pending demand (team-filtered when asked) at `atMs`. */
export async function fleetAt(query: QueryFn, atMs: number, filters: Filters): Promise<FleetAt> {
  const params: Params = { atMs }
  const [row] = await query<{ capacity_gpus: number | null; allocated_gpus: number | null; pending_gpus: number | null }>(render(FLEET_AT, slots(filters, params)), params)
  return { capacityGpus: Number(row?.capacity_gpus ?? 0), allocatedGpus: Number(row?.allocated_gpus ?? 0), pendingGpus: Number(row?.pending_gpus ?? 0) }
}

/** The last hour's activity of the pods allocated at `atMs`; idle below `utilBelow`. */
export async function lastHour(query: QueryFn, atMs: number, utilBelow: number, filters: Filters): Promise<LastHour> {
  const params: Params = { atMs, sinceMs: atMs - 3_600_000, utilBelow }
  const [r] = await query<Record<string, number | null>>(render(LAST_HOUR, slots(filters, params)), params)
  const n = (k: string) => Number(r?.[k] ?? 0)
  return {
    allocatedGpus: n('allocated_gpus'),
    knownGpus: n('known_gpus'),
    utilizedGpus: n('utilized_gpus'),
    idleGpus: n('idle_gpus'),
    idleWorkloads: n('idle_pods'),
    unknownGpus: n('unknown_gpus'),
    unknownWorkloads: n('unknown_pods'),
    grEngineActivePods: n('gr_pods'),
    gpuUtilPods: n('gpu_util_pods'),
  }
}

/** A chargeback period: [fromMs, toMs) read up to now. */
export interface CostSpec {
  fromMs: number
  toMs: number
  nowMs: number
  /** The chargeback key (team, project, user or namespace). */
  by: GroupKey
  filters: Filters
}

interface PricedRow {
  k0?: string
  gpu_model: string | null
  pool: string | null
  provider: string | null
  price: number | null
  gpu_ms: number
}

const toUse = (r: PricedRow, key: string): PricedUse => ({
  key,
  gpuMs: Number(r.gpu_ms),
  gpuModel: r.gpu_model ?? '',
  pool: r.pool ?? '',
  provider: r.provider ?? '',
  cloudUsdPerGpuHour: r.price === null ? null : Number(r.price),
})

/** Allocated GPU-milliseconds per chargeback row, node kind and cloud price, for the period up to now. */
export async function allocationCost(query: QueryFn, spec: CostSpec): Promise<PricedUse[]> {
  const grid = { fromMs: spec.fromMs, toMs: spec.toMs, stepMs: 1, originMs: spec.fromMs }
  const { slots: s, params } = keySlots({ grid, nowMs: spec.nowMs, groupBy: [spec.by], filters: spec.filters }, INTERVAL_KEYS)
  const rows = await query<PricedRow>(render(ALLOCATION_COST, s), params)
  return rows.map((r) => toUse(r, String(r.k0 ?? '')))
}

/** Capacity GPU-milliseconds of the whole fleet per node kind and cloud price, for the period up to now (row key ''). */
export async function capacityCost(query: QueryFn, spec: Pick<CostSpec, 'fromMs' | 'toMs' | 'nowMs'>): Promise<PricedUse[]> {
  const params: Params = { fromMs: spec.fromMs, toMs: spec.toMs, nowMs: spec.nowMs }
  const rows = await query<PricedRow>(render(CAPACITY_COST, { keys: '' }), params)
  return rows.map((r) => toUse(r, ''))
}
