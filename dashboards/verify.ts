/**
 * Runs a dashboard the way Grafana would, against a real engine: resolves
 * its variables in order (ClickHouse variable queries run on the store),
 * renders each panel query with the expander, and checks that the answer has
 * the shape the panel needs. Used by test/dashboards-sql.test.ts and
 * test/dashboards-promql.test.ts.
 */
import type { Dashboard, VariableModel } from '@grafana/grafana-foundation-sdk/dashboard'
import type { QueryFn } from '../core/ports'
import { durationMs, panelIntervalMs, relativeTimeMs, renderClickHouse, type QueryContext, type ResolvedVariable, type Variables } from './expand'
import { referencedFields, variableSql, variablesOf, type PanelQuery } from './inspect'

/** How variables are chosen: All where offered (else the first option), or the first option everywhere. */
export type Pick = 'all' | 'first'

/** The panel interval Grafana would use for this panel over the context's range. */
export function contextFor(q: PanelQuery, range: { fromMs: number; toMs: number }, maxDataPoints = 1_000): QueryContext {
  const minIntervalMs = q.panel.interval ? durationMs(q.panel.interval) : 0
  return { ...range, intervalMs: panelIntervalMs(range.fromMs, range.toMs, q.panel.maxDataPoints ?? maxDataPoints, minIntervalMs) }
}

/** The dashboard's default time range resolved against a fixed now. */
export function dashboardRange(d: Dashboard, nowMs: number): { fromMs: number; toMs: number } {
  const time = d.time ?? { from: 'now-6h', to: 'now' }
  return { fromMs: relativeTimeMs(time.from, nowMs), toMs: relativeTimeMs(time.to, nowMs) }
}

function currentOf(v: VariableModel): string[] {
  const value = v.current?.value
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}

function resolved(v: VariableModel, options: string[], pick: Pick): ResolvedVariable {
  const base = { name: v.name, multi: v.multi ?? false, includeAll: v.includeAll ?? false, allValue: v.allValue, options }
  if (v.type === 'custom' || v.type === 'constant' || v.type === 'textbox') return { ...base, current: currentOf(v) }
  if (pick === 'all' && base.includeAll) return { ...base, current: 'all' }
  // A query that offers nothing leaves the variable empty, as in Grafana.
  return { ...base, current: options.slice(0, 1) }
}

/** Resolves every variable in order, running ClickHouse variable queries on `query`; returns them and the SQL each ran. */
export async function resolveVariables(d: Dashboard, query: QueryFn, ctx: QueryContext, pick: Pick): Promise<{ vars: Map<string, ResolvedVariable>; sql: Map<string, string> }> {
  const vars = new Map<string, ResolvedVariable>()
  const sql = new Map<string, string>()
  for (const v of variablesOf(d)) {
    let options = (v.options ?? []).map((o) => String(o.value))
    const raw = variableSql(v)
    if (raw !== undefined) {
      const rendered = renderClickHouse(raw, vars, ctx)
      sql.set(v.name, rendered)
      const rows = await query<Record<string, unknown>>(rendered)
      options = rows.map((r) => String(Object.values(r)[0]))
    }
    vars.set(v.name, resolved(v, options, pick))
  }
  return { vars, sql }
}

/** A column of a ClickHouse answer. */
export interface Column {
  name: string
  type: string
}

const NUMERIC = /^(Nullable\()?(U?Int\d+|Float\d+|Decimal)/
const TIME = /^(Nullable\()?DateTime/

/** Columns of a query's answer, read with DESCRIBE (works when no row comes back). */
export async function columnsOf(query: QueryFn, sql: string): Promise<Column[]> {
  return query<Column>(`DESCRIBE TABLE (${sql})`)
}

/**
 * What is wrong with a ClickHouse answer for its panel: a time series wants
 * `time` (DateTime) first, ascending, and a numeric column; a stat wants a
 * numeric column; every field the panel names (overrides, data links) must exist.
 */
export function shapeProblems(q: PanelQuery, columns: readonly Column[], rows: ReadonlyArray<Record<string, unknown>>): string[] {
  const problems: string[] = []
  const names = new Set(columns.map((c) => c.name))
  const numeric = columns.filter((c) => NUMERIC.test(c.type))
  if (q.format === 0) {
    const first = columns[0]
    if (first?.name !== 'time' || !TIME.test(first.type)) problems.push(`first column is ${first?.name}:${first?.type}, want time:DateTime`)
    if (numeric.length === 0) problems.push('no numeric value column')
    const times = rows.map((r) => Date.parse(`${String(r.time).replace(' ', 'T')}Z`))
    if (times.some((t, i) => i > 0 && t < (times[i - 1] as number))) problems.push('rows are not in ascending time order')
  }
  if (['stat', 'gauge', 'bargauge'].includes(q.panel.type) && numeric.length === 0) problems.push('no numeric column for a single value')
  for (const f of referencedFields(q.panel)) if (!names.has(f)) problems.push(`panel refers to field '${f}', which the query does not return`)
  return problems
}

/** Resolves the variables once for a dashboard and renders one query. */
export function renderPanelSql(q: PanelQuery, vars: Variables, range: { fromMs: number; toMs: number }, intervalMs?: number): string {
  const ctx = contextFor(q, range)
  return renderClickHouse(q.text, vars, intervalMs === undefined ? ctx : { ...ctx, intervalMs: Math.max(intervalMs, ctx.intervalMs) })
}
