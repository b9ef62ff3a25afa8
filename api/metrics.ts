import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import type { WriterStats } from '../store/writer'

/** The /metrics registry: process metrics plus gpuscope_* series. */
export interface Metrics {
  registry: Registry
  httpRequests: Counter<'method' | 'route' | 'status'>
}

/**
 * Builds a fresh registry (never the global one, so tests and several apps in
 * one process do not collide) with Node process metrics and the store writers'
 * counters, read at scrape time.
 */
export function createMetrics(writerStats: () => WriterStats[]): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  // prom-client exports these gauges with a `_total` suffix, which promtool's lint rejects
  // (only counters may end in _total); the same values remain as nodejs_active_{handles,requests,resources}.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)
  const httpRequests = new Counter({
    name: 'gpuscope_http_requests_total',
    help: 'HTTP requests answered, by method, route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  })
  // Counters follow the writers' own monotonic counts: at scrape time each adds what was written since the last scrape.
  const perTableCounter = (name: string, help: string, pick: (s: WriterStats) => number) => {
    const seen = new Map<string, number>()
    return new Counter({
      name,
      help,
      labelNames: ['table'] as const,
      registers: [registry],
      collect() {
        for (const s of writerStats()) {
          const now = pick(s)
          const delta = now - (seen.get(s.table) ?? 0)
          seen.set(s.table, now)
          this.inc({ table: s.table }, Math.max(0, delta))
        }
      },
    })
  }
  const perTableGauge = (name: string, help: string, pick: (s: WriterStats) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['table'] as const,
      registers: [registry],
      collect() {
        this.reset()
        for (const s of writerStats()) {
          const v = pick(s)
          if (v !== undefined) this.set({ table: s.table }, v)
        }
      },
    })
  perTableCounter('gpuscope_store_rows_written_total', 'Rows stored by the batching writers.', (s) => s.rowsWritten)
  perTableCounter('gpuscope_store_rows_failed_total', 'Rows whose insert failed after every retry (reported, never silently dropped).', (s) => s.rowsFailed)
  perTableCounter('gpuscope_store_insert_retries_total', 'Insert attempts that failed and were retried.', (s) => s.retries)
  perTableGauge('gpuscope_store_queued_rows', 'Rows waiting in the batching writers.', (s) => s.queuedRows)
  perTableGauge('gpuscope_store_last_success_timestamp_seconds', 'Unix time of the last successful insert per table.', (s) =>
    s.lastSuccessMs === undefined ? undefined : s.lastSuccessMs / 1000,
  )
  return { registry, httpRequests }
}
