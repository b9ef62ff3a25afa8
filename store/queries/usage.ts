/**
 * Reads behind /usage, /summary and /chargeback: capacity from node_state
 * history, allocation and pending demand from exact workload intervals, and
 * utilization of allocated GPUs from the sample rollups, each summed per group
 * and step bucket in ClickHouse (core/usage.ts bucketGpuMs is the definition
 * these queries implement).
 *
 * The templates below take `{{slot}}`s filled only from the fixed column
 * expressions in this file (never from user input); every value, filters
 * included, is a bound `{name:Type}` parameter.
 */
import type { Params, QueryFn } from '../../core/ports'
import { buildSeries, usageGrid, type BucketGrid, type Filters, type GpuMsRow, type GroupKey, type UsageTotals, type UtilRow } from '../../core/usage'
import type { TimeWindow } from '../../core/windows'

/** Latest pool, model and provider of every node: allocation and utilization are grouped by a node's current values. */
export const NODES_CTE = `nodes AS (
  SELECT cluster, node, argMax(pool, ts) AS pool, argMax(gpu_model, ts) AS gpu_model, argMax(provider, ts) AS provider
  FROM node_state GROUP BY cluster, node)`

/**
 * Buckets of the grid an [s, e) span touches; intDiv is exact because s >= fromMs >= originMs.
 * Only for spans with e > s: an empty span clipped to the window can have s > e inside one bucket,
 * and GPU_MS_PER_BUCKET would count it negative.
 */
const BUCKETS = 'range({originMs:Int64} + intDiv(s - {originMs:Int64}, {stepMs:Int64}) * {stepMs:Int64}, e, {stepMs:Int64})'

/** Overlap of [s, e) with bucket b, times GPUs, summed: exact GPU-milliseconds per group and bucket. */
const GPU_MS_PER_BUCKET = 'sum(gpus * (least(e, b + {stepMs:Int64}) - greatest(s, b)))'

/** A node_state column a capacity read keeps per segment: its output name and its expression over node_state. */
export type StateColumn = readonly [name: string, expr: string]

/** The columns capacity is grouped by; chargeback adds the instance type and lifecycle it prices by. */
export const NODE_KEY_COLUMNS: readonly StateColumn[] = [['pool', 'pool'], ['gpu_model', 'gpu_model'], ['provider', 'provider']]

/**
 * Capacity segments of every node before {toMs}: each node_state row holds
 * until the node's next row (\`next_ms\`, far future for the last one), with
 * \`gpus\` its allocatable GPUs while Ready and schedulable, else 0.
 *
 * The collector re-writes every node's unchanged row on its heartbeat (every
 * 5 minutes), so the history is mostly repeats: 90 days of 125 nodes is 3M
 * rows for a few hundred changes. A repeat changes no segment, only splits
 * one, so a first pass keeps the rows whose state (the columns read here and
 * the GPUs) differs from the node's previous row, compared by a 64-bit hash
 * of that state, and the successor is found among those. Everything after
 * (clipping, bucketing, pricing) then works on changes, not on heartbeats.
 */
export function nodeSegments(cols: readonly StateColumn[]): string {
  const names = cols.map(([n]) => n)
  const exprs = cols.map(([n, e]) => `${e} AS ${n}`).join(', ')
  return `
SELECT cluster, node, ${names.join(', ')}, ts_ms, gpus,
       leadInFrame(ts_ms, 1, toInt64(8640000000000000)) OVER (PARTITION BY cluster, node ORDER BY ts_ms ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_ms
FROM (
  SELECT cluster, node, ${names.join(', ')}, ts_ms, gpus
  FROM (
    SELECT cluster, node, ${exprs}, toUnixTimestamp64Milli(ts) AS ts_ms, if(ready AND schedulable, allocatable_gpus, 0) AS gpus,
           cityHash64(${[...names, 'gpus'].join(', ')}) AS h,
           lagInFrame(h, 1, toUInt64(0)) OVER (PARTITION BY cluster, node ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS prev_h
    FROM node_state WHERE ts < fromUnixTimestamp64Milli({toMs:Int64})
  )
  WHERE h != prev_h
)`
}

/**
 * Capacity: each node_state row holds until the node's next row; its GPUs
 * count while the node is Ready and schedulable, under the pool, model and
 * provider that row gives (capacity is grouped by the node's values at the time).
 */
