/**
 * Fleet gauges on /metrics, for Grafana through Prometheus:
 *
 *   gpuscope_capacity_gpus{cluster,pool,gpu_model}          allocatable GPUs on Ready, schedulable nodes
 *   gpuscope_allocated_gpus{cluster,pool,gpu_model,team}    GPUs held by running pods
 *   gpuscope_pending_gpus{cluster,team}                     GPUs requested by pods not scheduled yet
 *   gpuscope_utilization_ratio{cluster,pool,gpu_model,team} mean utilization of allocated GPUs, last 5 min
 *   gpuscope_idle_workloads{cluster,team}                   running workloads idle, stuck or hung (core/idleMachine.ts, as /api/v1/idle);
 *                                                           0 for every cluster and team with running work, so "none idle" has series
 *
 * Values come from the store and are refreshed on a timer (default every
 * 30 s), never per scrape, so a scrape only copies numbers already in memory.
 * Until the first refresh succeeds the gauges have no series (unknown, not 0);
 * after a failed refresh they keep the last values and
 * gpuscope_fleet_metrics_last_refresh_timestamp_seconds says how old they are.
 *
 * Cardinality cap: each gauge exports at most `maxSeries` series (default
 * DEFAULT_MAX_SERIES = 100). Beyond that the largest label sets are kept
 * (by value for GPU counts and idle counts, by GPUs averaged for utilization)
 * and the rest are folded into one series whose every label is `__other__`:
 * summed for counts, GPU-weighted mean for utilization. Totals therefore stay
 * exact. Labels are bounded by construction: cluster, pool and gpu_model come
 * from node state, team from the collector's team label.
 */
import { assessRunning, type AssessedWorkload } from './routes/idle'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { IdleConfig } from '../config/idle'
import { IDLE_CLASS } from '../core/idleMachine'
import type { Logger, QueryFn } from '../core/ports'
import { fleetSnapshot, type FleetSnapshot, type GaugeRow } from '../store/queries/gauges'

/** Series per gauge before the rest are folded into `__other__`. */
export const DEFAULT_MAX_SERIES = 100
/** Label value of the folded series. */
export const OTHER = '__other__'
const DEFAULT_REFRESH_MS = 30_000
const DEFAULT_UTIL_WINDOW_MS = 5 * 60_000

/** What the gauges read: the store, a logger, the clock and the idle thresholds. */
export interface FleetMetricsDeps {
  query: QueryFn
  logger: Logger
  now: () => number
  idle: IdleConfig
}

/** Tuning; every field has a default. */
export interface FleetMetricsOptions {
  refreshMs?: number
  maxSeries?: number
  utilWindowMs?: number
}


/**
 * Idle-class workloads (idle, stuck, hung; warned and stopped included)
 * counted by cluster and team, with a 0 for every cluster and team that runs
 * a workload or holds GPUs and for every cluster with capacity (team '' when
 * it has no other series): "none idle" is a 0, so sum() and alerts can tell it
 * from an exporter that stopped exporting (no series at all).
 */
function idleRows(assessed: readonly AssessedWorkload[], allocated: readonly GaugeRow[], capacity: readonly GaugeRow[]): GaugeRow[] {
  const counts = new Map<string, GaugeRow>()
  const rowOf = (cluster: string, team: string): GaugeRow => {
    const key = JSON.stringify([cluster, team])
    const row = counts.get(key) ?? { labels: { cluster, team }, value: 0, weight: 1 }
    counts.set(key, row)
    return row
  }
  for (const { workload: w, assessment: a } of assessed) {
    const row = rowOf(w.cluster, w.team)
    if (IDLE_CLASS.has(a.verdict)) row.value++
  }
  for (const { labels } of allocated) rowOf(labels.cluster ?? '', labels.team ?? '')
  const seen = new Set([...counts.values()].map((r) => r.labels.cluster))
  for (const { labels } of capacity) if (!seen.has(labels.cluster)) rowOf(labels.cluster ?? '', '')
  return [...counts.values()]
}

/** The refresher: `start()` refreshes at once and then on the timer; `refresh()` runs one (tests call it directly); `stop()` ends the timer and waits for a refresh in flight, so the store can close after it. */
export interface FleetMetrics {
  refresh(): Promise<void>
  start(): void
  stop(): Promise<void>
}

type Combine = 'sum' | 'mean'

/**
 * Keeps at most `max` rows: the largest (by value when summing, by weight for
 * means), and one `__other__` row that folds the rest exactly. Ties are
 * broken by labels so the kept set does not flap between refreshes.
 */
