/**
 * SQL building blocks shared by the dashboards' ClickHouse panels. The text
 * is what Grafana sends: plugin macros (`$__timeFilter`, `$__fromTime_ms`,
 * `$__interval_s`...) and dashboard variables, never user input spliced by
 * us. Tables are unqualified: the data source's default database
 * (`gpuscope`) applies.
 *
 * Definitions follow DESIGN.md: allocation is GPUs held by pods bound to a
 * node from start to end; pending demand is GPUs of pods from creation until
 * bound; capacity is allocatable GPUs of Ready, schedulable nodes, each
 * node_state row holding until the node's next row. Utilization is
 * GR_ENGINE_ACTIVE where a GPU reports it, else GPU_UTIL (stored 0..1); a
 * rollup row with no sample (`n = 0`) is unknown and is never averaged in.
 */

/** A filter on `column` by a multi-value variable; the plugin replaces it with 1=1 when All is selected. */
export const varIn = (column: string, variable: string): string => `$__conditionalAll(${column} IN (\${${variable}:sqlstring}), $${variable})`

/** Pool filter for tables keyed by (cluster, node): the node's pool in its state history. */
export const poolFilter = (cluster = 'cluster', node = 'node'): string =>
  `$__conditionalAll((${cluster}, ${node}) IN (SELECT cluster, node FROM node_state WHERE pool IN (\${pool:sqlstring})), $pool)`

/** Team filter for tables keyed by (cluster, namespace, pod): the pod's team label. */
export const teamFilter = (cluster = 'cluster', namespace = 'namespace', pod = 'pod'): string =>
  `$__conditionalAll((${cluster}, ${namespace}, ${pod}) IN (SELECT cluster, namespace, pod FROM workload_intervals WHERE team IN (\${team:sqlstring})), $team)`

/** Start and end of the dashboard range, in epoch milliseconds. */
export const FROM_MS = 'toUnixTimestamp64Milli($__fromTime_ms)'
/** End of the range in epoch milliseconds. */
export const TO_MS = 'toUnixTimestamp64Milli($__toTime_ms)'
/** What has happened: open intervals end here (now, or the range end when it is in the past). */
export const NOW_MS = `least(toUnixTimestamp64Milli(now64(3)), ${TO_MS})`

/** Where a series starts: the range start, or earlier (the forecast reads the week before the range too). */
export interface Since {
  /** Epoch milliseconds. */
  ms: string
  /** The same instant as a DateTime64. */
  ts: string
}

/** Series start at the range start. */
export const RANGE_START: Since = Object.freeze({ ms: FROM_MS, ts: '$__fromTime_ms' })
/** Series start a week before the range start (for a seasonal-naive projection into the range). */
export const WEEK_BEFORE: Since = Object.freeze({ ms: `(${FROM_MS} - 604800000)`, ts: '($__fromTime_ms - INTERVAL 7 DAY)' })

/** Latest pool and GPU model of every node (a subquery, alias it). */
export const NODES = `(SELECT cluster, node, argMax(pool, ts) AS pool, argMax(gpu_model, ts) AS gpu_model FROM node_state GROUP BY cluster, node)`

/** A rollup row's utilization sum and sample count: GR_ENGINE_ACTIVE where the GPU reported it, else GPU_UTIL. */
export const UTIL_SUM = 'if(gr_engine_active_n > 0, gr_engine_active_sum, gpu_util_sum)'
/** Sample count matching UTIL_SUM. */
export const UTIL_N = 'if(gr_engine_active_n > 0, gr_engine_active_n, gpu_util_n)'

/** GPUs one rollup row stands for: 1, or a MIG slice's share of its GPU (`3g.40gb` = 3/7). */
export const GPU_WEIGHT = "if(mig_profile = '', 1, toUInt8OrZero(extract(mig_profile, '^([0-9]+)g')) / 7)"

/**
 * The same aggregate read from the 1-minute rollup when the panel interval is
 * under an hour and from the hourly rollup otherwise (the other branch's
 * constant-false condition makes ClickHouse skip it). `body` is the text after
 * FROM <table>; it must start with a WHERE clause.
 */
export function fromRollup(select: string, body: string): string {
  if (!/^\s*WHERE\b/.test(body)) throw new Error('fromRollup: body must start with WHERE')
  const branch = (table: string, pick: string) => `${select} FROM ${table} ${body.replace(/^\s*WHERE\b/, `WHERE ${pick} AND`)}`
  return `${branch('gpu_samples_1m', '$__interval_s < 3600')}\n  UNION ALL\n  ${branch('gpu_samples_1h', '$__interval_s >= 3600')}`
}

/**
 * Mean over each `$__interval_s` bucket of a step function given as spans:
 * `spans` yields `s_ms`, `e_ms` (clipped to the range), `v` (the value held
 * over [s, e)) and the `labels`. Each span is cut at bucket edges and
 * weighted by its overlap, so the value is the exact time-average over the
 * part of the bucket that has happened.
 */