const CAPACITY_BUCKETS = `
SELECT {{keys}}b AS bucket_ms, ${GPU_MS_PER_BUCKET} AS gpu_ms
FROM (
  SELECT {{keyExprs}}seg.gpus AS gpus, greatest(seg.ts_ms, {fromMs:Int64}) AS s, least(seg.next_ms, {toMs:Int64}, {nowMs:Int64}) AS e
  FROM (${nodeSegments(NODE_KEY_COLUMNS)}
  ) AS seg
  WHERE seg.gpus > 0 AND seg.next_ms > {fromMs:Int64}{{filters}} AND e > s
)
ARRAY JOIN ${BUCKETS} AS b
GROUP BY {{keys}}bucket_ms`

/**
 * Allocation and pending demand in one pass over the intervals: a pod is
 * pending from creation until bound to a node (or until it ended unbound, or
 * now), and allocated from then until it ends (or now while running). Spans
 * left empty by clipping are dropped: the allocated span of a pod that ended
 * unbound, the pending span of a pod bound before the window.
 */
const ALLOCATION_BUCKETS = `
{{withNodes}}
SELECT {{keys}}span.1 AS kind, b AS bucket_ms, ${GPU_MS_PER_BUCKET} AS gpu_ms
FROM (
  SELECT {{keys}}gpus, span, greatest(span.2, {fromMs:Int64}) AS s, least(span.3, {toMs:Int64}, {nowMs:Int64}) AS e
  FROM (
    SELECT {{keyExprs}}i.gpus AS gpus,
           [(0, ifNull(toUnixTimestamp64Milli(i.start_ts), {nowMs:Int64}), ifNull(toUnixTimestamp64Milli(i.end_ts), {nowMs:Int64})),
            (1, toUnixTimestamp64Milli(i.created_ts), ifNull(toUnixTimestamp64Milli(coalesce(i.start_ts, i.end_ts)), {nowMs:Int64}))] AS spans
    FROM workload_intervals AS i FINAL{{joinNodes}}
    WHERE i.created_ts < fromUnixTimestamp64Milli({toMs:Int64})
      AND (i.end_ts IS NULL OR i.end_ts > fromUnixTimestamp64Milli({fromMs:Int64})){{filters}}
  )
  ARRAY JOIN spans AS span
  WHERE e > s
)
ARRAY JOIN ${BUCKETS} AS b
GROUP BY {{keys}}kind, bucket_ms`

/**
 * A GPU's share of a full GPU in a rollup row: 1, or g/7 for a `<g>g.*` MIG
 * slice (g/4 on an A30), so a slice's samples weigh what the slice is.
 */
export const MIG_WEIGHT = `if(mig_profile = '', 1, if(toFloat64OrZero(extract(mig_profile, '^([0-9]+)g')) > 0,
  toFloat64OrZero(extract(mig_profile, '^([0-9]+)g')) / if(match(model, '(^|[^0-9A-Za-z])A30([^0-9A-Za-z]|$)'), 4, 7), 1))`

/**
 * Utilization of allocated GPUs. Rollup rows are read as GR_ENGINE_ACTIVE
 * where the row has it, else GPU_UTIL, weighted by GPU fraction, and summed
 * per pod and step bucket first (pods keyed by a 64-bit hash of cluster,
 * namespace and pod, which keeps the join cheap); each pod-bucket then joins
 * the pod's interval in effect at its first sample (ASOF), so a reused pod
 * name is matched to the right pod. `{{podRows}}` is where the per-pod rows
 * come from (podRowsSql): the minute rollup, or the per-pod hourly and daily
 * sums of the hourly rollup. A pod name reused within one row's span (an
 * hour, or a UTC day for whole days) by a pod with other owner keys counts
 * under the first one's keys for that span.
 *
 * `sampled_gpu_ms` is the allocated time the samples speak for: each pod's
 * allocation in the bucket from the hour of its first sample there. A bucket
 * longer than an hour whose samples begin late (collection started, or the
 * exporter came up, mid-day) has the hours before unknown, not extrapolated.
 */
