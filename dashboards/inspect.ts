/**
 * Reads a built dashboard back: its panels (rows flattened), every query with
 * the data source it goes to, its variables, and every string that Grafana
 * interpolates. Tests, the layout pictures and the docs read dashboards
 * through this, never through the builders.
 */
import type { Dashboard, Panel, RowPanel, VariableModel } from '@grafana/grafana-foundation-sdk/dashboard'
import { CLICKHOUSE_TYPE } from './common'

/** One query of one panel. */
export interface PanelQuery {
  panel: Panel
  refId: string
  /** Data source type: grafana-clickhouse-datasource or prometheus. */
  type: string
  uid: string
  /** rawSql or expr. */
  text: string
  /** ClickHouse result format (0 time series, 1 table); undefined for Prometheus. */
  format?: number
  /** Prometheus instant query. */
  instant?: boolean
}

type Target = Record<string, unknown> & { refId?: string; datasource?: { type?: string; uid?: string } }

/** Every panel, rows flattened (the panels of collapsed rows too), rows themselves left out. */
export function panelsOf(d: Dashboard): Panel[] {
  const out: Panel[] = []
  for (const p of d.panels ?? []) {
    if (p.type === 'row') out.push(...((p as RowPanel).panels ?? []))
    else out.push(p as Panel)
  }
  return out
}

/** Every panel and row with its grid position, in layout order. */
export function gridOf(d: Dashboard): Array<Panel | RowPanel> {
  return [...(d.panels ?? [])]
}

/** Every query of every panel, with its data source (the target's, else the panel's). */
export function queriesOf(d: Dashboard): PanelQuery[] {
  const out: PanelQuery[] = []
  for (const panel of panelsOf(d)) {
    for (const raw of (panel.targets ?? []) as unknown as Target[]) {
      const ds = raw.datasource ?? panel.datasource ?? {}
      const type = ds.type ?? ''
      const text = String(type === CLICKHOUSE_TYPE ? raw.rawSql ?? '' : raw.expr ?? '')
      out.push({
        panel, refId: raw.refId ?? 'A', type, uid: ds.uid ?? '', text,
        format: typeof raw.format === 'number' ? raw.format : undefined,
        instant: raw.instant === true,
      })
    }
  }
  return out
}

/** The dashboard's variables in definition (= dependency) order. */
export const variablesOf = (d: Dashboard): VariableModel[] => [...(d.templating.list ?? [])]

/** The SQL of a ClickHouse query variable (object or legacy string form); undefined for other variables. */
export function variableSql(v: VariableModel): string | undefined {
  if (v.type !== 'query' || v.datasource?.type !== CLICKHOUSE_TYPE) return undefined
  return typeof v.query === 'string' ? v.query : String((v.query as { rawSql?: string } | undefined)?.rawSql ?? '')
}

/** Every string Grafana interpolates variables into, with where it sits (for the undefined-variable check). */
export function interpolatedStrings(d: Dashboard): Array<{ where: string; text: string }> {
  const out: Array<{ where: string; text: string }> = []
  for (const q of queriesOf(d)) out.push({ where: `${q.panel.title} / ${q.refId}`, text: q.text })
  for (const v of variablesOf(d)) {
    const sql = variableSql(v)
    if (sql !== undefined) out.push({ where: `variable ${v.name}`, text: sql })
  }
  for (const p of panelsOf(d)) {
    out.push({ where: `${p.title} / title`, text: p.title ?? '' })
    const defaults = p.fieldConfig?.defaults
    if (defaults?.displayName) out.push({ where: `${p.title} / displayName`, text: defaults.displayName })
    for (const l of [...(p.links ?? []), ...(defaults?.links ?? [])]) out.push({ where: `${p.title} / link ${l.title}`, text: l.url ?? '' })
    for (const o of p.fieldConfig?.overrides ?? []) {
      for (const prop of o.properties) {
        if (prop.id === 'links') for (const l of prop.value as Array<{ title: string; url?: string }>) out.push({ where: `${p.title} / link ${l.title}`, text: l.url ?? '' })
      }
    }
  }
  return out
}

/** Field names a panel refers to: override matchers by name and `${__data.fields.x}` in links. */
export function referencedFields(p: Panel): string[] {
  const names = new Set<string>()
  for (const o of p.fieldConfig?.overrides ?? []) if (o.matcher.id === 'byName') names.add(String(o.matcher.options))
  const links = JSON.stringify([p.links ?? [], p.fieldConfig?.defaults?.links ?? [], p.fieldConfig?.overrides ?? []])
  for (const m of links.matchAll(/\$\{__data\.fields\.(\w+)/g)) names.add(m[1] as string)
  return [...names]
}
