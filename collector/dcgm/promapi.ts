import { z } from 'zod'
import { UpstreamError } from '../../core/errors'
import type { GpuSample } from '../../core/model'
import { DCGM_METRIC_NAMES } from './fields'
import { toGpuSamples, type DcgmScrapeContext, type DcgmSeries } from './parse'

/**
 * The Prometheus HTTP API side of the dcgm collector, kept pure: the PromQL
 * it sends, and the decoding of `/api/v1/query` answers into DcgmSeries and
 * GpuSamples. IO lives in prometheus.ts.
 */

/**
 * The one query over every DCGM series gpuscope stores. With `lookbackS` it
 * is a range selector (`...[60s]`): still an instant query, but the answer is
 * a matrix holding each raw sample with the time Prometheus scraped it, so
 * every scrape becomes a row with its real time and none is counted twice.
 * Without it, an instant vector stamped with the evaluation time.
 */
export function dcgmQuery(lookbackS?: number): string {
  const selector = `{__name__=~"${DCGM_METRIC_NAMES.join('|')}"}`
  return lookbackS === undefined ? selector : `${selector}[${Math.max(1, Math.ceil(lookbackS))}s]`
}

const labelsSchema = z.record(z.string(), z.string())
const pointSchema = z.tuple([z.number(), z.string()])
const okSchema = z.object({
  status: z.literal('success'),
  data: z.discriminatedUnion('resultType', [
    z.object({ resultType: z.literal('vector'), result: z.array(z.object({ metric: labelsSchema, value: pointSchema })) }),
    z.object({ resultType: z.literal('matrix'), result: z.array(z.object({ metric: labelsSchema, values: z.array(pointSchema) })) }),
    z.object({ resultType: z.enum(['scalar', 'string']), result: z.unknown() }),
  ]),
  warnings: z.array(z.string()).optional(),
})
const errorSchema = z.object({ status: z.literal('error'), errorType: z.string().optional(), error: z.string().optional() })

/** Decoded answer of an instant query: one DcgmSeries per (series, sample), plus Prometheus' own warnings. */
export interface PromQueryResult {
  series: DcgmSeries[]
  warnings: string[]
}

/**
 * Decodes an `/api/v1/query` JSON body. Sample values are strings in the API
 * (`"NaN"`, `"+Inf"` included) and times are float seconds. Throws an
 * UpstreamError for an error envelope or a shape that is not a vector/matrix.
 */
export function parsePromQueryResponse(body: unknown): PromQueryResult {
  const failed = errorSchema.safeParse(body)
  if (failed.success) throw new UpstreamError(`Prometheus query failed: ${failed.data.errorType ?? 'error'}: ${failed.data.error ?? 'no message'}`)
  const parsed = okSchema.safeParse(body)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new UpstreamError(`Prometheus answer is not a query result: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`)
  }
  const { data, warnings = [] } = parsed.data
  const series: DcgmSeries[] = []
  if (data.resultType === 'vector') {
    for (const r of data.result) series.push(point(r.metric, r.value))
  } else if (data.resultType === 'matrix') {
    for (const r of data.result) for (const p of r.values) series.push(point(r.metric, p))
  } else {
    throw new UpstreamError(`Prometheus answered a ${data.resultType}, not a vector or matrix`)
  }
  return { series, warnings }
}

function point(metric: Record<string, string>, [tsS, raw]: [number, string]): DcgmSeries {
  const { __name__: name = '', ...labels } = metric
  return { name, labels, value: promValue(raw), tsMs: Math.round(tsS * 1000) }
}

/** Prometheus' float text: Go spells infinities `+Inf`/`-Inf`, which Number() does not read. */
function promValue(raw: string): number {
  if (raw === '+Inf') return Infinity
  if (raw === '-Inf') return -Infinity
  const n = Number(raw)
  return raw.trim() === '' ? NaN : n
}

/**
 * Maps decoded series to GpuSamples: one row per GPU or MIG instance per
 * scrape time (every series of one Prometheus scrape shares its timestamp).
 */
export function promSeriesToGpuSamples(series: readonly DcgmSeries[], ctx: Omit<DcgmScrapeContext, 'tsMs'>): GpuSample[] {
  const byTs = new Map<number, DcgmSeries[]>()
  for (const s of series) {
    const ts = s.tsMs ?? 0
    const group = byTs.get(ts)
    if (group) group.push(s)
    else byTs.set(ts, [s])
  }
  const out: GpuSample[] = []
  for (const ts of [...byTs.keys()].sort((a, b) => a - b)) {
    out.push(...toGpuSamples(byTs.get(ts) ?? [], { ...ctx, tsMs: ts }))
  }
  return out
}

/** Node name for a series without Hostname: a relabelled `node` label, else the scrape target's host. */
export function nodeFromTargetLabels(labels: Readonly<Record<string, string>>): string {
  if (labels.node) return labels.node
  const instance = labels.instance ?? ''
  return instance.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1')
}
