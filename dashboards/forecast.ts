/**
 * Forecast and capacity plan: hourly demand history (allocation + pending)
 * against capacity, and the seasonal-naive projection (demand of the same
 * hour a week earlier) that every forecasting model must beat. The model
 * forecast with its P10–P90 band and the date capacity is crossed come from
 * gpuscope's forecaster (/api/v1/forecast, /api/v1/capacity-plan, the
 * quarterly report), not from SQL; a note panel says so.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import {
  baseDashboard, chSeries, chTable, clusterVariable, column, linkTo, notePanel, poolVariable, row, seriesStyle, stackedPanel, statPanel, tablePanel,
  teamVariable, thresholds, timeseriesPanel, UIDS,
} from './common'
import { allocationSpans, bucketMean, capacitySpans, NOW_MS, pendingSpans, varIn, WEEK_BEFORE } from './sql'

/** Hourly allocated, pending and capacity GPUs from a week before the range to now (a WITH-clause body; select from `hourly`). */
const HOURLY = `hourly AS (
  SELECT time, sumIf(value, series = 'allocated') AS allocated, sumIf(value, series = 'pending') AS pending, sumIf(value, series = 'capacity') AS capacity
  FROM (
    SELECT time, 'capacity' AS series, value FROM (${bucketMean(capacitySpans(WEEK_BEFORE), [], 'value', WEEK_BEFORE)})
    UNION ALL
    SELECT time, 'allocated' AS series, value FROM (${bucketMean(allocationSpans(WEEK_BEFORE), [], 'value', WEEK_BEFORE)})
    UNION ALL
    SELECT time, 'pending' AS series, value FROM (${bucketMean(pendingSpans(WEEK_BEFORE), [], 'value', WEEK_BEFORE)})
  )
  GROUP BY time
)`

const NOW = `toDateTime(intDiv(${NOW_MS}, 1000), 'UTC')`
const LATEST_CAPACITY = '(SELECT argMax(capacity, time) FROM hourly)'

const DEMAND_AND_PROJECTION = `
WITH ${HOURLY}
SELECT time, max(allocated) AS allocated, max(pending) AS pending, max(demand) AS demand, max(capacity) AS capacity, max(projection) AS seasonal_naive
FROM (
  SELECT time, toNullable(allocated) AS allocated, toNullable(pending) AS pending, toNullable(allocated + pending) AS demand,
         toNullable(capacity) AS capacity, CAST(NULL AS Nullable(Float64)) AS projection
  FROM hourly WHERE time >= $__fromTime - INTERVAL $__interval_s SECOND
  UNION ALL
  SELECT t AS time, NULL, NULL, NULL, if(t > ${NOW}, ${LATEST_CAPACITY}, NULL), toNullable(d)
  FROM (SELECT time + INTERVAL 7 DAY AS t, allocated + pending AS d FROM hourly)
  WHERE t >= $__fromTime AND t <= $__toTime
)
GROUP BY time
ORDER BY time`

const onHourly = (expr: string): string => `WITH ${HOURLY}
SELECT ${expr} AS value
FROM hourly`

const CROSSING = onHourly(`nullIf(toUnixTimestamp(minIf(time + INTERVAL 7 DAY, time + INTERVAL 7 DAY > ${NOW} AND allocated + pending > ${LATEST_CAPACITY})), 0) * 1000`)
const PEAK_RATIO = onHourly(`maxIf(allocated + pending, time >= $__fromTime) / nullIf(${LATEST_CAPACITY}, 0)`)

const POOLS = `
WITH hourly AS (${bucketMean(allocationSpans(), ['pool'], 'gpus')}),
cap AS (
  SELECT pool, sum(c) AS capacity_gpus
  FROM (SELECT cluster, node, argMax(pool, ts) AS pool, argMax(if(ready AND schedulable, allocatable_gpus, 0), ts) AS c
        FROM node_state WHERE ts <= $__toTime_ms AND ${varIn('cluster', 'cluster')} GROUP BY cluster, node)
  WHERE ${varIn('pool', 'pool')}
  GROUP BY pool
)
SELECT c.pool AS pool, c.capacity_gpus AS capacity_gpus, max(h.gpus) AS peak_allocated, quantile(0.95)(h.gpus) AS p95_allocated,
       avg(h.gpus) AS mean_allocated, max(h.gpus) / nullIf(c.capacity_gpus, 0) AS peak_ratio
FROM cap AS c LEFT JOIN hourly AS h ON h.pool = c.pool
GROUP BY pool, capacity_gpus
ORDER BY peak_ratio DESC`

