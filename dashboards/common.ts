/**
 * What every gpuscope dashboard shares: the two provisioned data sources
 * (stable uids, see provisioning/datasources.yaml), a query builder for the
 * ClickHouse plugin (the SDK ships none), the cluster / pool / team
 * variables, the links between dashboards, and panel factories with units,
 * legends and thresholds set the same way everywhere.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog'
import * as common from '@grafana/grafana-foundation-sdk/common'
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import { DataqueryBuilder as PromQueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus'
import * as stat from '@grafana/grafana-foundation-sdk/stat'
import * as table from '@grafana/grafana-foundation-sdk/table'
import * as text from '@grafana/grafana-foundation-sdk/text'
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { varIn } from './sql'

/** Plugin id of the ClickHouse data source. */
export const CLICKHOUSE_TYPE = 'grafana-clickhouse-datasource'
/** Stable uids the provisioning files give the data sources; panels reference these. */
export const DATASOURCE_UIDS = { clickhouse: 'gpuscope-clickhouse', prometheus: 'gpuscope-prometheus' } as const

/** Stable uids of the gpuscope dashboards (links and data links use them). */
export const UIDS = {
  fleet: 'gpuscope-fleet',
  teams: 'gpuscope-teams',
  idle: 'gpuscope-idle',
  workload: 'gpuscope-workload',
  forecast: 'gpuscope-forecast',
  collectors: 'gpuscope-collectors',
} as const

/** Reference to the provisioned ClickHouse data source (store tables and rollups). */
export const clickhouse = (): common.DataSourceRef => ({ type: CLICKHOUSE_TYPE, uid: DATASOURCE_UIDS.clickhouse })
/** Reference to the provisioned Prometheus data source (gpuscope_* and DCGM_* series). */
export const prometheus = (): common.DataSourceRef => ({ type: 'prometheus', uid: DATASOURCE_UIDS.prometheus })

/** The ClickHouse plugin's result formats (sqlutil.FormatQueryOption): 0 time series, 1 table. */
export enum ClickHouseFormat {
  TimeSeries = 0,
  Table = 1,
}

/** A raw-SQL query of grafana-clickhouse-datasource 4.x, as its query editor saves it. */
export interface ClickHouseQuery {
  refId: string
  datasource: common.DataSourceRef
  editorType: 'sql'
  queryType: 'timeseries' | 'table'
  format: ClickHouseFormat
  rawSql: string
  pluginVersion: string
  _implementsDataqueryVariant(): void
}

/** Builds a ClickHouse panel target (a cog.Dataquery variant, the SDK's way to add a plugin's query type). */
export class ClickHouseQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly internal: ClickHouseQuery

  constructor(rawSql: string, format: ClickHouseFormat) {
    this.internal = {
      refId: 'A',
      datasource: clickhouse(),
      editorType: 'sql',
      queryType: format === ClickHouseFormat.TimeSeries ? 'timeseries' : 'table',
      format,
      rawSql: rawSql.trim(),
      pluginVersion: '4.0.0',
      _implementsDataqueryVariant() {},
    }
  }

  /** Sets the query's refId (A by default). */
  refId(refId: string): this {
    this.internal.refId = refId
    return this
  }

  /** The query object. */
  build(): ClickHouseQuery {
    return this.internal
  }
}

/** A ClickHouse time-series target: `time` first, ascending, then label and value columns. */
export const chSeries = (sql: string): ClickHouseQueryBuilder => new ClickHouseQueryBuilder(sql, ClickHouseFormat.TimeSeries)
/** A ClickHouse table target. */
export const chTable = (sql: string): ClickHouseQueryBuilder => new ClickHouseQueryBuilder(sql, ClickHouseFormat.Table)

/** A Prometheus target; `instant` for stat panels, range otherwise. */
export function prom(expr: string, legend = '', instant = false, refId = 'A'): PromQueryBuilder {
  const q = new PromQueryBuilder().datasource(prometheus()).expr(expr).refId(refId).legendFormat(legend || '__auto')
  return instant ? q.instant() : q.range()
}

/** The variable query shape the ClickHouse plugin saves (CHVariableQuery, custom SQL). */
const variableQuery = (rawSql: string) => ({ refId: 'var', queryType: 'sql', editorType: 'sql', format: ClickHouseFormat.Table, rawSql: rawSql.trim() })

/**
 * How a ClickHouse variable selects:
 * - `filter`: several values or All; the custom All value `.*` serves the
 *   Prometheus panels (a regex matcher matches every series, labelled or
 *   not), and ClickHouse panels drop the filter on All with $__conditionalAll,
 *   so `.*` never reaches SQL;
 * - `one`: exactly one value, in the order the query returns them;
 * - `every`: several values, All meaning every value the query offered
 *   (no custom All value), for lists that must stay exact, like one job's pods.
 */
