/**
 * Workload drill-down: one job's (or notebook's, or service's) pods and
 * GPUs, utilization per GPU, framebuffer and power, from the rollups, and the
 * same GPUs live from dcgm-exporter. The live panels select GPUs by UUID
 * (found in the samples), so they work whether or not the exporter maps pods
 * and whatever the scrape job calls its pod labels.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import {
  baseDashboard, chSeries, chTable, chVariable, clusterVariable, column, linkTo, prom, row, statPanel, tablePanel, timeseriesPanel, UIDS,
  utilThresholds,
} from './common'
import { FROM_MS, fromRollup, NOW_MS, UTIL_N, UTIL_SUM, varIn } from './sql'

const IN_WORKLOAD = `namespace = \${namespace:sqlstring} AND workload_name = \${workload:sqlstring} AND ${varIn('cluster', 'cluster')}`
const ON_PODS = `namespace = \${namespace:sqlstring} AND pod IN (\${pod:sqlstring}) AND ${varIn('cluster', 'cluster')}`
const OVERLAPS = 'created_ts <= $__toTime_ms AND (end_ts IS NULL OR end_ts >= $__fromTime_ms)'

function variables(): dashboard.QueryVariableBuilder[] {
  return [
    clusterVariable(),
    chVariable('namespace', 'Namespace', `SELECT namespace FROM workload_intervals WHERE gpus > 0 AND ${OVERLAPS} AND ${varIn('cluster', 'cluster')}
GROUP BY namespace ORDER BY sum(gpus) DESC, namespace`, 'Namespaces with GPU work in the range, busiest first.', 'one'),
    chVariable('workload', 'Workload', `SELECT workload_name FROM workload_intervals FINAL
WHERE namespace = \${namespace:sqlstring} AND ${varIn('cluster', 'cluster')} AND gpus > 0 AND start_ts IS NOT NULL AND ${OVERLAPS}
GROUP BY workload_name ORDER BY max(gpus) DESC, workload_name LIMIT 1000`, 'Workloads (top owner: Job, Notebook, Deployment...) that held GPUs in the range, largest first.', 'one'),
    chVariable('pod', 'Pods', `SELECT DISTINCT pod FROM workload_intervals WHERE ${IN_WORKLOAD} AND ${OVERLAPS} ORDER BY pod`,
      'Pods of the workload; All means every one of them.', 'every'),
    chVariable('gpu', 'GPUs', `SELECT DISTINCT toString(gpu_uuid) FROM gpu_samples_1m WHERE $__timeFilter(ts) AND ${ON_PODS} ORDER BY 1`,
      'GPU UUIDs the pods were sampled on in the range (the live dcgm-exporter panels select by UUID).', 'every'),
  ]
}

const HELD_AT_END = `SELECT sum(gpus) AS value FROM workload_intervals FINAL
WHERE ${IN_WORKLOAD} AND start_ts <= $__toTime_ms AND (end_ts IS NULL OR end_ts > $__toTime_ms)`

const GPU_HOURS = `SELECT sum(gpus * (least(ifNull(toUnixTimestamp64Milli(end_ts), ${NOW_MS}), ${NOW_MS}) - greatest(toUnixTimestamp64Milli(assumeNotNull(start_ts)), ${FROM_MS})) / 3600000) AS value
FROM workload_intervals FINAL
WHERE ${IN_WORKLOAD} AND start_ts IS NOT NULL AND start_ts < $__toTime_ms AND (end_ts IS NULL OR end_ts > $__fromTime_ms)`

const rollupTotal = (expr: string): string => `SELECT ${expr} AS value FROM gpu_samples_1m WHERE $__timeFilter(ts) AND ${ON_PODS}`

const PODS = `
SELECT pod, node, gpus, gpu_resource, phase, created_ts AS created, start_ts AS started, end_ts AS ended,
       if(start_ts IS NULL, 0, (least(ifNull(toUnixTimestamp64Milli(end_ts), ${NOW_MS}), ${NOW_MS}) - greatest(toUnixTimestamp64Milli(assumeNotNull(start_ts)), ${FROM_MS})) / 1000) AS run_seconds,
       team, project, user
FROM workload_intervals FINAL
WHERE ${IN_WORKLOAD} AND ${OVERLAPS}
ORDER BY created, pod
LIMIT 500`

/** A per-GPU series from the rollups: `value` over `sum` and `n` partial aggregates. */
function perGpu(alias: string, value: string, sum: string, n: string): string {
  return `
SELECT time, gpu, ${value} AS ${alias}
FROM (
  ${fromRollup(`SELECT $__timeInterval(ts) AS time, concat(node, ' ', toString(gpu_uuid)) AS gpu, ${sum} AS s, ${n} AS n`,
    `WHERE $__timeFilter(ts) AND ${ON_PODS}
  GROUP BY time, gpu`)}
)
GROUP BY time, gpu
HAVING sum(n) > 0
ORDER BY time`
}

const UTIL_PER_GPU = perGpu('utilization', 'sum(s) / sum(n)', `sum(${UTIL_SUM})`, `sum(${UTIL_N})`)
const FB_PER_GPU = perGpu('fb_used_bytes', 'max(s)', 'max(fb_used_bytes_max)', 'count(fb_used_bytes_max)')
const POWER_PER_GPU = perGpu('power_watts', 'sum(s) / sum(n)', 'sum(power_watts_sum)', 'sum(power_watts_n)')