export const UTIL_BUCKETS = `
WITH {{nodesCte}}iv AS (
  SELECT cityHash64(i.cluster, i.namespace, i.pod) AS h, {{keyExprs}}i.gpus AS gpus,
         toUnixTimestamp64Milli(assumeNotNull(i.start_ts)) AS start_ms,
         intDiv(start_ms, {resMs:Int64}) * {resMs:Int64} AS from_ms,
         ifNull(toUnixTimestamp64Milli(i.end_ts), {nowMs:Int64}) AS to_ms
  FROM workload_intervals AS i FINAL{{joinNodes}}
  WHERE i.start_ts IS NOT NULL AND i.start_ts < fromUnixTimestamp64Milli({toMs:Int64})
    AND (i.end_ts IS NULL OR i.end_ts > fromUnixTimestamp64Milli({rollFromMs:Int64})){{filters}}
)
SELECT {{ivKeys}}r.bucket_ms AS bucket_ms, sum(r.wsum) AS weighted_sum, sum(r.wcnt) AS weighted_n, sum(r.cnt) AS samples, sum(r.gr) AS gr_samples,
       sum(iv.gpus * greatest(0, least(iv.to_ms, r.bucket_ms + {stepMs:Int64}, {toMs:Int64}, {nowMs:Int64})
                                 - greatest(intDiv(r.first_ms, 3600000) * 3600000, iv.start_ms, r.bucket_ms, {fromMs:Int64}))) AS sampled_gpu_ms
FROM (
  SELECT h, {originMs:Int64} + intDiv(ts_ms - {originMs:Int64}, {stepMs:Int64}) * {stepMs:Int64} AS bucket_ms,
         min(first_ms) AS first_ms, sum(wsum) AS wsum, sum(wn) AS wcnt, sum(n) AS cnt, sum(gr_n) AS gr
  FROM ({{podRows}})
  GROUP BY h, bucket_ms
) AS r
ASOF INNER JOIN iv ON r.h = iv.h AND r.first_ms >= iv.from_ms
WHERE r.first_ms < iv.to_ms AND r.cnt > 0
GROUP BY {{keys}}bucket_ms`

/** Per-pod rows (h, ts_ms, first_ms, wsum, wn, n, gr_n) of the minute rollup in [rollFromMs, toMs): what pod_util_1h sums per hour (store/migrations/0003). */
const MINUTE_POD_ROWS = `
    SELECT h, ts_ms, first_ms, wsum, wn, n, gr_n FROM (
      SELECT cityHash64(cluster, namespace, pod) AS h, toInt64(toUnixTimestamp(ts)) * 1000 AS ts_ms, ts_ms AS first_ms,
             ${MIG_WEIGHT} AS w, gr_engine_active_n > 0 AS use_gr, if(use_gr, gr_engine_active_n, gpu_util_n) AS n,
             w * if(use_gr, gr_engine_active_sum, gpu_util_sum) AS wsum, w * n AS wn, if(use_gr, n, 0) AS gr_n
      FROM gpu_samples_1m
      WHERE ts >= toDateTime(intDiv({rollFromMs:Int64}, 1000), 'UTC') AND ts < toDateTime(intDiv({toMs:Int64} + 999, 1000), 'UTC') AND pod != '')`

/** Per-pod rows of pod_util_1h or pod_util_1d in [from, to) (epoch ms expressions). */
const POD_TABLE_ROWS = `
    SELECT cityHash64(cluster, namespace, pod) AS h, toInt64(toUnixTimestamp(ts)) * 1000 AS ts_ms, toInt64(toUnixTimestamp(first_ts)) * 1000 AS first_ms,
           wsum, wn, n, gr_n
    FROM {{table}}
    WHERE ts >= toDateTime(intDiv({{from}}, 1000), 'UTC') AND ts < toDateTime(intDiv({{to}} + 999, 1000), 'UTC')`

const DAY_MS = 86_400_000

/**
 * Where utilization rows come from for a grid step, with the parameters that
 * bound them (resMs, rollFromMs; dayFromMs, dayToMs when days are read): the
 * coarsest resolution that tiles the step, read from the window's start
 * rounded down to it (a row is read whole). Hourly steps read pod_util_1h,
 * steps of whole days on a grid starting at a UTC midnight (usageGrid's
 * always do; OpenCost's may not) read the whole UTC days inside the window from
 * pod_util_1d and the hours before and after them from pod_util_1h: the same
 * sums as reading the hourly rollup, from tables ordered by time with one row
 * per pod rather than per GPU (store/migrations/0003).
 */
