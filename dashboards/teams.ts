/**
 * Teams and chargeback: GPU-hours allocated and used by team, project and
 * user, efficiency, and cost at list prices (cloud) or a flat on-prem rate.
 * Allocation is exact (pod intervals); use is allocation × the pod's mean
 * utilization, so pods with no sample stay unknown instead of counting as 0.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import {
  baseDashboard, chSeries, chTable, clusterVariable, column, dataLink, linksOn, linkTo, poolVariable, prom, rateVariable, row, stackedPanel,
  statPanel, tablePanel, teamVariable, thresholds, timeseriesPanel, UIDS, utilThresholds,
} from './common'
import { allocationSpans, bucketMean, fromRollup, POD_USE, poolFilter, USE_COLUMNS, UTIL_N, UTIL_SUM, varIn } from './sql'

/** One number over every pod in the range. */
const total = (expr: string): string => `WITH ${POD_USE}
SELECT ${expr} AS value
FROM pod_use`

const USED = 'sumIf(gpu_hours * util, util IS NOT NULL)'
const KNOWN = 'sumIf(gpu_hours, util IS NOT NULL)'

const BY_TEAM = `WITH ${POD_USE}
SELECT team, ${USE_COLUMNS}
FROM pod_use
GROUP BY team
ORDER BY allocated_gpu_hours DESC`

const BY_PROJECT_USER = `WITH ${POD_USE}
SELECT team, project, user, count() AS pods, ${USE_COLUMNS}
FROM pod_use
GROUP BY team, project, user
ORDER BY allocated_gpu_hours DESC
LIMIT 100`

const UTILIZATION_BY_TEAM = `
SELECT g.time AS time, o.team AS team, sum(g.util_sum) / sum(g.util_n) AS utilization
FROM (
  ${fromRollup(`SELECT $__timeInterval(ts) AS time, cluster, namespace, pod, sum(${UTIL_SUM}) AS util_sum, sum(${UTIL_N}) AS util_n`,
    `WHERE $__timeFilter(ts) AND pod != '' AND ${varIn('cluster', 'cluster')} AND ${poolFilter()}
  GROUP BY time, cluster, namespace, pod`)}
) AS g
INNER JOIN (SELECT cluster, namespace, pod, any(team) AS team FROM workload_intervals GROUP BY cluster, namespace, pod) AS o
  ON o.cluster = g.cluster AND o.namespace = g.namespace AND o.pod = g.pod
WHERE ${varIn('o.team', 'team')}
GROUP BY time, team
HAVING sum(g.util_n) > 0
ORDER BY time`

const hours = (title: string, description: string, expr: string) =>
  statPanel(title, description, 'suffix: GPU-h').decimals(0).withTarget(chTable(total(expr)))

function totalsRow(d: dashboard.DashboardBuilder): void {
  d.withRow(row('GPU-hours in the range (ClickHouse)'))
    .withPanel(hours('Allocated GPU-hours', 'GPUs × hours held by pods in the range, from exact pod intervals.', 'sum(gpu_hours)'))
    .withPanel(hours('Used GPU-hours', 'Allocated GPU-hours × each pod\'s mean utilization, over pods with samples.', USED))
    .withPanel(statPanel('Efficiency', 'Used / allocated GPU-hours of the pods with samples.', 'percentunit').min(0).max(1)
      .thresholds(utilThresholds()).withTarget(chTable(total(`${USED} / nullIf(${KNOWN}, 0)`))))
    .withPanel(hours('Wasted GPU-hours', 'Allocated GPU-hours × (1 − utilization), over pods with samples.', 'sumIf(gpu_hours * (1 - util), util IS NOT NULL)'))
    .withPanel(statPanel('Unknown share', 'Share of allocated GPU-hours whose pods had no GPU sample: their use is unknown, not zero.', 'percentunit').min(0).max(1)
      .thresholds(thresholds('green', [0.05, 'orange'], [0.2, 'red'])).withTarget(chTable(total('sumIf(gpu_hours, util IS NULL) / nullIf(sum(gpu_hours), 0)'))))
    .withPanel(statPanel('Cost', 'Allocated GPU-hours × list price (cloud nodes) or the flat $usd_per_gpu_hour (on-prem). For invoices use /api/v1/chargeback.', 'currencyUSD')
      .decimals(0).withTarget(chTable(total('sum(gpu_hours * usd_per_gpu_hour)'))))
}

const USE_OVERRIDES = [
  column('allocated_gpu_hours', 'Allocated', 'suffix: GPU-h'), column('used_gpu_hours', 'Used', 'suffix: GPU-h'),
  column('efficiency', 'Efficiency', 'percentunit'), column('wasted_gpu_hours', 'Wasted', 'suffix: GPU-h'),
  column('unknown_gpu_hours', 'Unknown', 'suffix: GPU-h'), column('cost_usd', 'Cost', 'currencyUSD'),
]

function breakdownRows(d: dashboard.DashboardBuilder): void {
  d.withRow(row('By team, project and user'))
    .withPanel(tablePanel('Chargeback by team', 'Per team over the range: GPU-hours allocated, used, wasted and unknown, efficiency and cost. Click a team for its idle work.', 'none', 8, 12)
      .overrides([...USE_OVERRIDES, linksOn('team', dataLink('Idle work of this team', UIDS.idle, { team: 'team' }, ['cluster', 'pool']))])
      .withTarget(chTable(BY_TEAM)))
    .withPanel(stackedPanel('Allocated GPUs by team', 'Mean GPUs held per team over each interval, from exact pod intervals.', 'suffix: GPUs', 8, 12)
      .displayName('${__field.labels.team}').withTarget(chSeries(bucketMean(allocationSpans(), ['team'], 'gpus'))))
    .withPanel(timeseriesPanel('Utilization of allocation by team', 'Mean utilization of the GPUs each team holds (GR_ENGINE_ACTIVE where reported, else GPU_UTIL).', 'percentunit', 8, 12)
      .min(0).max(1).interval('1m').displayName('${__field.labels.team}').withTarget(chSeries(UTILIZATION_BY_TEAM)))
    .withPanel(timeseriesPanel('Allocated GPUs by team (live gauges)', 'The same allocation as the fleet gauges on /metrics report it, refreshed every 30 s.', 'suffix: GPUs', 8, 12)
      .min(0).withTarget(prom('sum by (team) (gpuscope_allocated_gpus{cluster=~"$cluster",pool=~"$pool",team=~"$team"})', '{{team}}')))
    .withPanel(tablePanel('Projects and users', 'The 100 largest (team, project, user) rows by allocated GPU-hours.', 'none', 10, 24)
      .overrides(USE_OVERRIDES).withTarget(chTable(BY_PROJECT_USER)))
}

/** Builds the teams and chargeback dashboard. */
export function teamsDashboard(): dashboard.DashboardBuilder {
  const d = baseDashboard(UIDS.teams, 'gpuscope / Teams and chargeback', { from: 'now-30d', to: 'now' }, 'chargeback')
    .description('GPU-hours allocated and used by team, project and user; efficiency; cost.')
    .withVariable(clusterVariable())
    .withVariable(poolVariable())
    .withVariable(teamVariable())
    .withVariable(rateVariable())
    .link(linkTo(UIDS.idle, 'Idle and waste'))
  totalsRow(d)
  breakdownRows(d)
  return d
}