export function capSeries(rows: readonly GaugeRow[], max: number, combine: Combine): GaugeRow[] {
  if (rows.length <= max) return [...rows]
  const size = (r: GaugeRow) => (combine === 'sum' ? r.value : r.weight)
  const key = (r: GaugeRow) => JSON.stringify(r.labels)
  const sorted = [...rows].sort((a, b) => size(b) - size(a) || (key(a) < key(b) ? -1 : 1))
  const kept = sorted.slice(0, Math.max(0, max - 1))
  const rest = sorted.slice(kept.length)
  const weight = rest.reduce((s, r) => s + r.weight, 0)
  const value = combine === 'sum' ? rest.reduce((s, r) => s + r.value, 0) : rest.reduce((s, r) => s + r.value * r.weight, 0) / weight
  const labels = Object.fromEntries(Object.keys(rest[0]?.labels ?? {}).map((l) => [l, OTHER]))
  return [...kept, { labels, value, weight }]
}

type Rows = FleetSnapshot & { idle: GaugeRow[] }

interface GaugeDef {
  key: keyof Rows
  name: string
  help: string
  labels: string[]
  combine: Combine
}

const GAUGES: GaugeDef[] = [
  { key: 'capacity', name: 'gpuscope_capacity_gpus', help: 'Allocatable GPUs on Ready, schedulable nodes (MIG slices count as their fraction of a GPU).', labels: ['cluster', 'pool', 'gpu_model'], combine: 'sum' },
  { key: 'allocated', name: 'gpuscope_allocated_gpus', help: 'GPUs requested by pods bound to a node and not finished.', labels: ['cluster', 'pool', 'gpu_model', 'team'], combine: 'sum' },
  { key: 'pending', name: 'gpuscope_pending_gpus', help: 'GPUs requested by pods that are not scheduled yet.', labels: ['cluster', 'team'], combine: 'sum' },
  {
    key: 'utilization',
    name: 'gpuscope_utilization_ratio',
    help: 'Mean utilization (0..1) of allocated GPUs over the last minutes: DCGM_FI_PROF_GR_ENGINE_ACTIVE where profiling metrics exist, else DCGM_FI_DEV_GPU_UTIL/100.',
    labels: ['cluster', 'pool', 'gpu_model', 'team'],
    combine: 'mean',
  },
  { key: 'idle', name: 'gpuscope_idle_workloads', help: 'Running workloads judged idle, stuck or hung by the idle policy (missing samples make a workload unknown, never idle).', labels: ['cluster', 'team'], combine: 'sum' },
]

/** Registers the fleet gauges (and their refresh health) on the registry and returns their refresher. */
export function registerFleetMetrics(registry: Registry, deps: FleetMetricsDeps, opts: FleetMetricsOptions = {}): FleetMetrics {
  const maxSeries = opts.maxSeries ?? DEFAULT_MAX_SERIES
  const gauges = GAUGES.map((def) => ({ def, gauge: new Gauge({ name: def.name, help: def.help, labelNames: def.labels, registers: [registry] }) }))
  const lastRefresh = new Gauge({ name: 'gpuscope_fleet_metrics_last_refresh_timestamp_seconds', help: 'Unix time of the last successful refresh of the fleet gauges.', registers: [registry] })
  const failures = new Counter({ name: 'gpuscope_fleet_metrics_refresh_failures_total', help: 'Refreshes of the fleet gauges that failed (the gauges keep their last values).', registers: [registry] })
  let inFlight: Promise<void> | undefined
  let timer: NodeJS.Timeout | undefined

  const refreshOnce = async (): Promise<void> => {
    const nowMs = deps.now()
    try {
      const [gauged, idle] = await Promise.all([fleetSnapshot(deps.query, nowMs, opts.utilWindowMs ?? DEFAULT_UTIL_WINDOW_MS), assessRunning(deps.query, deps.idle, nowMs)])
      if (idle.warnings.length) deps.logger.warn({ warnings: idle.warnings }, 'fleet metrics: idle evidence incomplete')
      const snapshot: Rows = { ...gauged, idle: idleRows(idle.assessed, gauged.allocated, gauged.capacity) }
      // Reset and set in one synchronous pass: a scrape never sees a half-updated gauge.
      for (const { def, gauge } of gauges) {
        gauge.reset()
        for (const row of capSeries(snapshot[def.key], maxSeries, def.combine)) gauge.set(row.labels, row.value)
      }
      lastRefresh.set(nowMs / 1000)
    } catch (err) {
      failures.inc()
      deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'fleet metrics refresh failed; keeping the last values')
    }
  }
  const refresh = (): Promise<void> => {
    inFlight ??= refreshOnce().finally(() => {
      inFlight = undefined
    })
    return inFlight
  }
  return {
    refresh,
    start() {
      if (timer) return
      void refresh()
      timer = setInterval(() => void refresh(), opts.refreshMs ?? DEFAULT_REFRESH_MS)
      timer.unref()
    },
    async stop() {
      if (timer) clearInterval(timer)
      timer = undefined
      await inFlight
    },
  }
}
