import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defaultDashboard, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { staleFiles } from './build'
import { DATASOURCE_UIDS, GPUSCOPE_TAG, UIDS } from './common'
import { gridOf, interpolatedStrings, panelsOf, queriesOf, variablesOf } from './inspect'
import { buildAll, dashboardJson } from './render'

const HERE = dirname(fileURLToPath(import.meta.url))
const built = buildAll()
const cases = built.map((b) => ({ name: b.file, d: b.dashboard }))

/** Grafana's built-in variables and the ClickHouse plugin's macros: every other `$name` must be a dashboard variable. */
const BUILTINS = new Set([
  '__interval', '__interval_ms', '__rate_interval', '__range', '__range_s', '__from', '__to', '__data', '__field', '__value', '__url_time_range', '__series',
  '__timeFilter', '__timeFilter_ms', '__fromTime', '__toTime', '__fromTime_ms', '__toTime_ms', '__timeInterval', '__timeInterval_ms', '__interval_s', '__conditionalAll',
])

function provisionedDatasources(): Array<{ uid: string; type: string }> {
  const file = readFileSync(join(HERE, 'provisioning', 'datasources', 'gpuscope.yaml'), 'utf8')
  return (parse(file) as { datasources: Array<{ uid: string; type: string }> }).datasources.map(({ uid, type }) => ({ uid, type }))
}

function datasourceRefs(d: Dashboard): Array<{ where: string; uid?: string; type?: string }> {
  const refs: Array<{ where: string; uid?: string; type?: string }> = []
  for (const p of panelsOf(d)) if (p.datasource) refs.push({ where: `${p.title} (panel)`, ...p.datasource })
  for (const q of queriesOf(d)) refs.push({ where: `${q.panel.title} / ${q.refId}`, uid: q.uid, type: q.type })
  for (const v of variablesOf(d)) if (v.datasource) refs.push({ where: `variable ${v.name}`, ...v.datasource })
  return refs
}

function referencedNames(text: string): string[] {
  return [...text.matchAll(/\$(\w+)|\$\{(\w+)[^}]*\}|\[\[(\w+)/g)].map((m) => (m[1] ?? m[2] ?? m[3]) as string)
}

describe('the built dashboards', () => {
  it('are the committed dist/*.json, layout/*.svg and docs/dashboards.md, byte for byte (npm run dashboards is up to date)', () => {
    expect(staleFiles()).toEqual([])
  })

  it.each(cases)('$name: is the SDK builders\' output (every field of the SDK\'s Dashboard, its schemaVersion) and says it is generated', ({ name, d }) => {
    const sdk = defaultDashboard()
    for (const key of Object.keys(sdk)) expect(d, key).toHaveProperty(key)
    expect(d.schemaVersion).toBe(sdk.schemaVersion)
    const json = readFileSync(join(HERE, 'dist', `${name}.json`), 'utf8')
    expect(json).toBe(dashboardJson(d))
    expect(json.split('\n')[1]).toMatch(/^ {2}"description": "Generated from dashboards\/\w+\.ts by `npm run dashboards`: do not edit this JSON by hand\./)
  })

  it.each(cases)('$name: every panel, query and variable uses a provisioned data source (uid and type)', ({ d }) => {
    const known = provisionedDatasources()
    expect(known.map((k) => k.uid).sort()).toEqual(Object.values(DATASOURCE_UIDS).sort())
    for (const ref of datasourceRefs(d)) expect(known, ref.where).toContainEqual({ uid: ref.uid, type: ref.type })
  })

  it.each(cases)('$name: every panel with queries names their data source itself (Grafana runs a panel\'s queries against it)', ({ d }) => {
    for (const p of panelsOf(d)) {
      const targets = queriesOf(d).filter((q) => q.panel === p)
      if (targets.length === 0) continue
      for (const q of targets) expect(p.datasource, p.title).toEqual({ type: q.type, uid: q.uid })
    }
  })

  it.each(cases)('$name: every $variable in queries, titles and links is defined or a Grafana / plugin built-in', ({ d }) => {
    const defined = new Set(variablesOf(d).map((v) => v.name))
    for (const { where, text } of interpolatedStrings(d)) {
      for (const name of referencedNames(text)) expect(defined.has(name) || BUILTINS.has(name), `${where}: $${name}`).toBe(true)
    }
  })

  it.each(cases)('$name: links lead to gpuscope dashboards that exist, carrying time and variables', ({ d }) => {
    const uids = new Set<string>(Object.values(UIDS))
    expect(d.tags).toContain(GPUSCOPE_TAG)
    expect(d.links?.some((l) => l.type === 'dashboards' && l.tags.includes(GPUSCOPE_TAG) && l.keepTime && l.includeVars)).toBe(true)
    const urls = interpolatedStrings(d).filter((s) => s.where.includes('/ link')).map((s) => s.text).concat((d.links ?? []).map((l) => l.url ?? ''))
    for (const url of urls.filter((u) => u.startsWith('/d/'))) expect(uids, url).toContain(/^\/d\/([\w-]+)/.exec(url)?.[1])
  })

  it.each(cases)('$name: every panel has a unique id, a description and a unit; every stat sets its thresholds', ({ d }) => {
    const ids = gridOf(d).map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const p of panelsOf(d)) {
      expect(p.description, p.title).toBeTruthy()
      if (p.type !== 'text') expect(p.fieldConfig?.defaults.unit, p.title).toBeTruthy()
      if (p.type === 'stat') expect(p.fieldConfig?.defaults.thresholds?.steps.length, p.title).toBeGreaterThan(0)
    }
  })

  it.each(cases)('$name: panels fit the 24-column grid without overlapping', ({ d }) => {
    const boxes = gridOf(d).map((p) => ({ title: p.title, ...(p.gridPos ?? { x: -1, y: -1, w: 0, h: 0 }) }))
    for (const b of boxes) expect(b.x >= 0 && b.w > 0 && b.x + b.w <= 24, b.title).toBe(true)
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
        expect(overlap, `${a.title} / ${b.title}`).toBe(false)
      }
    }
  })

  it.each(cases)('$name: ClickHouse time series are format 0 (time series) and tables and stats format 1', ({ d }) => {
    for (const q of queriesOf(d).filter((q) => q.type === 'grafana-clickhouse-datasource')) {
      expect(q.format, q.panel.title).toBe(q.panel.type === 'timeseries' ? 0 : 1)
    }
  })

  it('have distinct uids and titles, matching the UIDS the links use', () => {
    expect(built.map((b) => b.dashboard.uid).sort()).toEqual(Object.values(UIDS).sort())
    expect(new Set(built.map((b) => b.dashboard.title)).size).toBe(built.length)
  })

  it('are loaded by a file provider over dist/ (dashboards/provisioning/dashboards)', () => {
    const file = parse(readFileSync(join(HERE, 'provisioning', 'dashboards', 'gpuscope.yaml'), 'utf8')) as { providers: Array<{ type: string; options: { path: string } }> }
    expect(file.providers).toEqual([expect.objectContaining({ type: 'file', options: expect.objectContaining({ path: '${GPUSCOPE_DASHBOARDS_DIR}' }) })])
  })
})
