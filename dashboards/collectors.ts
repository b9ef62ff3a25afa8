/**
 * Collector health: per source the last success, errors, rows handed to the
 * store and poll time; the store writers' throughput, failures, retries and
 * queues; the fleet gauges' age; the API and process; and, from ClickHouse,
 * how fresh each table's data is. The Prometheus panels read gpuscope's own
 * /metrics (api/metrics.ts, api/fleetMetrics.ts).
 */
import * as common from '@grafana/grafana-foundation-sdk/common'
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import type * as stat from '@grafana/grafana-foundation-sdk/stat'
import { baseDashboard, chSeries, chTable, clusterVariable, column, linkTo, prom, row, statPanel, tablePanel, thresholds, timeseriesPanel, UIDS } from './common'
import { fromRollup, varIn } from './sql'

/** Seconds since a timestamp gauge, per label: green under 2 min, orange, red after 10 min. */
const age = (title: string, description: string, expr: string, legend: string): stat.PanelBuilder =>
  statPanel(title, description, 's', 24, 4)
    .thresholds(thresholds('green', [120, 'orange'], [600, 'red']))
    .textMode(common.BigValueTextMode.ValueAndName)
    .withTarget(prom(expr, legend, true))

/** Keeps the series of the targets that export gpuscope's own metrics (other jobs export process_* too). */
const GPUSCOPE_TARGETS = 'and on (job, instance) group by (job, instance) (gpuscope_store_queued_rows)'

const FRESHNESS = `
SELECT cluster, source_table, newest, dateDiff('second', newest, now()) AS age_seconds, rows_in_range
FROM (
  SELECT cluster, 'gpu_samples' AS source_table, max(ts) AS newest, count() AS rows_in_range FROM gpu_samples
  WHERE $__timeFilter(ts) AND ${varIn('cluster', 'cluster')} GROUP BY cluster
  UNION ALL
  SELECT cluster, 'workload_intervals (last seen)', max(last_seen_ts), count() FROM workload_intervals
  WHERE $__timeFilter(last_seen_ts) AND ${varIn('cluster', 'cluster')} GROUP BY cluster
  UNION ALL
  SELECT cluster, 'node_state (last change)', max(ts), count() FROM node_state
  WHERE ${varIn('cluster', 'cluster')} GROUP BY cluster
  UNION ALL
  SELECT cluster, 'notebook_activity', max(ts), count() FROM notebook_activity
  WHERE $__timeFilter(ts) AND ${varIn('cluster', 'cluster')} GROUP BY cluster
  UNION ALL
  SELECT cluster, 'cloud_instances', max(ts), count() FROM cloud_instances
  WHERE $__timeFilter(ts) AND ${varIn('cluster', 'cluster')} GROUP BY cluster
)
ORDER BY cluster, source_table`

const SAMPLES_STORED = `
SELECT time, cluster, sum(samples) AS samples
FROM (
  ${fromRollup('SELECT $__timeInterval(ts) AS time, cluster, sum(samples) AS samples', `WHERE $__timeFilter(ts) AND ${varIn('cluster', 'cluster')}
  GROUP BY time, cluster`)}
)
GROUP BY time, cluster
ORDER BY time`

function sourceRow(d: dashboard.DashboardBuilder): void {
  d.withRow(row('Collector sources (Prometheus)'))
    .withPanel(age('Since last success, by source', 'Seconds since each collector source last polled (or streamed) successfully.',
      'time() - max by (source) (gpuscope_collector_last_success_timestamp_seconds)', '{{source}}'))
    .withPanel(timeseriesPanel('Errors by source', 'Failed polls (or stream errors) per second.', 'cps', 8, 6)
      .min(0).withTarget(prom('sum by (source) (rate(gpuscope_collector_errors_total[$__rate_interval]))', '{{source}}')))
    .withPanel(timeseriesPanel('Rows by source', 'Rows each source handed to the store per second.', 'suffix: rows/s', 8, 6)
      .min(0).withTarget(prom('sum by (source) (rate(gpuscope_collector_rows_total[$__rate_interval]))', '{{source}}')))
    .withPanel(timeseriesPanel('Poll duration by source', 'Duration of each source\'s last poll.', 's', 8, 6)
      .min(0).withTarget(prom('max by (source) (gpuscope_collector_last_duration_seconds)', '{{source}}')))
    .withPanel(timeseriesPanel('Polls by source', 'Polls (or stream batches) completed per second, successful or not.', 'cps', 8, 6)
      .min(0).withTarget(prom('sum by (source) (rate(gpuscope_collector_runs_total[$__rate_interval]))', '{{source}}')))
}

