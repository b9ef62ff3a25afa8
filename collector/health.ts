import type { HealthReporter, Source } from './source'

/** What collector health knows about one source. */
export interface SourceHealth {
  source: string
  runs: number
  errors: number
  rowsWritten: number
  lastSuccessMs: number | undefined
  lastErrorMs: number | undefined
  lastError: string | undefined
  lastDurationMs: number | undefined
  staleAfterMs: number
}

/** Minimum staleness window, so a 15 s source is not stale after one slow scrape. */
const MIN_STALE_MS = 60_000

/**
 * Per-source health: runs, errors, rows, last success. /metrics exports it and
 * /readyz names any source that has not succeeded within its staleness window.
 */
export class CollectorHealth {
  private readonly bySource = new Map<string, SourceHealth>()

  constructor(private readonly now: () => number = Date.now) {}

  /** Registers a source and returns the reporter it (or the scheduler) calls. */
  register(source: Source): HealthReporter {
    const staleAfterMs = source.kind === 'poll' ? Math.max(MIN_STALE_MS, 3 * source.intervalMs + source.timeoutMs) : source.staleAfterMs
    const h: SourceHealth = {
      source: source.name, runs: 0, errors: 0, rowsWritten: 0, lastSuccessMs: undefined, lastErrorMs: undefined, lastError: undefined,
      lastDurationMs: undefined, staleAfterMs,
    }
    this.bySource.set(source.name, h)
    return {
      success: (rows, durationMs) => {
        h.runs++
        h.rowsWritten += rows
        h.lastSuccessMs = this.now()
        if (durationMs !== undefined) h.lastDurationMs = durationMs
      },
      failure: (err, durationMs) => {
        h.runs++
        h.errors++
        h.lastErrorMs = this.now()
        h.lastError = err instanceof Error ? err.message : String(err)
        if (durationMs !== undefined) h.lastDurationMs = durationMs
      },
    }
  }

  /** A copy of every source's health. */
  snapshot(): SourceHealth[] {
    return [...this.bySource.values()].map((h) => ({ ...h }))
  }

  /** Problems for /readyz: sources with no success within their window (counted from `sinceMs` for new ones). */
  problems(sinceMs: number): string[] {
    const now = this.now()
    const out: string[] = []
    for (const h of this.bySource.values()) {
      const last = h.lastSuccessMs ?? sinceMs
      if (now - last > h.staleAfterMs) {
        const why = h.lastError ? `; last error: ${h.lastError}` : ''
        out.push(`collector ${h.source}: no success for ${Math.round((now - last) / 1000)}s${why}`)
      }
    }
    return out
  }
}
