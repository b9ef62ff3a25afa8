/**
 * What Grafana does to a panel's query text before a data source runs it,
 * mirrored so tests can run the exact SQL and PromQL a dashboard sends:
 *
 * - ClickHouse (grafana-clickhouse-datasource 4.x): the frontend first
 *   rewrites `$__conditionalAll(cond, $var)` to `1=1` when the variable is
 *   All (src/data/CHDatasource.ts applyConditionalAll), then interpolates
 *   dashboard variables (templateSrv.replace); the backend then expands the
 *   time macros (pkg/macros/macros.go): `$__timeFilter(col)` →
 *   `col >= toDateTime(from_s) AND col <= toDateTime(to_s)`, `$__fromTime` /
 *   `$__toTime` → `toDateTime(s)`, the `_ms` forms →
 *   `fromUnixTimestamp64Milli(ms)`, `$__timeInterval(col)` →
 *   `toStartOfInterval(toDateTime(col), INTERVAL n second)`, `$__interval_s` → n.
 * - Prometheus: variables with the Prometheus formatter (regex-escaped,
 *   several values as `(a|b)`), a custom All value inserted raw, and the
 *   built-ins `$__interval`, `$__rate_interval`, `$__range`.
 *
 * Anything left unexpanded (an unknown macro, an undefined variable) throws,
 * so a typo fails the test instead of reaching the engine as text. Not
 * mirrored: the plugin's statement macros ($__columns, $__lttb...), ad hoc
 * filters and its opt-in auto time filter, none of which gpuscope uses.
 */

/** The fixed time context a query is expanded for. */
export interface QueryContext {
  fromMs: number
  toMs: number
  /** The panel's interval ($__interval), already floored by the panel's min interval. */
  intervalMs: number
  /** The Prometheus data source's scrape interval (jsonData.timeInterval), for $__rate_interval. */
  scrapeIntervalMs?: number
}

/** A dashboard variable as Grafana sees it at query time. */
export interface ResolvedVariable {
  name: string
  multi: boolean
  includeAll: boolean
  /** Custom All value: inserted as is, never formatted (Grafana's CustomAllValue). */
  allValue?: string
  /** `'all'` when All is selected, else the selected values. */
  current: 'all' | string[]
  /** The values the variable offered (what All means without a custom All value). */
  options: string[]
}

/** Variables by name. */
export type Variables = ReadonlyMap<string, ResolvedVariable>

type Formatter = (values: string[], v: ResolvedVariable) => string