const NOTE = `
**Where the forecast band is.** The panels here are SQL over what happened: hourly demand (allocated + pending GPUs) against capacity, and the
**seasonal-naive projection** — each hour's demand a week earlier — drawn across the range and into the next 7 days. Left of now it shows how
well that rule would have done; right of now it is the baseline, not a model.

The model forecast (P10–P90 band), its backtest against seasonal naive, and the date demand crosses capacity come from gpuscope's forecaster:
\`gpuscope forecast\`, \`GET /api/v1/forecast\`, \`GET /api/v1/capacity-plan\` and the quarterly report. A model ships only when it beats
seasonal naive in backtests; otherwise the planner says naive is its choice (DESIGN.md, Forecasting).`

function demandRow(d: dashboard.DashboardBuilder): void {
  d.withRow(row('Demand and capacity (ClickHouse)'))
    .withPanel(timeseriesPanel('Demand, capacity and the seasonal-naive projection', 'Hourly mean GPUs: allocated, pending, demand (their sum) and capacity, with the seasonal-naive projection (demand of the same hour a week earlier) into the next 7 days at today\'s capacity.', 'suffix: GPUs', 10, 24)
      .min(0).interval('1h')
      .overrides([seriesStyle('capacity', 'red'), seriesStyle('allocated', 'blue'), seriesStyle('pending', 'orange'), seriesStyle('demand', 'purple'), seriesStyle('seasonal_naive', 'purple', true)])
      .withTarget(chSeries(DEMAND_AND_PROJECTION)))
    .withPanel(statPanel('Projected crossing (seasonal naive)', 'First future hour whose seasonal-naive demand exceeds today\'s capacity, within 7 days. The model\'s crossing date is in /api/v1/capacity-plan.', 'dateTimeAsIso', 8)
      .noValue('not within 7 days').interval('1h').withTarget(chTable(CROSSING)))
    .withPanel(statPanel('Peak demand / capacity', 'Highest hourly demand in the range over today\'s capacity.', 'percentunit', 8)
      .interval('1h').thresholds(thresholds('green', [0.85, 'orange'], [1, 'red'])).withTarget(chTable(PEAK_RATIO)))
    .withPanel(statPanel('Capacity now', 'GPUs allocatable on Ready, schedulable nodes in the latest hour.', 'suffix: GPUs', 8)
      .interval('1h').decimals(1).withTarget(chTable(onHourly('argMax(capacity, time)'))))
}

function planRow(d: dashboard.DashboardBuilder): void {
  d.withRow(row('Where demand presses'))
    .withPanel(stackedPanel('Pending demand by team', 'Mean GPUs requested by pods waiting to be scheduled, per team: demand capacity did not meet.', 'suffix: GPUs', 8, 12)
      .interval('1h').displayName('${__field.labels.team}').withTarget(chSeries(bucketMean(pendingSpans(), ['team'], 'gpus'))))
    .withPanel(tablePanel('Pools: capacity and hourly allocation', 'Per pool: capacity at the end of the range, and the peak, 95th percentile and mean of hourly allocation over the range.', 'suffix: GPUs', 8, 12)
      .interval('1h').overrides([column('peak_ratio', 'Peak / capacity', 'percentunit')]).withTarget(chTable(POOLS)))
    .withPanel(notePanel('About the forecast', NOTE, 6, 24))
}

/** Builds the forecast and capacity plan dashboard. */
export function forecastDashboard(): dashboard.DashboardBuilder {
  const d = baseDashboard(UIDS.forecast, 'gpuscope / Forecast and capacity plan', { from: 'now-30d', to: 'now+7d' }, 'forecast')
    .description('Demand history against capacity, and the seasonal-naive projection every forecast must beat.')
    .variables([clusterVariable(), poolVariable(), teamVariable()])
    .link(linkTo(UIDS.fleet, 'Fleet overview'))
  demandRow(d)
  planRow(d)
  return d
}