export function podRowsSql(grid: Pick<BucketGrid, 'stepMs' | 'originMs'>, fromMs: number, toMs: number, params: Params): string {
  const { stepMs, originMs } = grid
  const rollup = rollupFor(stepMs)
  if (!rollup) throw new Error(`step ${stepMs} ms is not a whole number of minutes`)
  const rollFromMs = Math.floor(fromMs / rollup.resMs) * rollup.resMs
  params.resMs = rollup.resMs
  params.rollFromMs = rollFromMs
  if (rollup.resMs !== 3_600_000) return MINUTE_POD_ROWS
  const rows = (table: string, from: string, to: string) => render(POD_TABLE_ROWS, { table, from, to })
  const dayFromMs = Math.ceil(rollFromMs / DAY_MS) * DAY_MS
  // A day row lands in the bucket of its midnight: only buckets that start at midnight hold whole days.
  if (stepMs % DAY_MS !== 0 || originMs % DAY_MS !== 0 || dayFromMs >= toMs) return rows('pod_util_1h', '{rollFromMs:Int64}', '{toMs:Int64}')
  params.dayFromMs = dayFromMs
  params.dayToMs = Math.max(dayFromMs, Math.floor(toMs / DAY_MS) * DAY_MS)
  return [
    rows('pod_util_1h', '{rollFromMs:Int64}', '{dayFromMs:Int64} - 999'),
    rows('pod_util_1d', '{dayFromMs:Int64}', '{dayToMs:Int64} - 999'),
    rows('pod_util_1h', '{dayToMs:Int64}', '{toMs:Int64}'),
  ].join('\n    UNION ALL')
}

/** Key expressions over a workload interval `i` and its node `n`. */
export const INTERVAL_KEYS: Readonly<Record<GroupKey, string>> = {
  cluster: 'i.cluster',
  pool: 'n.pool',
  node: 'i.node',
  gpuModel: 'n.gpu_model',
  provider: 'n.provider',
  namespace: 'i.namespace',
  team: 'i.team',
  project: 'i.project',
  user: 'i.user',
  workload: "concat(i.namespace, '/', i.workload_kind, '/', i.workload_name)",
}

/** Key expressions over a node_state segment `seg` (node keys only). */
const CAPACITY_KEY_EXPRS: Readonly<Partial<Record<GroupKey, string>>> = {
  cluster: 'seg.cluster',
  pool: 'seg.pool',
  node: 'seg.node',
  gpuModel: 'seg.gpu_model',
  provider: 'seg.provider',
}

/** Keys read from a node's latest state: only queries using them join node_state (a scan of its whole history). */
const NODE_ATTRIBUTE_KEYS: readonly GroupKey[] = ['pool', 'gpuModel', 'provider']

/** Resolutions utilization is read at (podRowsSql): the coarsest whose buckets tile the step. */
const ROLLUPS: ReadonlyArray<{ resMs: number; name: string }> = [
  { resMs: 3_600_000, name: '1h' },
  { resMs: 60_000, name: '1m' },
]

/** What one usage read covers: the bucket grid, now, the grouping and the filters. */
export interface UsageSpec {
  grid: BucketGrid
  nowMs: number
  groupBy: readonly GroupKey[]
  filters: Filters
}

interface KeyedRow {
  bucket_ms: number
  [k: string]: unknown
}

/** Fills `{{slot}}`s of a template with SQL built in the store modules (never with user input). */
export function render(template: string, slots: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = slots[name]
    if (value === undefined) throw new Error(`query template slot '${name}' not filled`)
    return value
  })
}

/** The group-key and filter slots for the given expressions (values become `{f_<key>:Array(String)}` parameters), and every parameter. */
export function keySlots(spec: UsageSpec, exprs: Readonly<Partial<Record<GroupKey, string>>>): { slots: Record<string, string>; params: Params } {
  const params: Params = { fromMs: spec.grid.fromMs, toMs: spec.grid.toMs, nowMs: spec.nowMs, stepMs: spec.grid.stepMs, originMs: spec.grid.originMs }
  const expr = (k: GroupKey) => {
    const e = exprs[k]
    if (e === undefined) throw new Error(`no expression for key '${k}' here`)
    return e
  }
  let filters = ''
  for (const [key, values] of Object.entries(spec.filters) as Array<[GroupKey, string[]]>) {
    filters += ` AND ${expr(key)} IN {f_${key}:Array(String)}`
    params[`f_${key}`] = values
  }
  const needsNodes = [...spec.groupBy, ...Object.keys(spec.filters)].some((k) => NODE_ATTRIBUTE_KEYS.includes(k as GroupKey))
  return {
    slots: {
      withNodes: needsNodes ? `WITH ${NODES_CTE}` : '',
      nodesCte: needsNodes ? `${NODES_CTE},\n` : '',
      joinNodes: needsNodes ? '\n  LEFT JOIN nodes AS n ON n.cluster = i.cluster AND n.node = i.node' : '',
      keys: spec.groupBy.map((_, i) => `k${i}, `).join(''),
      keyExprs: spec.groupBy.map((k, i) => `${expr(k)} AS k${i}, `).join(''),
      ivKeys: spec.groupBy.map((_, i) => `iv.k${i} AS k${i}, `).join(''),
      filters,
    },
    params,
  }
}

