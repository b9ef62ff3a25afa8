/**
 * Fleet overview: the three numbers now (capacity, allocation, utilization)
 * and pending demand from the gpuscope fleet gauges in Prometheus, and their
 * history by cluster, pool and GPU model from ClickHouse.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import {
  baseDashboard, chSeries, chTable, clusterVariable, column, poolVariable, prom, row, seriesStyle, stackedPanel, statPanel, tablePanel,
  teamVariable, thresholds, timeseriesPanel, UIDS, utilThresholds,
} from './common'
import { allocationSpans, bucketMean, capacitySpans, fromRollup, pendingSpans, poolFilter, teamFilter, UTIL_N, UTIL_SUM, varIn } from './sql'

const CAP = 'cluster=~"$cluster",pool=~"$pool"'
const ALLOC = 'cluster=~"$cluster",pool=~"$pool",team=~"$team"'
/** A zero only once the fleet gauges have refreshed: before that the answer is unknown, not 0. */
export const ZERO_WHEN_REFRESHED = 'on() (0 * group(gpuscope_fleet_metrics_last_refresh_timestamp_seconds))'
const UTIL_WEIGHTED = `sum(gpuscope_utilization_ratio{${ALLOC}} * gpuscope_allocated_gpus{${ALLOC}})`

const CAPACITY_ALLOCATION_PENDING = `
SELECT time, sumIf(value, series = 'capacity') AS capacity, sumIf(value, series = 'allocated') AS allocated, sumIf(value, series = 'pending') AS pending
FROM (
  SELECT time, 'capacity' AS series, value FROM (${bucketMean(capacitySpans(), [], 'value')})
  UNION ALL
  SELECT time, 'allocated' AS series, value FROM (${bucketMean(allocationSpans(), [], 'value')})
  UNION ALL
  SELECT time, 'pending' AS series, value FROM (${bucketMean(pendingSpans(), [], 'value')})
)
GROUP BY time
ORDER BY time`

const ALLOCATION_RATIO_BY_CLUSTER = `
SELECT a.time AS time, a.cluster AS cluster, a.gpus / c.gpus AS allocation_ratio
FROM (${bucketMean(allocationSpans(), ['cluster'], 'gpus')}) AS a
INNER JOIN (${bucketMean(capacitySpans(), ['cluster'], 'gpus')}) AS c ON c.time = a.time AND c.cluster = a.cluster
WHERE c.gpus > 0
ORDER BY time`

const UTILIZATION_BY_MODEL = `
SELECT time, gpu_model, sum(util_sum) / sum(util_n) AS utilization
FROM (
  ${fromRollup(`SELECT $__timeInterval(ts) AS time, toString(model) AS gpu_model, sum(${UTIL_SUM}) AS util_sum, sum(${UTIL_N}) AS util_n`,
    `WHERE $__timeFilter(ts) AND pod != '' AND ${varIn('cluster', 'cluster')} AND ${poolFilter()} AND ${teamFilter()}
  GROUP BY time, gpu_model`)}
)
GROUP BY time, gpu_model
HAVING sum(util_n) > 0
ORDER BY time`

const POOLS_AT_END = `
WITH nodes_at AS (
  SELECT cluster, node, argMax(pool, ts) AS pool, argMax(gpu_model, ts) AS gpu_model,
         argMax(if(ready AND schedulable, allocatable_gpus, 0), ts) AS capacity
  FROM node_state WHERE ts <= $__toTime_ms AND ${varIn('cluster', 'cluster')}
  GROUP BY cluster, node
),
held AS (
  SELECT cluster, node, sum(gpus) AS allocated
  FROM workload_intervals FINAL
  WHERE start_ts <= $__toTime_ms AND (end_ts IS NULL OR end_ts > $__toTime_ms) AND ${varIn('cluster', 'cluster')} AND ${varIn('team', 'team')}
  GROUP BY cluster, node
)
SELECT n.cluster AS cluster, n.pool AS pool, n.gpu_model AS gpu_model, count() AS nodes, sum(n.capacity) AS capacity_gpus,
       sum(h.allocated) AS allocated_gpus, sum(h.allocated) / nullIf(sum(n.capacity), 0) AS allocation_ratio
FROM nodes_at AS n LEFT JOIN held AS h ON h.cluster = n.cluster AND h.node = n.node
WHERE ${varIn('n.pool', 'pool')}
GROUP BY cluster, pool, gpu_model
ORDER BY capacity_gpus DESC`