const GPU = 'UUID=~"$gpu"'
/** GR_ENGINE_ACTIVE where the GPU reports it, else GPU_UTIL/100; blank sentinels (and GPU_UTIL spikes over 100) dropped. */
const LIVE_UTIL = `(DCGM_FI_PROF_GR_ENGINE_ACTIVE{${GPU}} <= 1) or (DCGM_FI_DEV_GPU_UTIL{${GPU}} <= 100) / 100`

function storedRows(d: dashboard.DashboardBuilder): void {
  d.withRow(row('The workload (ClickHouse)'))
    .withPanel(statPanel('GPUs held at the end', 'GPUs the workload\'s pods hold at the end of the range.', 'suffix: GPUs', 6).decimals(1).withTarget(chTable(HELD_AT_END)))
    .withPanel(statPanel('GPU-hours in the range', 'GPUs × hours held in the range, from exact pod intervals.', 'suffix: GPU-h', 6).decimals(1).withTarget(chTable(GPU_HOURS)))
    .withPanel(statPanel('Mean utilization', 'Mean over the workload\'s GPU samples in the range (GR_ENGINE_ACTIVE, else GPU_UTIL). Empty when no sample: unknown.', 'percentunit', 6)
      .min(0).max(1).thresholds(utilThresholds()).withTarget(chTable(rollupTotal(`sum(${UTIL_SUM}) / nullIf(sum(${UTIL_N}), 0)`))))
    .withPanel(statPanel('Peak framebuffer used', 'Largest GPU memory in use on any of its GPUs in the range.', 'bytes', 6).withTarget(chTable(rollupTotal('max(fb_used_bytes_max)'))))
    .withPanel(tablePanel('Pods', 'Every pod of the workload that overlapped the range: node, GPUs, phase, created / started / ended, time run in the range, owner.', 'none', 7)
      .overrides([column('run_seconds', 'Run in range', 's'), column('created', 'Created', 'dateTimeAsIso'), column('started', 'Started', 'dateTimeAsIso'), column('ended', 'Ended', 'dateTimeAsIso')])
      .withTarget(chTable(PODS)))
    .withPanel(timeseriesPanel('Utilization per GPU', 'Mean utilization of each GPU the pods ran on (GR_ENGINE_ACTIVE where reported, else GPU_UTIL).', 'percentunit', 8, 8)
      .min(0).max(1).interval('1m').displayName('${__field.labels.gpu}').withTarget(chSeries(UTIL_PER_GPU)))
    .withPanel(timeseriesPanel('Framebuffer used per GPU', 'Largest GPU memory in use per interval.', 'bytes', 8, 8)
      .min(0).interval('1m').displayName('${__field.labels.gpu}').withTarget(chSeries(FB_PER_GPU)))
    .withPanel(timeseriesPanel('Power per GPU', 'Mean power draw per interval.', 'watt', 8, 8)
      .min(0).interval('1m').displayName('${__field.labels.gpu}').withTarget(chSeries(POWER_PER_GPU)))
}

function liveRows(d: dashboard.DashboardBuilder): void {
  d.withRow(row('Live from dcgm-exporter (Prometheus)'))
    .withPanel(timeseriesPanel('Utilization (dcgm-exporter)', 'GR_ENGINE_ACTIVE where profiling metrics exist, else GPU_UTIL / 100, per GPU UUID.', 'percentunit', 8, 6)
      .min(0).max(1).withTarget(prom(LIVE_UTIL, '{{UUID}}')))
    .withPanel(timeseriesPanel('Framebuffer used (dcgm-exporter)', 'DCGM_FI_DEV_FB_USED (MiB) in bytes, per GPU UUID.', 'bytes', 8, 6)
      .min(0).withTarget(prom(`(DCGM_FI_DEV_FB_USED{${GPU}} < 1e12) * 1048576`, '{{UUID}}')))
    .withPanel(timeseriesPanel('Power (dcgm-exporter)', 'DCGM_FI_DEV_POWER_USAGE per GPU UUID.', 'watt', 8, 6)
      .min(0).withTarget(prom(`DCGM_FI_DEV_POWER_USAGE{${GPU}} < 1e5`, '{{UUID}}')))
    .withPanel(timeseriesPanel('Temperature (dcgm-exporter)', 'DCGM_FI_DEV_GPU_TEMP per GPU UUID.', 'celsius', 8, 6)
      .withTarget(prom(`DCGM_FI_DEV_GPU_TEMP{${GPU}} < 1e4`, '{{UUID}}')))
}

/** Builds the workload drill-down. */
export function workloadDashboard(): dashboard.DashboardBuilder {
  const d = baseDashboard(UIDS.workload, 'gpuscope / Workload drill-down', { from: 'now-6h', to: 'now' }, 'workload')
    .description('One workload: its pods, GPUs, utilization per GPU, memory and power.')
    .variables(variables())
    .link(linkTo(UIDS.idle, 'Idle and waste'))
  storedRows(d)
  liveRows(d)
  return d
}
