import pLimit from 'p-limit'
import type { DcgmConfig, DcgmTarget } from '../../config/dcgm'
import { maskUrlCredentials } from '../../config/redact'
import { UpstreamError } from '../../core/errors'
import type { GpuSample } from '../../core/model'
import type { CollectorDeps, PollResult, PollSource } from '../source'
import { httpGetText } from './http'
import { parseDcgmScrape } from './parse'
import { PendingRows } from './pending'

/** The exposition format dcgm-exporter serves; asking for it keeps an OpenMetrics-capable proxy from switching formats. */
const ACCEPT = 'text/plain;version=0.0.4;q=0.9,*/*;q=0.1'

/** One exporter's scrape: its samples, or why there are none. */
export type TargetResult = { target: DcgmTarget; ok: true; samples: GpuSample[] } | { target: DcgmTarget; ok: false; error: string }

/**
 * Scrapes one exporter: GET with the poll's signal and the configured timeout,
 * then maps the body. A non-2xx answer or a body that is not Prometheus text
 * is an error; tsMs is the time the body arrived.
 */
export async function scrapeTarget(target: DcgmTarget, timeoutMs: number, signal: AbortSignal, now: () => number): Promise<GpuSample[]> {
  const res = await httpGetText(target.url, { signal, timeoutMs, headers: { accept: ACCEPT } })
  if (res.status < 200 || res.status > 299) {
    throw new UpstreamError(`GET ${maskUrlCredentials(target.url)}: HTTP ${res.status} ${res.statusText}`.trim())
  }
  const node = target.node || new URL(target.url).hostname
  return parseDcgmScrape(res.body, { cluster: target.cluster, node, tsMs: now() })
}

/**
 * The poll source for one cluster's static exporters (`dcgm/<cluster>`). Each
 * poll scrapes every target concurrently (bounded by `concurrency`), stores
 * the rows of those that answered, and names the others in warnings. It
 * fails when every target failed, or when the store refused the rows (they
 * are kept for the next poll).
 */
export function exporterSource(cluster: string, targets: readonly DcgmTarget[], config: DcgmConfig, deps: CollectorDeps): PollSource {
  const pending = new PendingRows(config.maxPendingRows)
  const limit = pLimit(config.concurrency)
  return {
    kind: 'poll',
    name: `dcgm/${cluster}`,
    intervalMs: config.intervalMs,
    // Scrapes queue behind `concurrency`; the poll as a whole may take up to its interval.
    timeoutMs: config.intervalMs,
    async poll(_nowMs: number, signal: AbortSignal): Promise<PollResult> {
      const results = await Promise.all(
        targets.map((target) =>
          limit(async (): Promise<TargetResult> => {
            try {
              return { target, ok: true, samples: await scrapeTarget(target, config.timeoutMs, signal, deps.now) }
            } catch (err) {
              return { target, ok: false, error: (err as Error).message }
            }
          }),
        ),
      )
      return storeResults(cluster, results, pending, deps)
    },
  }
}

/** Stores what the scrapes produced and turns failures into warnings, or into an error when nothing answered. */
async function storeResults(cluster: string, results: TargetResult[], pending: PendingRows, deps: CollectorDeps): Promise<PollResult> {
  const failed = results.filter((r): r is Extract<TargetResult, { ok: false }> => !r.ok)
  const rows = results.flatMap((r) => (r.ok ? r.samples : []))
  const { stored, dropped } = await pending.flush(rows, deps.sinks.gpuSamples)
  const warnings = failed.map((f) => `exporter ${maskUrlCredentials(f.target.url)} (cluster ${cluster}) failed: ${f.error}; no rows for it this poll`)
  if (dropped > 0) warnings.push(`dropped ${dropped} GPU sample(s): the store was unavailable and more than maxPendingRows waited`)
  for (const r of results) {
    if (r.ok && r.samples.length === 0) warnings.push(`exporter ${maskUrlCredentials(r.target.url)} (cluster ${cluster}) answered with no DCGM GPU series`)
  }
  if (results.length > 0 && failed.length === results.length) {
    throw new UpstreamError(`all ${failed.length} exporter(s) of cluster ${cluster} failed: ${failed.map((f) => f.error).join('; ')}`)
  }
  return warnings.length ? { rows: stored, warnings } : { rows: stored }
}