function storeRow(d: dashboard.DashboardBuilder): void {
  d.withRow(row('Store writers (Prometheus)'))
    .withPanel(age('Since last insert, by table', 'Seconds since each table\'s last successful insert (tables written on change, like node_state, age by design).',
      'time() - max by (table) (gpuscope_store_last_success_timestamp_seconds)', '{{table}}'))
    .withPanel(timeseriesPanel('Rows written by table', 'Rows the batching writers stored per second.', 'suffix: rows/s', 8, 8)
      .min(0).withTarget(prom('sum by (table) (rate(gpuscope_store_rows_written_total[$__rate_interval]))', '{{table}}')))
    .withPanel(timeseriesPanel('Failed rows and retries', 'Rows whose insert failed after every retry (never silently dropped), and retried insert attempts, per interval.', 'short', 8, 8)
      .min(0).thresholds(thresholds('green', [1, 'red']))
      .withTarget(prom('sum by (table) (increase(gpuscope_store_rows_failed_total[$__rate_interval]))', 'failed {{table}}'))
      .withTarget(prom('sum by (table) (increase(gpuscope_store_insert_retries_total[$__rate_interval]))', 'retries {{table}}', false, 'B')))
    .withPanel(timeseriesPanel('Queued rows by table', 'Rows waiting in the writers: a growing queue means the store is not keeping up.', 'short', 8, 8)
      .min(0).withTarget(prom('sum by (table) (gpuscope_store_queued_rows)', '{{table}}')))
}

function serviceRow(d: dashboard.DashboardBuilder): void {
  d.withRow(row('Fleet gauges, API and process (Prometheus)'))
    .withPanel(statPanel('Fleet gauges age', 'Seconds since the fleet gauges (capacity, allocation, utilization, idle) last refreshed; they refresh every 30 s.', 's', 4, 8)
      .thresholds(thresholds('green', [90, 'orange'], [300, 'red']))
      .withTarget(prom('time() - max(gpuscope_fleet_metrics_last_refresh_timestamp_seconds)', 'age', true)))
    .withPanel(statPanel('Gauge refresh failures', 'Failed refreshes of the fleet gauges in the range (they keep their last values meanwhile).', 'short', 4, 8)
      .thresholds(thresholds('green', [1, 'red']))
      .withTarget(prom('sum(increase(gpuscope_fleet_metrics_refresh_failures_total[$__range]))', 'failures', true)))
    .withPanel(timeseriesPanel('HTTP requests', 'API requests per second by route and status.', 'reqps', 8, 8)
      .min(0).withTarget(prom('sum by (route, status) (rate(gpuscope_http_requests_total[$__rate_interval]))', '{{route}} {{status}}')))
    .withPanel(timeseriesPanel('Process memory', 'Resident memory of the gpuscope process.', 'bytes', 8, 4)
      .min(0).withTarget(prom(`process_resident_memory_bytes ${GPUSCOPE_TARGETS}`, '{{instance}}')))
    .withPanel(timeseriesPanel('Process CPU', 'CPU time used per second (1 = one core).', 'percentunit', 8, 4)
      .min(0).withTarget(prom(`rate(process_cpu_seconds_total[$__rate_interval]) ${GPUSCOPE_TARGETS}`, '{{instance}}')))
}

function dataRow(d: dashboard.DashboardBuilder): void {
  d.withRow(row('Data in the store (ClickHouse)'))
    .withPanel(tablePanel('Newest data per table', 'Per cluster and table: the newest row in the range (node_state: the last change, whatever the range), its age and the rows in the range. A table missing here got nothing in the range.', 'none', 8, 12)
      .overrides([column('age_seconds', 'Age', 's'), column('newest', 'Newest', 'dateTimeAsIso'), column('rows_in_range', 'Rows in range', 'short')])
      .withTarget(chTable(FRESHNESS)))
    .withPanel(timeseriesPanel('GPU samples stored', 'GPU samples stored per interval and cluster, from the rollups: gaps are scrapes that never arrived.', 'short', 8, 12)
      .min(0).interval('1m').displayName('${__field.labels.cluster}').withTarget(chSeries(SAMPLES_STORED)))
}

/** Builds the collector health dashboard. */
export function collectorsDashboard(): dashboard.DashboardBuilder {
  const d = baseDashboard(UIDS.collectors, 'gpuscope / Collector health', { from: 'now-6h', to: 'now' }, 'health')
    .description('Per source last success, errors and rows written; store writers; fleet gauges; data freshness.')
    .variables([clusterVariable()])
    .link(linkTo(UIDS.fleet, 'Fleet overview'))
  sourceRow(d)
  storeRow(d)
  serviceRow(d)
  dataRow(d)
  return d
}
