import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import type { SourceHealth } from '../collector/health'
import type { WriterStats } from '../store/writer'

/** The /metrics registry: process metrics plus gpuscope_* series. */
export interface Metrics {
  registry: Registry
  httpRequests: Counter<'method' | 'route' | 'status'>
}

/** Where the scrape-time series read their values. */
export interface MetricSources {
  writerStats: () => WriterStats[]
  collectorHealth: () => SourceHealth[]
  /** Whether this process holds the scheduler Lease; undefined = no leader election here (the series is left out). */
  schedulerLeader?: () => boolean | undefined
}

type Labelled = Record<string, string>

/**
 * Builds a fresh registry (never the global one, so tests and several apps in
 * one process do not collide) with Node process metrics, the store writers'
 * counters and collector health, all read at scrape time.
 */
export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  // prom-client exports these gauges with a `_total` suffix, which promtool's lint rejects
  // (only counters may end in _total); the same values remain as nodejs_active_{handles,requests,resources}.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)
  new Gauge({
    name: 'gpuscope_scheduler_leader',
    help: '1 while this process holds the scheduler Lease and may act (leader election), else 0.',
    registers: [registry],
    collect() {
      const leader = sources.schedulerLeader?.()
      if (leader === undefined) this.reset()
      else this.set(leader ? 1 : 0)
    },
  })
  const httpRequests = new Counter({
    name: 'gpuscope_http_requests_total',
    help: 'HTTP requests answered, by method, route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  })

  const counter = mirroredCounter(registry)
  const gauge = scrapeGauge(registry)
  const byTable = (pick: (s: WriterStats) => number | undefined) => () => sources.writerStats().map((s) => [{ table: s.table }, pick(s)] as const)
  counter('gpuscope_store_rows_written_total', 'Rows stored by the batching writers.', 'table', byTable((s) => s.rowsWritten))
  counter('gpuscope_store_rows_failed_total', 'Rows whose insert failed after every retry (reported, never silently dropped).', 'table', byTable((s) => s.rowsFailed))
  counter('gpuscope_store_insert_retries_total', 'Insert attempts that failed and were retried.', 'table', byTable((s) => s.retries))
  gauge('gpuscope_store_queued_rows', 'Rows waiting in the batching writers.', 'table', byTable((s) => s.queuedRows))
  gauge('gpuscope_store_last_success_timestamp_seconds', 'Unix time of the last successful insert per table.', 'table', byTable((s) => seconds(s.lastSuccessMs)))

  const bySource = (pick: (h: SourceHealth) => number | undefined) => () => sources.collectorHealth().map((h) => [{ source: h.source }, pick(h)] as const)
  counter('gpuscope_collector_runs_total', 'Collector polls (or stream batches) completed, successful or not.', 'source', bySource((h) => h.runs))
  counter('gpuscope_collector_errors_total', 'Collector polls (or stream errors) that failed.', 'source', bySource((h) => h.errors))
  counter('gpuscope_collector_rows_total', 'Rows a collector source handed to the store.', 'source', bySource((h) => h.rowsWritten))
  gauge('gpuscope_collector_last_success_timestamp_seconds', 'Unix time of the last successful poll per source.', 'source', bySource((h) => seconds(h.lastSuccessMs)))
  gauge('gpuscope_collector_last_duration_seconds', 'Duration of the last poll per source.', 'source', bySource((h) => seconds(h.lastDurationMs)))
  return { registry, httpRequests }
}

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000)

/** A counter that follows a monotonic count kept elsewhere: each scrape adds what changed since the last one. */
function mirroredCounter(registry: Registry) {
  return (name: string, help: string, label: string, read: () => ReadonlyArray<readonly [Labelled, number | undefined]>) => {
    const seen = new Map<string, number>()
    return new Counter({
      name, help, labelNames: [label], registers: [registry],
      collect() {
        for (const [labels, value] of read()) {
          if (value === undefined) continue
          const key = JSON.stringify(labels)
          this.inc(labels, Math.max(0, value - (seen.get(key) ?? 0)))
          seen.set(key, value)
        }
      },
    })
  }
}

/** A gauge set from current values at scrape time; an undefined value (never happened) is left out, not reported as 0. */
function scrapeGauge(registry: Registry) {
  return (name: string, help: string, label: string, read: () => ReadonlyArray<readonly [Labelled, number | undefined]>) =>
    new Gauge({
      name, help, labelNames: [label], registers: [registry],
      collect() {
        this.reset()
        for (const [labels, value] of read()) if (value !== undefined) this.set(labels, value)
      },
    })
}
