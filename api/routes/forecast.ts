import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import type { Router } from 'express'
import { z } from 'zod'
import { principalOf, teamScope, type Principal } from '../auth'
import { ForbiddenError } from '../authErrors'
import { backtestHorizons, backtestTable } from '../../forecasting/backtestReport'
import { formatSelector, parseSelector } from '../../forecasting/demand'
import { forecastSeries, type SeriesForecast } from '../../forecasting/forecast'
import { forecastHourly, planMonthsCsv } from '../../forecasting/planText'
import { HOUR_MS } from '../../forecasting/series'
import { backtestOptions, buildPlan, burstSourcesOf, forecastOptions, historyOf, loadHistory, parseHorizonHours } from '../../forecasting/service'
import { quarterlyReport } from '../../forecasting/report/index'
import { REPORT_CSV_TABLES } from '../../forecasting/report/tables'
import { InputError } from '../../core/errors'
import { backtestData, capacityPlanData, forecastData as forecastDataSchema } from '../schemas/forecast'
import { defineRoute, errorResponses, parseQuery, type RouteDeps } from '../route'

const SERIES_HELP = "cluster=NAME, pool=NAME, gpuModel=NAME, team=NAME joined by commas, or 'fleet'"

const forecastQuery = z.strictObject({
  series: z.string().default('fleet').describe(SERIES_HELP),
  horizon: z.string().default('7d').describe('a duration (24h, 7d, 13w) or a quarter (2026-Q4)'),
})

const backtestQuery = z.strictObject({
  series: z.string().default('fleet').describe(SERIES_HELP),
  horizon: z.string().optional().describe('one horizon; default 24h, 7d and 28d, skipping those the history cannot support'),
})

const planQuery = z.strictObject({
  cluster: z.string().min(1).optional().describe('the cluster to plan; default the whole fleet'),
  pool: z.string().min(1).optional(),
  gpuModel: z.string().min(1).optional(),
  horizon: z.string().optional().describe('a duration (13w) or a quarter (2026-Q4); default config forecast.planHorizon'),
})

/** Registers /forecast, /forecast/backtest, /capacity-plan and /reports/quarterly. */
export function registerForecastRoutes(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  const cfg = () => deps.config.forecast
  defineRoute(router, registry, {
    path: '/api/v1/forecast',
    summary: 'Hourly demand forecast of a series (P5..P95), the model chosen by rolling-origin backtest, and why',
    tag: 'forecast',
    query: forecastQuery,
    response: forecastDataSchema,
    csv: true,
    handler: async ({ query, principal, nowMs }) => {
      const warnings: string[] = []
      const history = await loadHistory(deps.query, scoped(query.series, principal, warnings), cfg(), nowMs)
      const { series, originMs } = historyOf(history)
      const f = forecastSeries(series, forecastOptions(cfg(), parseHorizonHours(query.horizon, originMs)))
      return { data: forecastData(history.selector, f), warnings: [...warnings, ...history.warnings], table: forecastHourly(f) }
    },
  }, deps.now)

  defineRoute(router, registry, {
    path: '/api/v1/forecast/backtest',
    summary: 'Rolling-origin backtest of every candidate model: sMAPE, MASE vs seasonal naive (24 h), interval coverage, the choice per horizon',
    tag: 'forecast',
    query: backtestQuery,
    response: backtestData,
    csv: true,
    handler: async ({ query, principal, nowMs }) => {
      const warnings: string[] = []
      const history = await loadHistory(deps.query, scoped(query.series, principal, warnings), cfg(), nowMs)
      const { series } = historyOf(history)
      const horizons = query.horizon ? [parseHorizonHours(query.horizon, 0)] : undefined
      const outcomes = backtestHorizons(series, backtestOptions(cfg()), horizons)
      return { data: { series: history.selector, hours: series.values.length, outcomes }, warnings: [...warnings, ...history.warnings], table: backtestTable(outcomes) }
    },
  }, deps.now)

  defineRoute(router, registry, {
    path: '/api/v1/capacity-plan',
    summary: 'Capacity plan: when P50/P90 demand first exceed capacity, GPUs to buy for the target allocation ratio, the cloud-burst alternative, the monthly trend',
    tag: 'forecast',
    query: planQuery,
    response: capacityPlanData,
    csv: true,
    handler: async ({ query, principal, nowMs }) => {
      fleetOnly(principal, 'the capacity plan')
      const selector = formatSelector({ ...(query.cluster ? { cluster: [query.cluster] } : {}), ...(query.pool ? { pool: [query.pool] } : {}), ...(query.gpuModel ? { gpuModel: [query.gpuModel] } : {}) })
      const { plan, warnings } = await buildPlan(deps.query, selector, query.horizon, cfg(), nowMs, burstSourcesOf(deps.config))
      const table = planMonthsCsv(plan)
      return { data: plan, warnings, table }
    },
  }, deps.now)

  registerReportRoute(router, registry, deps)
}