export type VariableMode = 'filter' | 'one' | 'every'

/** A variable whose values a ClickHouse query lists (first column). */
export function chVariable(name: string, label: string, sql: string, description: string, mode: VariableMode = 'filter'): dashboard.QueryVariableBuilder {
  const v = new dashboard.QueryVariableBuilder(name)
    .label(label)
    .description(description)
    .datasource(clickhouse())
    .query(variableQuery(sql))
    .definition(sql.trim())
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .multi(mode !== 'one')
    .includeAll(mode !== 'one')
  if (mode === 'one') return v.sort(dashboard.VariableSort.Disabled)
  v.sort(dashboard.VariableSort.AlphabeticalCaseInsensitiveAsc).current({ selected: true, text: ['All'], value: ['$__all'] })
  return mode === 'filter' ? v.allValue('.*') : v
}

/** Clusters with node history. */
export const clusterVariable = (): dashboard.QueryVariableBuilder =>
  chVariable('cluster', 'Cluster', 'SELECT DISTINCT cluster FROM node_state ORDER BY cluster', 'Clusters gpuscope has node history for.')

/** Node pools of the selected clusters. */
export const poolVariable = (): dashboard.QueryVariableBuilder =>
  chVariable('pool', 'Pool', `SELECT DISTINCT pool FROM node_state WHERE pool != '' AND ${varIn('cluster', 'cluster')} ORDER BY pool`,
    'Node pools (the pool label of the nodes). Pending pods have no node and so no pool: picking pools leaves pending demand out.')

/** Teams that held or asked for GPUs in the selected clusters during the range. */
export const teamVariable = (): dashboard.QueryVariableBuilder =>
  chVariable('team', 'Team', `SELECT DISTINCT team FROM workload_intervals WHERE team != '' AND created_ts <= $__toTime_ms
  AND (end_ts IS NULL OR end_ts >= $__fromTime_ms) AND ${varIn('cluster', 'cluster')} ORDER BY team`,
  'Teams (the pod team label) with GPU work in the range. Unlabelled pods show under All only.')

/** A custom variable with fixed options (safe to interpolate raw). */
export function customVariable(name: string, label: string, options: readonly string[], current: string, description: string): dashboard.CustomVariableBuilder {
  return new dashboard.CustomVariableBuilder(name)
    .label(label)
    .description(description)
    .values(options.join(','))
    .current({ selected: true, text: current, value: current })
    .options(options.map((o) => ({ selected: o === current, text: o, value: o })))
}

/** The flat on-prem $/GPU-hour the SQL cost columns use (the API's rate card default is 2). */
export const rateVariable = (): dashboard.CustomVariableBuilder =>
  customVariable('usd_per_gpu_hour', 'On-prem $/GPU-h', ['1', '2', '3', '4', '6'], '2',
    'Flat amortised $/GPU-hour for on-prem GPUs and unpriced cloud nodes. Invoices come from /api/v1/chargeback, which applies the configured rate card.')

/** The idle rule's knobs, as the idle policy defaults them (utilization below 5% for 60 min; notebooks 30 min without kernel activity). */
export const idleVariables = (): dashboard.CustomVariableBuilder[] => [
  customVariable('idle_below', 'Idle below', ['0.01', '0.05', '0.1'], '0.05', 'Utilization (0..1) under which a GPU counts as idle.'),
  customVariable('idle_window', 'Idle for (min)', ['30', '60', '120', '240'], '60', 'Minutes every sample must stay under the threshold for a workload to count as idle.'),
  customVariable('notebook_idle', 'Notebook idle (min)', ['30', '60', '120', '480'], '30', 'Minutes without kernel activity before a notebook is a candidate to cull.'),
]

/** Tag every gpuscope dashboard carries; the cross-dashboard link lists dashboards by it. */
export const GPUSCOPE_TAG = 'gpuscope'

/** The dropdown of every gpuscope dashboard, carrying the variables and the time range along. */
export const dashboardsLink = (): dashboard.DashboardLinkBuilder =>
  new dashboard.DashboardLinkBuilder('gpuscope')
    .type(dashboard.DashboardLinkType.Dashboards)
    .tags([GPUSCOPE_TAG])
    .asDropdown(true)
    .includeVars(true)
    .keepTime(true)
    .icon('external link')
    .tooltip('Other gpuscope dashboards')
    .targetBlank(false)

/** A link to one dashboard by uid with the current variables and time range. */
export const linkTo = (uid: string, title: string): dashboard.DashboardLinkBuilder =>
  new dashboard.DashboardLinkBuilder(title)
    .type(dashboard.DashboardLinkType.Link)
    .url(`/d/${uid}`)
    .tags([])
    .asDropdown(false)
    .includeVars(true)
    .keepTime(true)
    .icon('dashboard')
    .tooltip(title)
    .targetBlank(false)

