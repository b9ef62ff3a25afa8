/**
 * The gpuscope dashboards, one module each. `build.ts` renders them to
 * dist/; tests and the docs read them from here.
 */
import type { Dashboard, DashboardBuilder, Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard'
import { collectorsDashboard } from './collectors'
import { fleetDashboard } from './fleet'
import { forecastDashboard } from './forecast'
import { idleDashboard } from './idle'
import { teamsDashboard } from './teams'
import { workloadDashboard } from './workload'

/** One dashboard: the module it is written in (its file name in dist/ too) and its builder. */
export interface DashboardSource {
  /** Module name under dashboards/ and JSON name under dashboards/dist/. */
  file: string
  builder: () => DashboardBuilder
}

/** Every dashboard, in the order the docs list them. */
export const DASHBOARDS: readonly DashboardSource[] = [
  { file: 'fleet', builder: fleetDashboard },
  { file: 'teams', builder: teamsDashboard },
  { file: 'idle', builder: idleDashboard },
  { file: 'workload', builder: workloadDashboard },
  { file: 'forecast', builder: forecastDashboard },
  { file: 'collectors', builder: collectorsDashboard },
]

/**
 * Builds a dashboard with the SDK, then fills what its builders leave to the
 * caller: panel and row ids 1..n in layout order (Grafana needs them unique
 * for links and edit state), and each panel's data source from its queries
 * (Grafana runs a panel's queries against the panel's data source, the
 * default one when unset; the migration that used to copy it from the
 * targets does not run at the SDK's schemaVersion).
 */
export function buildDashboard(source: DashboardSource): Dashboard {
  const d = source.builder().build()
  let id = 0
  for (const p of d.panels ?? []) {
    p.id = ++id
    if (p.type !== 'row') setPanelDatasource(p as Panel)
    else for (const inner of (p as RowPanel).panels) inner.id = ++id
  }
  return d
}

function setPanelDatasource(p: Panel): void {
  const refs = (p.targets ?? []).map((t) => (t as { datasource?: Panel['datasource'] }).datasource).filter((r) => r !== undefined)
  if (refs.length === 0) return
  const uids = new Set(refs.map((r) => r?.uid))
  p.datasource = uids.size === 1 ? { ...refs[0] } : { type: 'datasource', uid: '-- Mixed --' }
}