const escapeRegex = (s: string): string => s.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&')
const promRegular = (s: string): string => s.replace(/\\/g, '\\\\').replace(/'/g, "\\\\'")
const promRegex = (s: string): string => promRegular(s.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&'))
const one = (values: string[]): string => (values.length === 1 ? (values[0] as string) : `(${values.join('|')})`)

/** Grafana's named variable formats (the ones gpuscope's dashboards may use). */
const FORMATS: Record<string, Formatter> = {
  sqlstring: (vs) => vs.map((v) => `'${v.replace(/'/g, "''")}'`).join(','),
  singlequote: (vs) => vs.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(','),
  csv: (vs) => vs.join(','),
  raw: (vs) => vs.join(','),
  pipe: (vs) => vs.join('|'),
  regex: (vs) => one(vs.map(escapeRegex)),
}

/** The ClickHouse plugin's default format: several values as `'a','b'`, one value raw. */
const clickhouseDefault: Formatter = (vs) => (vs.length === 1 ? (vs[0] as string) : `'${vs.join("','")}'`)

/** The Prometheus data source's default format (interpolateQueryExpr). */
const prometheusDefault: Formatter = (vs, v) => (!v.multi && !v.includeAll ? promRegular(vs.join(',')) : one(vs.map(promRegex)))

const VARIABLE_RE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}/g

/** Grafana's templateSrv.replace: `$name`, `${name}`, `${name:format}`, `[[name]]`; names that are no variable are left as they are. */
function interpolate(text: string, vars: Variables, byDefault: Formatter): string {
  return text.replace(VARIABLE_RE, (match, plain?: string, bracket?: string, bracketFmt?: string, braced?: string, fmt?: string) => {
    const name = plain ?? bracket ?? braced
    const v = name === undefined ? undefined : vars.get(name)
    if (!v) return match
    if (v.current === 'all' && v.allValue !== undefined) return v.allValue
    const values = v.current === 'all' ? v.options : v.current
    const format = fmt ?? bracketFmt
    if (format === undefined) return byDefault(values, v)
    const formatter = FORMATS[format]
    if (!formatter) throw new Error(`unknown variable format '${format}' in ${match}`)
    return formatter(values, v)
  })
}

/** The arguments of the call whose '(' is at `open`, split on top-level commas (the plugin's getMacroArgs). */
function macroArgs(text: string, open: number): { args: string[]; end: number } {
  let depth = 0
  let start = open + 1
  const args: string[] = []
  for (let i = open; i < text.length; i++) {
    const c = text[i]
    if (c === '(') depth++
    else if (c === ')') depth--
    if (c === ',' && depth === 1) {
      args.push(text.slice(start, i))
      start = i + 1
    }
    if (depth === 0) {
      args.push(text.slice(start, i))
      return { args, end: i + 1 }
    }
  }
  throw new Error(`unbalanced parentheses after offset ${open}`)
}

/** The plugin's applyConditionalAll: `$__conditionalAll(cond, $var)` is `1=1` when var is All (or empty), else `cond`. */
export function applyConditionalAll(sql: string, vars: Variables): string {
  const macro = '$__conditionalAll('
  let out = sql
  for (let i = 0, at = out.lastIndexOf(macro); at !== -1 && i < 1_000; i++, at = out.lastIndexOf(macro)) {
    const { args, end } = macroArgs(out, at + macro.length - 1)
    if (args.length !== 2) throw new Error(`$__conditionalAll takes 2 arguments, got ${args.length}: ${out.slice(at, end)}`)
    const name = /\$\{?(\w+)/.exec(args[1] as string)?.[1]
    const v = name === undefined ? undefined : vars.get(name)
    if (!v) throw new Error(`$__conditionalAll names no variable: ${out.slice(at, end)}`)
    const all = v.current === 'all' || v.current.length === 0
    out = out.slice(0, at) + (all ? '1=1' : (args[0] as string)) + out.slice(end)
  }
  return out
}

const toDateTime = (ms: number): string => `toDateTime(${Math.floor(ms / 1000)})`
const toDateTime64 = (ms: number): string => `fromUnixTimestamp64Milli(${ms})`

type Macro = (args: string[], ctx: QueryContext) => string

const arg1 = (name: string, args: string[]): string => {
  if (args.length !== 1) throw new Error(`$__${name} takes 1 argument, got ${args.length}`)
  return (args[0] as string).trim()
}
const intervalSeconds = (ctx: QueryContext): number => Math.max(Math.floor(ctx.intervalMs / 1000), 1)

/** The ClickHouse plugin's backend macros (pkg/macros/macros.go). */
const MACROS: Record<string, Macro> = {
  fromTime: (_a, c) => toDateTime(c.fromMs),
  toTime: (_a, c) => toDateTime(c.toMs),
  fromTime_ms: (_a, c) => toDateTime64(c.fromMs),
  toTime_ms: (_a, c) => toDateTime64(c.toMs),
  timeFilter: (a, c) => `${arg1('timeFilter', a)} >= ${toDateTime(c.fromMs)} AND ${arg1('timeFilter', a)} <= ${toDateTime(c.toMs)}`,
  timeFilter_ms: (a, c) => `${arg1('timeFilter_ms', a)} >= ${toDateTime64(c.fromMs)} AND ${arg1('timeFilter_ms', a)} <= ${toDateTime64(c.toMs)}`,
  timeInterval: (a, c) => `toStartOfInterval(toDateTime(${arg1('timeInterval', a)}), INTERVAL ${intervalSeconds(c)} second)`,
  interval_s: (_a, c) => String(intervalSeconds(c)),
}

/** Expands the backend macros; throws on a `$__name` the plugin does not know. */
export function expandClickHouseMacros(sql: string, ctx: QueryContext): string {
  let out = ''
  let i = 0
  for (let guard = 0; guard < 10_000; guard++) {
    const at = sql.indexOf('$__', i)
    if (at === -1) return out + sql.slice(i)
    const name = /^\$__(\w+)/.exec(sql.slice(at))?.[1] ?? ''
    const macro = MACROS[name]
    if (!macro) throw new Error(`unknown ClickHouse macro $__${name}`)
    let end = at + 3 + name.length
    let args: string[] = []
    if (sql[end] === '(') ({ args, end } = macroArgs(sql, end))
    out += sql.slice(i, at) + macro(args, ctx)
    i = end
  }
  throw new Error('too many macros')
}

/** Fails when a `$` reference survived expansion (an undefined variable or macro). */
function assertExpanded(text: string, what: string): string {
  const left = /\$\{?\w+|\[\[\w+/.exec(text.replace(/'(?:[^'\\]|\\.|'')*'/g, "''"))
  if (left) throw new Error(`${what}: '${left[0]}' is no variable or macro (left in: ${text.slice(0, 200)}...)`)
  return text
}

/** The SQL the ClickHouse plugin runs for a panel or variable query. */
export function renderClickHouse(sql: string, vars: Variables, ctx: QueryContext): string {
  const interpolated = interpolate(applyConditionalAll(sql, vars), vars, clickhouseDefault)
  return assertExpanded(expandClickHouseMacros(interpolated, ctx), 'ClickHouse query')
}

const seconds = (ms: number): string => `${Math.max(1, Math.round(ms / 1000))}s`

/** The PromQL the Prometheus data source runs for a panel query. */
export function renderPromQL(expr: string, vars: Variables, ctx: QueryContext): string {
  const scrape = ctx.scrapeIntervalMs ?? 15_000
  const builtins: Record<string, string> = {
    __interval: seconds(ctx.intervalMs),
    __rate_interval: seconds(Math.max(ctx.intervalMs + scrape, 4 * scrape)),
    __range: seconds(ctx.toMs - ctx.fromMs),
  }
  const withBuiltins = expr.replace(/\$\{?(__\w+)\}?/g, (m, name: string) => builtins[name] ?? m)
  return assertExpanded(interpolate(withBuiltins, vars, prometheusDefault), 'PromQL')
}

const NICE_STEPS_MS = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800].map((s) => s * 1000)

/**
 * The panel interval Grafana would pick: range / maxDataPoints rounded up to
 * a round step, then floored by the panel's min interval (simplified
 * rangeUtil.calculateInterval: the round steps are close to, not exactly,
 * Grafana's table).
 */
export function panelIntervalMs(fromMs: number, toMs: number, maxDataPoints: number, minIntervalMs = 0): number {
  const raw = (toMs - fromMs) / Math.max(1, maxDataPoints)
  const nice = NICE_STEPS_MS.find((s) => s >= raw) ?? (NICE_STEPS_MS[NICE_STEPS_MS.length - 1] as number)
  return Math.max(nice, minIntervalMs)
}

/** Parses a Grafana duration (`30s`, `1m`, `1h`, `7d`) into milliseconds. */
export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(text.trim())
  if (!m) throw new Error(`bad duration '${text}'`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'ms']
  return Number(m[1]) * unit
}

/** Resolves a Grafana relative time (`now`, `now-30d`, `now+7d`) against a fixed now. */
export function relativeTimeMs(text: string, nowMs: number): number {
  const m = /^now(?:([+-])(\d+(?:ms|s|m|h|d|w)))?$/.exec(text.trim())
  if (!m) throw new Error(`unsupported time '${text}' (expected now, now-Nd or now+Nd)`)
  if (!m[1]) return nowMs
  return nowMs + (m[1] === '-' ? -1 : 1) * durationMs(m[2] as string)
}