export function bucketMean(spans: string, labels: readonly string[], valueAlias: string, since: Since = RANGE_START): string {
  const keys = labels.map((l) => `, ${l}`).join('')
  return `SELECT toDateTime(b, 'UTC') AS time${keys},
  sum(v * (least(e_ms, (b + $__interval_s) * 1000) - greatest(s_ms, b * 1000)))
    / (least((b + $__interval_s) * 1000, ${NOW_MS}) - greatest(b * 1000, ${since.ms})) AS ${valueAlias}
FROM (${spans}) AS spans
ARRAY JOIN range(toUInt32(intDiv(intDiv(s_ms, 1000), $__interval_s) * $__interval_s), toUInt32(intDiv(e_ms - 1, 1000) + 1), toUInt32($__interval_s)) AS b
WHERE e_ms > s_ms
GROUP BY b${keys}
ORDER BY time`
}

/** Allocation spans: pods bound to a node, [start, end or now), with the node's pool and model and the pod's owner. */
export const allocationSpans = (since: Since = RANGE_START): string => `
  SELECT i.cluster AS cluster, n.pool AS pool, n.gpu_model AS gpu_model, i.team AS team, i.project AS project, i.user AS user, i.gpus AS v,
         greatest(toUnixTimestamp64Milli(assumeNotNull(i.start_ts)), ${since.ms}) AS s_ms,
         least(ifNull(toUnixTimestamp64Milli(i.end_ts), ${NOW_MS}), ${NOW_MS}) AS e_ms
  FROM workload_intervals AS i FINAL
  LEFT JOIN ${NODES} AS n ON n.cluster = i.cluster AND n.node = i.node
  WHERE i.start_ts IS NOT NULL AND i.start_ts < $__toTime_ms AND (i.end_ts IS NULL OR i.end_ts > ${since.ts})
    AND ${varIn('i.cluster', 'cluster')} AND ${varIn('n.pool', 'pool')} AND ${varIn('i.team', 'team')}`

/** Pending spans: pods from creation until bound (or ended unbound, or now). A pending pod has no node, so no pool. */
export const pendingSpans = (since: Since = RANGE_START): string => `
  SELECT i.cluster AS cluster, i.team AS team, i.gpus AS v,
         greatest(toUnixTimestamp64Milli(i.created_ts), ${since.ms}) AS s_ms,
         least(ifNull(toUnixTimestamp64Milli(coalesce(i.start_ts, i.end_ts)), ${NOW_MS}), ${NOW_MS}) AS e_ms
  FROM workload_intervals AS i FINAL
  WHERE i.created_ts < $__toTime_ms AND (coalesce(i.start_ts, i.end_ts) IS NULL OR coalesce(i.start_ts, i.end_ts) > ${since.ts})
    AND ${varIn('i.cluster', 'cluster')} AND ${varIn('i.team', 'team')}
    -- a pending pod has no node, hence no pool: a pool filter leaves pending demand out
    AND $__conditionalAll(1 = 0, $pool)`

/** Capacity spans: each node state holds until the node's next state; GPUs count while Ready and schedulable. */
export const capacitySpans = (since: Since = RANGE_START): string => `
  SELECT cluster, pool, gpu_model, v, greatest(ts_ms, ${since.ms}) AS s_ms, least(next_ms, ${NOW_MS}) AS e_ms
  FROM (
    SELECT cluster, node, pool, gpu_model, toUnixTimestamp64Milli(ts) AS ts_ms, if(ready AND schedulable, allocatable_gpus, 0) AS v,
           leadInFrame(toUnixTimestamp64Milli(ts), 1, ${NOW_MS}) OVER (PARTITION BY cluster, node ORDER BY ts ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_ms
    FROM node_state WHERE ts < $__toTime_ms AND ${varIn('cluster', 'cluster')}
  )
  WHERE ${varIn('pool', 'pool')}`

/**
 * $/GPU-hour of cloud nodes: the latest list price of the node's instance type
 * and lifecycle (any region) effective by the end of the range. On-prem nodes
 * and unpriced cloud nodes are charged the dashboard's flat
 * `$usd_per_gpu_hour`; /api/v1/chargeback applies the full rate card and
 * regional, hourly prices.
 */
const CLOUD_RATES = `
cloud_rates AS (
  SELECT n.cluster AS cluster, n.node AS node, p.usd_per_gpu_hour AS usd_per_gpu_hour, true AS priced
  FROM (SELECT cluster, node, argMax(provider, ts) AS provider, argMax(instance_type, ts) AS instance_type,
               if(argMax(spot, ts), 'spot', 'on-demand') AS lifecycle
        FROM node_state GROUP BY cluster, node) AS n
  INNER JOIN (SELECT provider, instance_type, lifecycle, argMax(usd_per_hour / gpus, effective_from_ts) AS usd_per_gpu_hour
              FROM prices FINAL WHERE gpus > 0 AND effective_from_ts <= $__toTime_ms GROUP BY provider, instance_type, lifecycle) AS p
    ON p.provider = n.provider AND p.instance_type = n.instance_type AND p.lifecycle = n.lifecycle
  WHERE n.provider NOT IN ('', 'onprem')
)`