const REPORT_FORMATS = ['html', 'markdown', 'csv'] as const
const reportFormat = z.enum(REPORT_FORMATS, { error: `expected one of ${REPORT_FORMATS.join(', ')}` })
const reportTable = z.enum(REPORT_CSV_TABLES, { error: `expected one of ${REPORT_CSV_TABLES.join(', ')}` })

const reportQuery = z.strictObject({
  quarter: z.string().regex(/^\d{4}-[Qq][1-4]$/, 'expected a quarter like 2026-Q3').optional().describe('default: the last complete quarter'),
  format: reportFormat.default('html').describe('html: one self-contained page with inline SVG charts; markdown; csv: one of the report\'s tables (see table)'),
  table: reportTable.optional().describe('with format=csv: which table (default daily: capacity, allocation, demand and utilization by day)'),
})

/** The report's query; parseQuery leaves `format` to this schema, which declares it (a bad value is a 400 naming the accepted ones). */
function parseReportQuery(raw: unknown): z.infer<typeof reportQuery> {
  const q = parseQuery(reportQuery, raw)
  if (q.table !== undefined && q.format !== 'csv') throw new InputError(`bad query: table: only with format=csv (format is ${q.format})`)
  return q
}

/** GET /api/v1/reports/quarterly: the report as one self-contained HTML page, as Markdown, or one of its tables as CSV. */
function registerReportRoute(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  const path = '/api/v1/reports/quarterly'
  registry.registerPath({
    method: 'get',
    path,
    summary: 'Quarterly capacity report (HTML with inline SVG charts): capacity vs allocation vs utilization, next-quarter forecast, capacity plan, chargeback, idle waste, findings',
    tags: ['forecast'],
    request: { query: reportQuery },
    responses: {
      ...errorResponses({ 403: 'a team token may not see fleet-wide reports', 404: 'the store has no data in the quarter (the message says which quarters it has)' }),
      200: {
        description: 'the report: text/html, text/markdown with format=markdown, or text/csv (one table, with a header row) with format=csv',
        content: { 'text/html': { schema: z.string() }, 'text/markdown': { schema: z.string() }, 'text/csv': { schema: z.string() } },
      },
    },
  })
  router.get(path, async (req, res) => {
    const q = parseReportQuery(req.query)
    fleetOnly(principalOf(res), 'the quarterly report')
    const r = await quarterlyReport(deps.query, deps.config, q.quarter, deps.now())
    if (q.format === 'markdown') res.type('text/markdown').send(r.markdown)
    else if (q.format === 'csv') res.type('text/csv').attachment(`gpuscope-${r.quarter}-${q.table ?? 'daily'}.csv`).send(r.csv[`${q.table ?? 'daily'}.csv`])
    else res.type('text/html').send(r.html)
  })
}

/** A team token sees only its own team's demand: the selector is narrowed to it, with a warning when it asked for more. */
function scoped(selector: string, principal: Principal, warnings: string[]): string {
  const team = teamScope(principal)
  if (team === undefined) return selector
  const sel = parseSelector(selector)
  if (sel.team && sel.team.some((t) => t !== team)) warnings.push(`this token sees only team '${team}': the series was narrowed to it`)
  return formatSelector({ ...sel, team: [team] })
}

/** Fleet-wide answers (capacity, plan, report) are not for team tokens. */
export function fleetOnly(principal: Principal, what: string): void {
  if (teamScope(principal) !== undefined) throw new ForbiddenError(`${what} covers the whole fleet: a team token may not see it`)
}

function forecastData(series: string, f: SeriesForecast) {
  const { backtest, quantiles, point, ...rest } = f
  const { residuals: _residuals, ...scores } = backtest
  return {
    series,
    ...rest,
    originTs: new Date(f.originMs).toISOString(),
    backtest: scores,
    points: point.map((p, h) => ({ ts: new Date(f.originMs + h * HOUR_MS).toISOString(), pointGpus: p, quantileGpus: quantiles[h] })),
  }
}

