import type { GpuSample } from '../../core/model'
import { parseExposition } from './exposition'
import { cleanValue, DCGM_FIELDS } from './fields'

/**
 * Pure mapping from dcgm-exporter series to GpuSample rows: one row per GPU,
 * or per MIG instance (UUID + GPU_I_ID), per scrape. The same mapping serves
 * a direct scrape and series read back from a Prometheus.
 */

/** One series value as either source sees it. */
export interface DcgmSeries {
  name: string
  labels: Readonly<Record<string, string>>
  value: number
  /** When the value was scraped; the context's `tsMs` when unknown. */
  tsMs?: number | undefined
}

/** Where a batch of series came from. */
export interface DcgmScrapeContext {
  cluster: string
  /** Node used when a series has no `Hostname`/`hostname` label (a function picks it from the series' other labels). */
  node: string | ((labels: Readonly<Record<string, string>>) => string)
  /** Scrape time, used for series that carry no time of their own. */
  tsMs: number
  /** Let a series' own `cluster` label win over `cluster` (federated Prometheus); off for direct scrapes. */
  clusterFromLabel?: boolean | undefined
  /**
   * Set when the series passed through a Prometheus whose target labels may
   * overwrite the exporter's `pod`: pods matching it are the exporter itself.
   */
  exporterPod?: RegExp | undefined
}

/** Parses one dcgm-exporter /metrics body into GpuSamples; throws an UpstreamError when the body is not Prometheus text. */
export function parseDcgmScrape(text: string, ctx: DcgmScrapeContext): GpuSample[] {
  return toGpuSamples(parseExposition(text), ctx)
}

/**
 * Folds DCGM series into one GpuSample per GPU or MIG instance. Series
 * without a `UUID` label (the exporter's own metrics) are ignored; a metric
 * that is absent, blank or implausible stays undefined (NULL), never 0.
 * A GPU shared by several pods (time-slicing) is attributed to the first pod
 * in namespace/pod/container order, so the choice is stable between scrapes.
 */
export function toGpuSamples(series: Iterable<DcgmSeries>, ctx: DcgmScrapeContext): GpuSample[] {
  const byKey = new Map<string, GpuSample>()
  for (const s of series) {
    if (!s.name.startsWith('DCGM_FI_')) continue
    const uuid = s.labels.UUID
    if (!uuid) continue
    const migInstance = toUint(s.labels.GPU_I_ID)
    const key = `${uuid}\u0000${migInstance ?? ''}`
    const tsMs = s.tsMs ?? ctx.tsMs
    let row = byKey.get(key)
    if (!row) {
      row = identity(s.labels, uuid, migInstance, tsMs, ctx)
      byKey.set(key, row)
    } else {
      row.tsMs = Math.max(row.tsMs, tsMs)
      adoptWorkload(row, workloadOf(s.labels, ctx.exporterPod))
    }
    const field = DCGM_FIELDS[s.name]
    if (field && row[field.column] === undefined) row[field.column] = cleanValue(field, s.value)
  }
  return [...byKey.values()].sort(byPosition)
}

function identity(labels: Readonly<Record<string, string>>, uuid: string, migInstance: number | undefined, tsMs: number, ctx: DcgmScrapeContext): GpuSample {
  return {
    tsMs,
    cluster: (ctx.clusterFromLabel && labels.cluster) || ctx.cluster,
    node: labels.Hostname || labels.hostname || (typeof ctx.node === 'function' ? ctx.node(labels) : ctx.node),
    gpuUuid: uuid,
    gpuIndex: toUint(labels.gpu) ?? toUint(/^nvidia(\d+)$/.exec(labels.device ?? '')?.[1]) ?? 0,
    model: labels.modelName ?? '',
    migProfile: migInstance === undefined ? '' : (labels.GPU_I_PROFILE ?? ''),
    migInstance,
    ...workloadOf(labels, ctx.exporterPod),
  }
}

interface Workload {
  namespace: string
  pod: string
  container: string
}

const NO_WORKLOAD: Workload = { namespace: '', pod: '', container: '' }

/**
 * The workload pod a series is attributed to. Behind a Prometheus without
 * honor_labels the exporter's labels arrive as `exported_*`; a plain `pod`
 * that names the exporter itself is a target label, not a workload.
 */
function workloadOf(labels: Readonly<Record<string, string>>, exporterPod: RegExp | undefined): Workload {
  if (labels.exported_pod) {
    return { namespace: labels.exported_namespace ?? '', pod: labels.exported_pod, container: labels.exported_container ?? '' }
  }
  const pod = labels.pod ?? ''
  if (pod === '' || (exporterPod && exporterPod.test(pod))) return { ...NO_WORKLOAD }
  return { namespace: labels.namespace ?? '', pod, container: labels.container ?? '' }
}

function adoptWorkload(row: GpuSample, w: Workload): void {
  if (w.pod === '') return
  const current = `${row.namespace}\u0000${row.pod}\u0000${row.container}`
  const candidate = `${w.namespace}\u0000${w.pod}\u0000${w.container}`
  if (row.pod === '' || candidate < current) Object.assign(row, w)
}

/** GPU and MIG instance indexes are UInt8 columns: anything else is treated as absent rather than poisoning a batch insert. */
function toUint(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d{1,3}$/.test(raw)) return undefined
  const n = Number(raw)
  return n <= 255 ? n : undefined
}

function byPosition(a: GpuSample, b: GpuSample): number {
  return (
    a.cluster.localeCompare(b.cluster) ||
    a.node.localeCompare(b.node) ||
    a.gpuIndex - b.gpuIndex ||
    a.gpuUuid.localeCompare(b.gpuUuid) ||
    (a.migInstance ?? -1) - (b.migInstance ?? -1)
  )
}