function nowPanels(d: dashboard.DashboardBuilder): void {
  d.withRow(row('Now: the fleet gauges (Prometheus)'))
    .withPanel(statPanel('Capacity', 'GPUs allocatable on Ready, schedulable nodes now (MIG slices count as their fraction of a GPU).', 'suffix: GPUs')
      .decimals(1).withTarget(prom(`sum(gpuscope_capacity_gpus{${CAP}})`, 'capacity', true)))
    .withPanel(statPanel('Allocated', 'GPUs held by running pods of the selected teams now.', 'suffix: GPUs')
      .decimals(1).withTarget(prom(`sum(gpuscope_allocated_gpus{${ALLOC}})`, 'allocated', true)))
    .withPanel(statPanel('Allocation ratio', 'Allocated / capacity now. Near 100% new work queues (or bursts to cloud).', 'percentunit')
      .min(0).max(1).thresholds(thresholds('blue', [0.9, 'orange'], [0.98, 'red']))
      .withTarget(prom(`sum(gpuscope_allocated_gpus{${ALLOC}}) / sum(gpuscope_capacity_gpus{${CAP}})`, 'ratio', true)))
    .withPanel(statPanel('Utilization of allocation', 'Mean utilization of the allocated GPUs over the last minutes, weighted by GPUs (GR_ENGINE_ACTIVE, else GPU_UTIL). Pods without samples are left out: unknown, not idle.', 'percentunit')
      .min(0).max(1).thresholds(utilThresholds())
      .withTarget(prom(`${UTIL_WEIGHTED} / sum(gpuscope_allocated_gpus{${ALLOC}} and gpuscope_utilization_ratio{${ALLOC}})`, 'utilization', true)))
    .withPanel(statPanel('Utilization of capacity', 'Busy GPU-equivalents of the allocated GPUs / capacity: what the fleet as a whole delivers.', 'percentunit')
      .min(0).max(1).thresholds(utilThresholds())
      .withTarget(prom(`${UTIL_WEIGHTED} / sum(gpuscope_capacity_gpus{${CAP}})`, 'utilization', true)))
    .withPanel(statPanel('Pending demand', 'GPUs requested by pods not scheduled yet. Pending pods have no pool: a pool filter shows 0.', 'suffix: GPUs')
      .decimals(1).thresholds(thresholds('green', [1, 'orange']))
      .withTarget(prom(`sum(gpuscope_pending_gpus{${ALLOC}}) or ${ZERO_WHEN_REFRESHED}`, 'pending', true)))
}

function historyPanels(d: dashboard.DashboardBuilder): void {
  d.withRow(row('Over time: node history, exact pod intervals, rollups (ClickHouse)'))
    .withPanel(timeseriesPanel('Capacity, allocation and pending demand', 'Mean GPUs over each interval: capacity (Ready, schedulable nodes), allocation (pods bound to a node) and pending demand (pods waiting). Capacity ignores the team filter.', 'suffix: GPUs', 9, 24)
      .min(0).overrides([seriesStyle('capacity', 'red'), seriesStyle('allocated', 'blue'), seriesStyle('pending', 'orange')])
      .withTarget(chSeries(CAPACITY_ALLOCATION_PENDING)))
    .withPanel(stackedPanel('Allocated GPUs by pool', 'Mean GPUs held per node pool over each interval, from exact pod intervals.', 'suffix: GPUs')
      .displayName('${__field.labels.pool}').withTarget(chSeries(bucketMean(allocationSpans(), ['pool'], 'gpus'))))
    .withPanel(stackedPanel('Capacity by GPU model', 'Mean allocatable GPUs of Ready, schedulable nodes per GPU model.', 'suffix: GPUs')
      .displayName('${__field.labels.gpu_model}').withTarget(chSeries(bucketMean(capacitySpans(), ['gpu_model'], 'gpus'))))
    .withPanel(timeseriesPanel('Allocation ratio by cluster', 'Allocated / capacity per cluster over each interval.', 'percentunit')
      .min(0).max(1).displayName('${__field.labels.cluster}').withTarget(chSeries(ALLOCATION_RATIO_BY_CLUSTER)))
    .withPanel(timeseriesPanel('Utilization of allocated GPUs by GPU model', 'Mean utilization of GPUs held by pods (GR_ENGINE_ACTIVE where reported, else GPU_UTIL), from the 1-minute rollup, or the hourly one for intervals of an hour or more.', 'percentunit')
      .min(0).max(1).interval('1m').displayName('${__field.labels.gpu_model}').withTarget(chSeries(UTILIZATION_BY_MODEL)))
    .withPanel(tablePanel('Pools at the end of the range', 'Per pool and GPU model at the end of the range: nodes, capacity, GPUs allocated to the selected teams, and the ratio.', 'none')
      .overrides([column('capacity_gpus', 'Capacity', 'suffix: GPUs'), column('allocated_gpus', 'Allocated', 'suffix: GPUs'), column('allocation_ratio', 'Allocation ratio', 'percentunit')])
      .withTarget(chTable(POOLS_AT_END)))
}

/** Builds the fleet overview. */
export function fleetDashboard(): dashboard.DashboardBuilder {
  const d = baseDashboard(UIDS.fleet, 'gpuscope / Fleet overview', { from: 'now-7d', to: 'now' }, 'fleet')
    .description('Capacity, allocation and utilization of the GPU fleet, now and over time, with pending demand.')
    .withVariable(clusterVariable())
    .withVariable(poolVariable())
    .withVariable(teamVariable())
  nowPanels(d)
  historyPanels(d)
  return d
}