/**
 * Per pod over the range: exact allocated GPU-hours, the $/GPU-hour it is
 * charged, and mean utilization over the hours the range touches from the
 * hourly rollup (NULL when the pod has no sample: unknown, not idle).
 * A WITH-clause body; select from `pod_use`.
 */
export const POD_USE = `${CLOUD_RATES},
pods AS (
  SELECT cluster, namespace, pod, workload_kind, workload_name, team, project, user, node, gpus,
         gpus * (least(ifNull(toUnixTimestamp64Milli(end_ts), ${NOW_MS}), ${NOW_MS}) - greatest(toUnixTimestamp64Milli(assumeNotNull(start_ts)), ${FROM_MS})) / 3600000 AS gpu_hours
  FROM workload_intervals FINAL
  WHERE start_ts IS NOT NULL AND start_ts < $__toTime_ms AND (end_ts IS NULL OR end_ts > $__fromTime_ms)
    AND ${varIn('cluster', 'cluster')} AND ${varIn('team', 'team')} AND ${poolFilter()}
),
util AS (
  SELECT cluster, namespace, pod, sum(${UTIL_SUM}) / sum(${UTIL_N}) AS util, true AS known
  FROM gpu_samples_1h
  WHERE ts >= toStartOfHour($__fromTime) AND ts <= $__toTime AND pod != '' AND ${varIn('cluster', 'cluster')}
  GROUP BY cluster, namespace, pod
  HAVING sum(${UTIL_N}) > 0
),
pod_use AS (
  SELECT p.*, if(u.known, u.util, NULL) AS util, if(r.priced, r.usd_per_gpu_hour, $usd_per_gpu_hour) AS usd_per_gpu_hour
  FROM pods AS p
  LEFT JOIN util AS u ON u.cluster = p.cluster AND u.namespace = p.namespace AND u.pod = p.pod
  LEFT JOIN cloud_rates AS r ON r.cluster = p.cluster AND r.node = p.node
  WHERE p.gpu_hours > 0
)`

/** Chargeback columns over `pod_use` rows: allocated, used, wasted and unknown GPU-hours, efficiency and cost. */
export const USE_COLUMNS = `sum(gpu_hours) AS allocated_gpu_hours,
       sumIf(gpu_hours * util, util IS NOT NULL) AS used_gpu_hours,
       sumIf(gpu_hours * util, util IS NOT NULL) / nullIf(sumIf(gpu_hours, util IS NOT NULL), 0) AS efficiency,
       sumIf(gpu_hours * (1 - util), util IS NOT NULL) AS wasted_gpu_hours,
       sumIf(gpu_hours, util IS NULL) AS unknown_gpu_hours,
       sum(gpu_hours * usd_per_gpu_hour) AS cost_usd`

/**
 * Pods allocated at the end of the range with their activity over the last
 * `$idle_window` before it (peak and mean utilization, samples seen), from
 * the 1-minute rollup. A WITH-clause body; select from `held`.
 */
export const HELD_NOW = `
running AS (
  SELECT cluster, namespace, pod, workload_kind, workload_name, team, project, user, gpus, start_ts
  FROM workload_intervals FINAL
  WHERE start_ts IS NOT NULL AND start_ts <= $__toTime_ms AND (end_ts IS NULL OR end_ts > $__toTime_ms)
    AND ${varIn('cluster', 'cluster')} AND ${varIn('team', 'team')} AND ${poolFilter()}
),
recent AS (
  SELECT cluster, namespace, pod, sum(${UTIL_N}) AS samples, sum(${UTIL_SUM}) / nullIf(sum(${UTIL_N}), 0) AS mean_util,
         max(if(gr_engine_active_n > 0, gr_engine_active_max, gpu_util_max)) AS peak_util
  FROM gpu_samples_1m
  WHERE ts > $__toTime - INTERVAL $idle_window MINUTE AND ts <= $__toTime AND pod != '' AND ${varIn('cluster', 'cluster')}
  GROUP BY cluster, namespace, pod
),
held AS (
  SELECT r.*, a.samples AS samples, if(a.samples > 0, a.mean_util, NULL) AS mean_util, if(a.samples > 0, a.peak_util, NULL) AS peak_util,
         a.samples > 0 AND a.peak_util < $idle_below AS idle
  FROM running AS r LEFT JOIN recent AS a ON a.cluster = r.cluster AND a.namespace = r.namespace AND a.pod = r.pod
)`