/**
 * A data link (on a table cell) into another dashboard: `fields` set
 * variables from the clicked row (variable name → column), `carry` passes
 * this dashboard's variables along, and the time range goes with it.
 */
export function dataLink(title: string, uid: string, fields: Record<string, string>, carry: readonly string[] = []): dashboard.DashboardLinkBuilder {
  const params = [
    ...Object.entries(fields).map(([v, f]) => `var-${v}=\${__data.fields.${f}}`),
    ...carry.map((v) => `\${${v}:queryparam}`),
    '${__url_time_range}',
  ]
  return new dashboard.DashboardLinkBuilder(title)
    .url(`/d/${uid}?${params.join('&')}`)
    .type(dashboard.DashboardLinkType.Link)
    .tags([])
    .asDropdown(false)
    .includeVars(false)
    .keepTime(false)
    .icon('')
    .tooltip(title)
    .targetBlank(false)
}

/** One field override of a panel (the SDK types it inline). */
export interface FieldOverride {
  matcher: dashboard.MatcherConfig
  properties: dashboard.DynamicConfigValue[]
}

/** Field override styling one series: a fixed colour and, for projections, a dashed line. */
export const seriesStyle = (name: string, color: string, dashed = false): FieldOverride => ({
  matcher: { id: 'byName', options: name },
  properties: [
    { id: 'color', value: { mode: 'fixed', fixedColor: color } },
    ...(dashed ? [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }] : []),
  ],
})

/** Field override putting data links on one column. */
export const linksOn = (field: string, ...links: dashboard.DashboardLinkBuilder[]): FieldOverride => ({
  matcher: { id: 'byName', options: field },
  properties: [{ id: 'links', value: links.map((l) => l.build()) }],
})

/** Absolute thresholds from a base colour and [value, colour] steps. */
export function thresholds(base: string, ...steps: Array<[number, string]>): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...steps.map(([value, color]) => ({ value, color }))])
}

/** Utilization 0..1: red below 0.3, orange below 0.6, green above (low use of held GPUs is the problem). */
export const utilThresholds = (): dashboard.ThresholdsConfigBuilder => thresholds('red', [0.3, 'orange'], [0.6, 'green'])

/** A time-series panel with a visible legend. */
export function timeseriesPanel(title: string, description: string, unit: string, h = 8, w = 12): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .unit(unit)
    .height(h)
    .span(w)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).calcs([]))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .lineWidth(1)
    .fillOpacity(10)
    .spanNulls(false)
}

/** A stacked time-series panel (parts of a whole, e.g. GPUs by team). */
export const stackedPanel = (title: string, description: string, unit: string, h = 8, w = 12): timeseries.PanelBuilder =>
  timeseriesPanel(title, description, unit, h, w).stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)).fillOpacity(40)

/**
 * A stat panel showing the last non-null value, coloured neutrally unless
 * the caller sets thresholds (Grafana's default, red from 80, would paint a
 * capacity of 856 GPUs red).
 */
export function statPanel(title: string, description: string, unit: string, w = 4, h = 4): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(title)
    .description(description)
    .unit(unit)
    .thresholds(thresholds('text'))
    .height(h)
    .span(w)
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
}

/** A table panel; `unit` is the default for numeric columns. */
export function tablePanel(title: string, description: string, unit: string, h = 9, w = 24): table.PanelBuilder {
  return new table.PanelBuilder().title(title).description(description).unit(unit).height(h).span(w).showHeader(true).filterable(true)
}

/** A markdown note. */
export const notePanel = (title: string, markdown: string, h = 6, w = 24): text.PanelBuilder =>
  new text.PanelBuilder().title(title).description(title).mode(text.TextMode.Markdown).content(markdown.trim()).height(h).span(w)

/** A row header (expanded; the panels after it belong to it). */
export const row = (title: string): dashboard.RowBuilder => new dashboard.RowBuilder(title).collapsed(false)

/** Field override: display name and unit of one column. */
export const column = (name: string, displayName: string, unit?: string): FieldOverride => ({
  matcher: { id: 'byName', options: name },
  properties: [{ id: 'displayName', value: displayName }, ...(unit ? [{ id: 'unit', value: unit }] : [])],
})

/** The frame of a dashboard: uid, tags, default range, refresh, links and the standard variables. */
export function baseDashboard(uid: string, title: string, range: { from: string; to: string }, tag: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .tags([GPUSCOPE_TAG, tag])
    .time(range)
    .timezone('utc')
    .refresh('1m')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .readonly()
    .link(dashboardsLink())
}