const groupOf = (row: KeyedRow, n: number): string[] => Array.from({ length: n }, (_, i) => String(row[`k${i}`] ?? ''))

/** Capacity GPU-milliseconds per group and bucket; the spec must group and filter by node keys only. */
export async function capacityBuckets(query: QueryFn, spec: UsageSpec): Promise<GpuMsRow[]> {
  const { slots, params } = keySlots(spec, CAPACITY_KEY_EXPRS)
  const rows = await query<KeyedRow & { gpu_ms: number }>(render(CAPACITY_BUCKETS, slots), params)
  return rows.map((r) => ({ group: groupOf(r, spec.groupBy.length), bucketMs: Number(r.bucket_ms), gpuMs: Number(r.gpu_ms) }))
}

/** Allocated and pending GPU-milliseconds per group and bucket, from exact intervals clipped to the window and to now. */
export async function allocationBuckets(query: QueryFn, spec: UsageSpec): Promise<{ allocation: GpuMsRow[]; pending: GpuMsRow[] }> {
  const { slots, params } = keySlots(spec, INTERVAL_KEYS)
  const rows = await query<KeyedRow & { kind: number; gpu_ms: number }>(render(ALLOCATION_BUCKETS, slots), params)
  const out = { allocation: [] as GpuMsRow[], pending: [] as GpuMsRow[] }
  for (const r of rows) {
    const row = { group: groupOf(r, spec.groupBy.length), bucketMs: Number(r.bucket_ms), gpuMs: Number(r.gpu_ms) }
    ;(Number(r.kind) === 0 ? out.allocation : out.pending).push(row)
  }
  return out
}

/** The rollup a step reads: 1h when it tiles the step, else 1m; undefined when the step is not a whole number of minutes. */
export function rollupFor(stepMs: number): { resMs: number; name: string } | undefined {
  return ROLLUPS.find((r) => stepMs % r.resMs === 0)
}

/** Utilization samples of allocated GPUs per group and bucket (podRowsSql says from which rows). */
export async function utilBuckets(query: QueryFn, spec: UsageSpec): Promise<UtilRow[]> {
  const { slots, params } = keySlots(spec, INTERVAL_KEYS)
  const podRows = podRowsSql(spec.grid, spec.grid.fromMs, spec.grid.toMs, params)
  const rows = await query<KeyedRow & UtilColumns>(render(UTIL_BUCKETS, { ...slots, podRows }), params)
  return rows.map((r) => utilRowOf(r, groupOf(r, spec.groupBy.length)))
}

/** The columns UTIL_BUCKETS answers besides the group keys. */
export interface UtilColumns {
  bucket_ms: number
  weighted_sum: number
  weighted_n: number
  samples: number
  gr_samples: number
  sampled_gpu_ms: number
}

/** A UTIL_BUCKETS row as a UtilRow of the given group. */
export const utilRowOf = (r: UtilColumns, group: string[]): UtilRow => ({
  group,
  bucketMs: Number(r.bucket_ms),
  weightedSum: Number(r.weighted_sum),
  weightedN: Number(r.weighted_n),
  samples: Number(r.samples),
  grEngineActiveSamples: Number(r.gr_samples),
  sampledGpuMs: Number(r.sampled_gpu_ms),
})

/**
 * Used and unknown GPU-hours per value of one key over a period, from daily
 * (hourly for periods under two days) allocation × utilization: utilization
 * weighted by exact allocation, and allocation no sample speaks for counted
 * as unknown (core/usage.ts sampledGpuMsOf). The one definition behind
 * GET /chargeback and the quarterly report's chargeback and idle waste.
 */
export async function usedByKey(query: QueryFn, period: TimeWindow, nowMs: number, by: GroupKey, filters: Filters): Promise<Map<string, UsageTotals>> {
  const stepMs = period.toMs - period.fromMs >= 2 * DAY_MS ? DAY_MS : 3_600_000
  const spec: UsageSpec = { grid: usageGrid(period, stepMs, Number.MAX_SAFE_INTEGER), nowMs, groupBy: [by], filters }
  const [{ allocation }, util] = await Promise.all([allocationBuckets(query, spec), utilBuckets(query, spec)])
  const { series } = buildSeries([by], spec.grid, nowMs, { capacity: null, allocation, pending: [], util })
  return new Map(series.map((s) => [s.group[by] ?? '', s.totals]))
}
