import { describe, expect, it } from 'vitest'
import {
  applyConditionalAll, expandClickHouseMacros, panelIntervalMs, relativeTimeMs, renderClickHouse, renderPromQL,
  type QueryContext, type ResolvedVariable,
} from './expand'

// 2026-01-01T00:00:00Z .. +6 h, 60 s interval.
const FROM = 1_767_225_600_000
const TO = FROM + 6 * 3_600_000
const ctx: QueryContext = { fromMs: FROM, toMs: TO, intervalMs: 60_000, scrapeIntervalMs: 15_000 }

const variable = (name: string, current: ResolvedVariable['current'], extra: Partial<ResolvedVariable> = {}): ResolvedVariable => ({
  name, multi: true, includeAll: true, allValue: '.*', current, options: ['a', 'b.c', "o'neil"], ...extra,
})
const vars = (...vs: ResolvedVariable[]) => new Map(vs.map((v) => [v.name, v]))

describe('ClickHouse plugin macros (pkg/macros/macros.go)', () => {
  it.each([
    { name: 'timeFilter: seconds, both ends inclusive', sql: '$__timeFilter(ts)', want: `ts >= toDateTime(${FROM / 1000}) AND ts <= toDateTime(${TO / 1000})` },
    { name: 'timeFilter_ms: milliseconds', sql: '$__timeFilter_ms(ts)', want: `ts >= fromUnixTimestamp64Milli(${FROM}) AND ts <= fromUnixTimestamp64Milli(${TO})` },
    { name: 'fromTime and toTime', sql: '$__fromTime, $__toTime', want: `toDateTime(${FROM / 1000}), toDateTime(${TO / 1000})` },
    { name: 'fromTime_ms is not fromTime followed by _ms', sql: '$__fromTime_ms', want: `fromUnixTimestamp64Milli(${FROM})` },
    { name: 'timeInterval buckets by the interval in seconds', sql: '$__timeInterval(ts)', want: 'toStartOfInterval(toDateTime(ts), INTERVAL 60 second)' },
    { name: 'interval_s', sql: 'x / $__interval_s', want: 'x / 60' },
    { name: 'nested parentheses in an argument', sql: '$__timeFilter(toDate(ts))', want: `toDate(ts) >= toDateTime(${FROM / 1000}) AND toDate(ts) <= toDateTime(${TO / 1000})` },
  ])('$name', ({ sql, want }) => {
    expect(expandClickHouseMacros(sql, ctx)).toBe(want)
  })

  it('floors $__interval_s at 1 second, as the plugin does', () => {
    expect(expandClickHouseMacros('$__interval_s', { ...ctx, intervalMs: 200 })).toBe('1')
  })

  it('rejects a macro the plugin does not define', () => {
    expect(() => expandClickHouseMacros('$__timeFilterX(ts)', ctx)).toThrow(/unknown ClickHouse macro \$__timeFilterX/)
  })
})

describe('ClickHouse variables and $__conditionalAll (CHDatasource.applyTemplateVariables)', () => {
  const sql = "SELECT 1 WHERE $__conditionalAll(cluster IN (${cluster:sqlstring}), $cluster) AND team = 'x'"
  it.each([
    { name: 'All drops the condition', v: variable('cluster', 'all'), want: "SELECT 1 WHERE 1=1 AND team = 'x'" },
    { name: 'values keep it, quoted and escaped by sqlstring', v: variable('cluster', ['a', "o'neil"]), want: "SELECT 1 WHERE cluster IN ('a','o''neil') AND team = 'x'" },
    { name: 'an empty selection counts as All', v: variable('cluster', []), want: "SELECT 1 WHERE 1=1 AND team = 'x'" },
  ])('$name', ({ v, want }) => {
    expect(renderClickHouse(sql, vars(v), ctx)).toBe(want)
  })

  it.each([
    { name: 'several values: quoted list', current: ['a', 'b.c'], want: "IN ('a','b.c')" },
    { name: 'one value: raw', current: ['a'], want: 'IN (a)' },
  ])('default format, $name', ({ current, want }) => {
    expect(renderClickHouse('IN ($cluster)', vars(variable('cluster', current)), ctx)).toBe(want)
  })

  it('inserts a custom All value unformatted (so a bare ${var:sqlstring} on All would break the SQL, and the test sees it)', () => {
    expect(renderClickHouse('x IN (${cluster:sqlstring})', vars(variable('cluster', 'all')), ctx)).toBe('x IN (.*)')
  })

  it('expands All without a custom All value to every option', () => {
    expect(renderClickHouse('x IN (${pod:sqlstring})', vars(variable('pod', 'all', { allValue: undefined })), ctx)).toBe("x IN ('a','b.c','o''neil')")
  })

  it('finds the macro arguments around nested parentheses and commas', () => {
    const text = '$__conditionalAll((c, n) IN (SELECT c, n FROM t WHERE p IN (${pool:sqlstring})), $pool)'
    expect(applyConditionalAll(text, vars(variable('pool', ['x'])))).toBe('(c, n) IN (SELECT c, n FROM t WHERE p IN (${pool:sqlstring}))')
  })

  it('fails on a variable the dashboard does not define', () => {
    expect(() => renderClickHouse('x = ${nope:sqlstring}', vars(), ctx)).toThrow(/'\$\{nope' is no variable or macro/)
  })
})

describe('Prometheus interpolation', () => {
  it.each([
    { name: 'All with custom All value', v: variable('team', 'all'), want: 'x{team=~".*"}' },
    { name: 'several values: regex alternation, dots escaped', v: variable('team', ['a', 'b.c']), want: 'x{team=~"(a|b\\\\.c)"}' },
    { name: 'one value of a multi variable: escaped, no parentheses', v: variable('team', ['b.c']), want: 'x{team=~"b\\\\.c"}' },
  ])('$name', ({ v, want }) => {
    expect(renderPromQL('x{team=~"$team"}', vars(v), ctx)).toBe(want)
  })

  it.each([
    { name: '$__rate_interval is max(interval + scrape, 4 x scrape)', expr: 'rate(x[$__rate_interval])', c: ctx, want: 'rate(x[75s])' },
    { name: '$__rate_interval never below 4 scrapes', expr: 'rate(x[$__rate_interval])', c: { ...ctx, intervalMs: 10_000 }, want: 'rate(x[60s])' },
    { name: '$__range is the range in seconds', expr: 'increase(x[$__range])', c: ctx, want: 'increase(x[21600s])' },
  ])('$name', ({ expr, c, want }) => {
    expect(renderPromQL(expr, vars(), c)).toBe(want)
  })
})

describe('time helpers', () => {
  it.each([
    { name: '6 h at 1000 points rounds up to 30 s', from: FROM, to: TO, points: 1000, min: 0, want: 30_000 },
    { name: 'the panel min interval floors it', from: FROM, to: TO, points: 1000, min: 3_600_000, want: 3_600_000 },
    { name: '30 d at 1000 points is an hour', from: TO - 30 * 86_400_000, to: TO, points: 1000, min: 0, want: 3_600_000 },
  ])('interval: $name', ({ from, to, points, min, want }) => {
    expect(panelIntervalMs(from, to, points, min)).toBe(want)
  })

  it.each([
    { text: 'now', want: TO },
    { text: 'now-30d', want: TO - 30 * 86_400_000 },
    { text: 'now+7d', want: TO + 7 * 86_400_000 },
  ])('relative time $text', ({ text, want }) => {
    expect(relativeTimeMs(text, TO)).toBe(want)
  })
})
