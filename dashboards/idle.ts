/**
 * Idle and waste: workloads holding GPUs they do not use now, notebooks to
 * cull, waste over time, and the actions gpuscope took. The SQL applies the
 * idle rule's core (every sample of the window under the threshold, with
 * samples present); the idle state machine behind /api/v1/idle and the
 * gpuscope_idle_workloads gauge adds grace periods and kernel activity.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import * as common from '@grafana/grafana-foundation-sdk/common'
import {
  baseDashboard, chSeries, chTable, clusterVariable, column, dataLink, idleVariables, linksOn, linkTo, poolVariable, prom, rateVariable, row,
  stackedPanel, statPanel, tablePanel, teamVariable, thresholds, timeseriesPanel, UIDS,
} from './common'
import { ZERO_WHEN_REFRESHED } from './fleet'
import { fromRollup, GPU_WEIGHT, HELD_NOW, POD_USE, poolFilter, UTIL_N, UTIL_SUM, varIn } from './sql'

const held = (expr: string): string => `WITH ${HELD_NOW}
SELECT ${expr} AS value
FROM held`

const wasted = (expr: string): string => `WITH ${POD_USE}
SELECT ${expr} AS value
FROM pod_use
WHERE util IS NOT NULL`

const IDLE_WORKLOADS = `WITH ${HELD_NOW}
SELECT cluster, namespace, workload_kind, workload_name, any(team) AS team, any(user) AS user, count() AS pods, sum(gpus) AS idle_gpus,
       min(start_ts) AS running_since, max(peak_util) AS peak_util, sum(mean_util * gpus) / sum(gpus) AS mean_util
FROM held
WHERE idle
GROUP BY cluster, namespace, workload_kind, workload_name
ORDER BY idle_gpus DESC, running_since
LIMIT 200`

const NOTEBOOKS_TO_CULL = `
WITH notebooks AS (
  SELECT cluster, namespace, workload_name AS notebook, any(team) AS owner_team, any(user) AS owner_user, sum(gpus) AS notebook_gpus, min(start_ts) AS running_since
  FROM workload_intervals FINAL
  WHERE workload_kind = 'Notebook' AND start_ts <= $__toTime_ms AND (end_ts IS NULL OR end_ts > $__toTime_ms) AND gpus > 0
    AND ${varIn('cluster', 'cluster')} AND ${varIn('team', 'team')} AND ${poolFilter()}
  GROUP BY cluster, namespace, notebook
),
kernels AS (
  SELECT cluster, namespace, notebook, argMax(last_activity_ts, ts) AS last_activity, argMax(execution_state, ts) AS kernel_state, true AS polled
  FROM notebook_activity
  WHERE $__timeFilter(ts) AND ${varIn('cluster', 'cluster')}
  GROUP BY cluster, namespace, notebook
)
SELECT n.cluster AS cluster, n.namespace AS namespace, n.notebook AS notebook, n.owner_team AS team, n.owner_user AS user, n.notebook_gpus AS gpus,
       n.running_since AS running_since, k.last_activity AS last_kernel_activity, k.kernel_state AS kernel_state,
       dateDiff('second', k.last_activity, $__toTime) AS idle_seconds
FROM notebooks AS n INNER JOIN kernels AS k ON k.cluster = n.cluster AND k.namespace = n.namespace AND k.notebook = n.notebook
WHERE k.kernel_state != 'busy' AND dateDiff('minute', k.last_activity, $__toTime) >= $notebook_idle
ORDER BY idle_seconds DESC
LIMIT 200`

const WASTE_BY_TEAM = `
SELECT g.time AS time, o.team AS team, sum(g.weight * (1 - g.util_sum / g.util_n)) AS wasted_gpus
FROM (
  ${fromRollup(`SELECT $__timeInterval(ts) AS time, cluster, namespace, pod, gpu_uuid, any(${GPU_WEIGHT}) AS weight, sum(${UTIL_SUM}) AS util_sum, sum(${UTIL_N}) AS util_n`,
    `WHERE $__timeFilter(ts) AND pod != '' AND ${varIn('cluster', 'cluster')} AND ${poolFilter()}
  GROUP BY time, cluster, namespace, pod, gpu_uuid
  HAVING sum(${UTIL_N}) > 0`)}
) AS g
INNER JOIN (SELECT cluster, namespace, pod, any(team) AS team FROM workload_intervals GROUP BY cluster, namespace, pod) AS o
  ON o.cluster = g.cluster AND o.namespace = g.namespace AND o.pod = g.pod
WHERE ${varIn('o.team', 'team')}
GROUP BY time, team
ORDER BY time`

const ACTIONS = `
SELECT ts AS time, action, decision, if(dry_run, 'dry run', 'live') AS mode, acted, cluster, namespace, workload_kind, workload_name, reason, actor
FROM actions FINAL
WHERE $__timeFilter(ts) AND ${varIn('cluster', 'cluster')}
ORDER BY ts DESC
LIMIT 500`

const ACTIONS_OVER_TIME = `
SELECT $__timeInterval(ts) AS time, action, count() AS actions
FROM actions FINAL
WHERE $__timeFilter(ts) AND ${varIn('cluster', 'cluster')}
GROUP BY time, action
ORDER BY time`

const toWorkload = (): dashboard.DashboardLinkBuilder =>
  dataLink('Open this workload', UIDS.workload, { cluster: 'cluster', namespace: 'namespace', workload: 'workload_name' })

function nowRow(d: dashboard.DashboardBuilder): void {
  d.withRow(row('Now'))
    .withPanel(statPanel('Idle workloads (idle policy)', 'Running workloads the idle state machine judges idle, stuck or hung (gpuscope_idle_workloads). Not split by pool.', 'none')
      .thresholds(thresholds('green', [1, 'orange'], [10, 'red']))
      .withTarget(prom(`sum(gpuscope_idle_workloads{cluster=~"$cluster",team=~"$team"}) or ${ZERO_WHEN_REFRESHED}`, 'idle', true)))
    .withPanel(statPanel('GPUs held idle', 'GPUs of running pods whose every sample in the last $idle_window min stayed under $idle_below.', 'suffix: GPUs')
      .decimals(1).thresholds(thresholds('green', [1, 'orange'], [16, 'red'])).withTarget(chTable(held('sumIf(gpus, idle)'))))
    .withPanel(statPanel('GPUs with no samples', 'GPUs of running pods with no GPU sample in the window: their use is unknown (exporter down or pod not mapped), not idle.', 'suffix: GPUs')
      .decimals(1).thresholds(thresholds('green', [1, 'orange'])).withTarget(chTable(held('sumIf(gpus, samples = 0)'))))
    .withPanel(statPanel('Wasted GPU-hours', 'Allocated GPU-hours × (1 − utilization) over the range, pods with samples only.', 'suffix: GPU-h')
      .decimals(0).withTarget(chTable(wasted('sum(gpu_hours * (1 - util))'))))
    .withPanel(statPanel('Cost of waste', 'Wasted GPU-hours × list price (cloud) or $usd_per_gpu_hour (on-prem).', 'currencyUSD')
      .decimals(0).withTarget(chTable(wasted('sum(gpu_hours * (1 - util) * usd_per_gpu_hour)'))))
    .withPanel(statPanel('Waste share', 'Wasted / allocated GPU-hours of pods with samples.', 'percentunit').min(0).max(1)
      .thresholds(thresholds('green', [0.4, 'orange'], [0.7, 'red'])).withTarget(chTable(wasted('sum(gpu_hours * (1 - util)) / nullIf(sum(gpu_hours), 0)'))))
}

function workRows(d: dashboard.DashboardBuilder): void {
  d.withRow(row('Idle work and notebooks'))
    .withPanel(tablePanel('Idle workloads now', 'Workloads with pods idle at the end of the range: GPUs, since when they run, peak and mean utilization over the window. Click a name to drill down.', 'none', 9, 12)
      .overrides([column('peak_util', 'Peak util', 'percentunit'), column('mean_util', 'Mean util', 'percentunit'), column('idle_gpus', 'GPUs idle', 'suffix: GPUs'),
        column('running_since', 'Running since', 'dateTimeAsIso'), linksOn('workload_name', toWorkload())])
      .withTarget(chTable(IDLE_WORKLOADS)))
    .withPanel(tablePanel('Notebooks to cull', 'Running notebooks whose kernels are not busy and were last active $notebook_idle+ min before the end of the range (Kubeflow culling contract).', 'none', 9, 12)
      .overrides([column('idle_seconds', 'Idle for', 's'), column('gpus', 'GPUs', 'suffix: GPUs'), column('last_kernel_activity', 'Last kernel activity', 'dateTimeAsIso'),
        column('running_since', 'Running since', 'dateTimeAsIso'), linksOn('notebook', dataLink('Open this notebook', UIDS.workload, { cluster: 'cluster', namespace: 'namespace', workload: 'notebook' }))])
      .withTarget(chTable(NOTEBOOKS_TO_CULL)))
    .withPanel(stackedPanel('Waste by team', 'GPU-equivalents allocated but idle: Σ over sampled GPUs of (1 − mean utilization), per team; MIG slices weigh their share of a GPU.', 'suffix: GPUs', 8, 24)
      .interval('1m').displayName('${__field.labels.team}').withTarget(chSeries(WASTE_BY_TEAM)))
}

function actionRows(d: dashboard.DashboardBuilder): void {
  d.withRow(row('Actions taken'))
    .withPanel(timeseriesPanel('Actions over time', 'Alerts, warnings, shutdowns and bursts recorded in the action log, by action.', 'short', 8, 8)
      .drawStyle(common.GraphDrawStyle.Bars).fillOpacity(80).displayName('${__field.labels.action}').withTarget(chSeries(ACTIONS_OVER_TIME)))
    .withPanel(tablePanel('Action log', 'Every action in the range with its decision, whether it was a dry run and whether it acted, and why.', 'none', 8, 16)
      .withTarget(chTable(ACTIONS)))
}

/** Builds the idle and waste dashboard. */
export function idleDashboard(): dashboard.DashboardBuilder {
  const d = baseDashboard(UIDS.idle, 'gpuscope / Idle and waste', { from: 'now-24h', to: 'now' }, 'idle')
    .description('Idle workloads now, notebooks to cull, waste over time and the actions taken.')
    .variables([clusterVariable(), poolVariable(), teamVariable(), rateVariable(), ...idleVariables()])
    .link(linkTo(UIDS.teams, 'Teams and chargeback'))
  nowRow(d)
  workRows(d)
  actionRows(d)
  return d
}
