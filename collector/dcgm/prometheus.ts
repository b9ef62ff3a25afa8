import type { DcgmConfig, DcgmPrometheusConfig } from '../../config/dcgm'
import { maskUrlCredentials } from '../../config/redact'
import { UpstreamError } from '../../core/errors'
import type { GpuSample } from '../../core/model'
import type { CollectorDeps, PollResult, PollSource } from '../source'
import { httpGetText } from './http'
import { PendingRows } from './pending'

/** A look-back window of every DCGM series of a large fleet is tens of MiB of JSON; past this the query should be split. */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024
import { dcgmQuery, nodeFromTargetLabels, parsePromQueryResponse, promSeriesToGpuSamples } from './promapi'

/** Options for one read of DCGM series through a Prometheus. */
export interface PromReadOptions {
  signal: AbortSignal
  timeoutMs: number
  /** How far back the range selector reaches; undefined sends a plain instant vector query. */
  lookbackS?: number | undefined
}

/** What one read returned: the rows, and Prometheus' own warnings. */
export interface PromRead {
  samples: GpuSample[]
  warnings: string[]
}

/**
 * Runs the DCGM query against a Prometheus (`GET <url>/api/v1/query`) and
 * maps the answer. The query is evaluated at Prometheus' own clock, so a skew
 * between the two hosts cannot make samples vanish.
 */
export async function readDcgmFromPrometheus(prom: DcgmPrometheusConfig, opts: PromReadOptions): Promise<PromRead> {
  const base = prom.url.endsWith('/') ? prom.url : `${prom.url}/`
  const url = new URL('api/v1/query', base)
  url.searchParams.set('query', dcgmQuery(opts.lookbackS))
  const headers: Record<string, string> = { accept: 'application/json' }
  if (prom.token) headers.authorization = `Bearer ${prom.token}`
  const res = await httpGetText(url.toString(), { signal: opts.signal, timeoutMs: opts.timeoutMs, headers, maxBytes: MAX_ANSWER_BYTES })
  let body: unknown
  try {
    body = JSON.parse(res.body)
  } catch {
    throw new UpstreamError(`Prometheus ${maskUrlCredentials(prom.url)}: HTTP ${res.status}, body is not JSON`)
  }
  // Error statuses (400 bad_data, 422, 503) carry the API's error envelope: decode it for the message.
  const { series, warnings } = parsePromQueryResponse(body)
  const samples = promSeriesToGpuSamples(series, {
    cluster: prom.cluster,
    clusterFromLabel: true,
    node: nodeFromTargetLabels,
    exporterPod: new RegExp(prom.exporterPodPattern),
  })
  return { samples, warnings }
}

/**
 * Remembers the newest sample time per GPU so overlapping look-back windows
 * store each scrape once. Entries for GPUs not seen for `forgetMs` are pruned,
 * which keeps the map as large as the fleet, not its history.
 */
export class SeenSamples {
  private readonly last = new Map<string, number>()

  constructor(private readonly forgetMs: number) {}

  /** Records sample times already stored (read back from the store after a restart). */
  seed(stored: ReadonlyArray<{ cluster: string; gpuUuid: string; migInstance: number | null | undefined; tsMs: number }>): void {
    for (const s of stored) {
      const key = seenKey(s)
      if (s.tsMs > (this.last.get(key) ?? -Infinity)) this.last.set(key, s.tsMs)
    }
  }

  /** The samples newer than any stored for their GPU, recording them as seen. */
  fresh(samples: readonly GpuSample[]): GpuSample[] {
    const out: GpuSample[] = []
    let newest = -Infinity
    for (const s of samples) {
      const key = seenKey(s)
      newest = Math.max(newest, s.tsMs)
      if (s.tsMs <= (this.last.get(key) ?? -Infinity)) continue
      this.last.set(key, s.tsMs)
      out.push(s)
    }
    for (const [key, ts] of this.last) if (ts < newest - this.forgetMs) this.last.delete(key)
    return out
  }
}

const seenKey = (s: { cluster: string; gpuUuid: string; migInstance?: number | null | undefined }): string => `${s.cluster}\u0000${s.gpuUuid}\u0000${s.migInstance ?? ''}`

/** Newest stored sample per GPU of a cluster since a time: what a restarted reader has already written. */
const STORED_SINCE = `SELECT gpu_uuid AS gpuUuid, mig_instance AS migInstance, toUnixTimestamp64Milli(max(ts)) AS tsMs
FROM gpu_samples WHERE cluster = {cluster:String} AND ts >= fromUnixTimestamp64Milli({sinceMs:Int64})
GROUP BY gpu_uuid, mig_instance`

/**
 * The poll source that reads DCGM series from a Prometheus
 * (`dcgm-prometheus/<cluster>`). Each poll looks back two intervals, so a
 * late or jittered poll misses no scrape, and stores only samples newer than
 * the last one stored for each GPU.
 */
export function prometheusSource(prom: DcgmPrometheusConfig, config: DcgmConfig, deps: CollectorDeps): PollSource {
  const pending = new PendingRows(config.maxPendingRows)
  const lookbackS = Math.ceil((2 * config.intervalMs) / 1000)
  const seen = new SeenSamples(10 * lookbackS * 1000)
  let seeded = false
  return {
    kind: 'poll',
    name: `dcgm-prometheus/${prom.cluster}`,
    intervalMs: config.intervalMs,
    timeoutMs: config.intervalMs,
    async poll(_nowMs: number, signal: AbortSignal): Promise<PollResult> {
      const read = await readDcgmFromPrometheus(prom, { signal, timeoutMs: config.timeoutMs, lookbackS })
      const seedWarning = seeded ? undefined : await seedFromStore(seen, prom.cluster, deps, lookbackS)
      seeded = seedWarning === undefined
      const rows = seen.fresh(read.samples)
      const { stored, dropped } = await pending.flush(rows, deps.sinks.gpuSamples)
      const warnings = read.warnings.map((w) => `Prometheus warning: ${w}`)
      if (seedWarning) warnings.push(seedWarning)
      if (dropped > 0) warnings.push(`dropped ${dropped} GPU sample(s): the store was unavailable and more than maxPendingRows waited`)
      if (read.samples.length === 0) warnings.push(`Prometheus ${maskUrlCredentials(prom.url)} holds no DCGM series from the last ${lookbackS}s`)
      return warnings.length ? { rows: stored, warnings } : { rows: stored }
    },
  }
}

/**
 * After a restart the first look-back overlaps what the previous process
 * stored: read the newest stored sample per GPU so it is not stored twice.
 * A failed read is a warning (retried next poll); the poll still stores, so a
 * store hiccup risks a duplicate, never a loss.
 */
async function seedFromStore(seen: SeenSamples, cluster: string, deps: CollectorDeps, lookbackS: number): Promise<string | undefined> {
  try {
    const rows = await deps.query<{ gpuUuid: string; migInstance: number | null; tsMs: number | string }>(STORED_SINCE, { cluster, sinceMs: deps.now() - 2 * lookbackS * 1000 })
    seen.seed(rows.map((r) => ({ cluster, gpuUuid: r.gpuUuid, migInstance: r.migInstance, tsMs: Number(r.tsMs) })))
    return undefined
  } catch (err) {
    return `could not read the samples already stored for ${cluster} (a restart may store its first look-back twice): ${(err as Error).message}`
  }
}
