/**
 * Pod logs from the Kubernetes API (`GET /api/v1/namespaces/{ns}/pods/{pod}/log`),
 * used when Elasticsearch is not configured. The API keeps logs only for pods
 * that still exist, and only what the node has not rotated away, so this is
 * a recent-lines view: each container's last TAIL_LINES lines since the start
 * of the range, filtered and paged here. Credentials come from the cluster's
 * config as for the collector; nothing here logs, so the token cannot leak.
 */
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http'
import { request as httpsRequest, type RequestOptions } from 'node:https'
import type { KubeConfig } from '@kubernetes/client-node'
import type { KubernetesClusterConfig } from '../../config/kubernetes'
import { loadKubeConfig } from '../kubernetes/client'
import type { KubeStatus } from '../kubernetes/types'
import { decodeCursor, encodeCursor, type LogLine, type LogPage, type LogQuery, type LogReader } from './types'

/** Lines read per container (the API's `tailLines`). */
export const TAIL_LINES = 5_000
/** Bytes read per container at most (the API's `limitBytes`). */
const LIMIT_BYTES = 8 * 1024 * 1024
/** Pods read per search, newest first: the API has no cross-pod search. */
export const MAX_PODS = 20
const REQUEST_TIMEOUT_MS = 30_000

interface Answer {
  status: number
  body: string
}

interface PodSpec {
  spec?: { containers?: Array<{ name: string }> }
}

/** GETs a path from the cluster's API server with its credentials; rejects only on network errors and timeouts. */
async function kubeGet(kc: KubeConfig, path: string, query: Record<string, string>): Promise<Answer> {
  const server = (kc.getCurrentCluster()?.server ?? '').replace(/\/+$/, '')
  const url = new URL(server + path)
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v)
  const opts: RequestOptions = {}
  await kc.applyToHTTPSOptions(opts)
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest
  const headers: OutgoingHttpHeaders = { ...(opts.headers as OutgoingHttpHeaders | undefined), accept: '*/*' }
  return new Promise<Answer>((resolve, reject) => {
    const req = send(url, { method: 'GET', agent: opts.agent, auth: opts.auth, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)))
    req.on('error', reject)
    req.end()
  })
}

/** The Status message of a failed answer (or the start of its body). */
function statusMessage(a: Answer): string {
  try {
    const message = (JSON.parse(a.body) as KubeStatus).message
    if (message) return `HTTP ${a.status}: ${message}`
  } catch {
    // not a Status object
  }
  return `HTTP ${a.status}${a.body ? `: ${a.body.slice(0, 200)}` : ''}`
}

/** Parses `timestamps=true` output: an RFC 3339 time (nanoseconds truncated to ms), a space, the line. */
export function parseLogText(text: string, pod: string, container: string): LogLine[] {
  const lines: LogLine[] = []
  for (const raw of text.split('\n')) {
    if (raw === '') continue
    const space = raw.indexOf(' ')
    const stamp = space > 0 ? raw.slice(0, space) : ''
    const tsMs = Date.parse(stamp.replace(/(\.\d{3})\d+/, '$1'))
    // A line the kubelet wrapped (a long line split at its buffer size) has no timestamp: it continues the previous one.
    if (Number.isNaN(tsMs)) {
      const prev = lines[lines.length - 1]
      if (prev) prev.message += raw
      continue
    }
    lines.push({ tsMs, pod, container, message: raw.slice(space + 1) })
  }
  return lines
}

/** Reads every container's recent lines of one pod; a pod or container that cannot be read adds a warning. */
async function readPod(kc: KubeConfig, query: LogQuery, pod: string, warnings: string[]): Promise<LogLine[]> {
  const base = `/api/v1/namespaces/${encodeURIComponent(query.namespace)}/pods/${encodeURIComponent(pod)}`
  const meta = await kubeGet(kc, base, {})
  if (meta.status === 404) {
    warnings.push(`pod '${pod}' no longer exists, and the Kubernetes API keeps logs only for existing pods (configure elasticsearch for older logs)`)
    return []
  }
  if (meta.status !== 200) {
    warnings.push(`pod '${pod}': ${statusMessage(meta)}`)
    return []
  }
  const containers = ((JSON.parse(meta.body) as PodSpec).spec?.containers ?? []).map((c) => c.name)
  const out: LogLine[] = []
  for (const container of containers) {
    const params = { container, timestamps: 'true', tailLines: String(TAIL_LINES), limitBytes: String(LIMIT_BYTES), sinceTime: new Date(query.fromMs).toISOString().replace(/\.\d{3}Z$/, 'Z') }
    const log = await kubeGet(kc, `${base}/log`, params)
    if (log.status !== 200) {
      warnings.push(`logs of pod '${pod}' container '${container}': ${statusMessage(log)}`)
      continue
    }
    const lines = parseLogText(log.body, pod, container)
    if (lines.length >= TAIL_LINES) warnings.push(`pod '${pod}' container '${container}': only its last ${TAIL_LINES} lines are read from the Kubernetes API`)
    out.push(...lines)
  }
  return out
}

/** Keeps the lines in [fromMs, toMs) that contain q (case-insensitive), in the asked order; ties keep pod, container and line order. */
export function selectLines(lines: readonly LogLine[], query: Pick<LogQuery, 'fromMs' | 'toMs' | 'q' | 'order'>): LogLine[] {
  const needle = query.q.toLowerCase()
  const kept = lines
    .map((line, i) => ({ line, i }))
    .filter(({ line }) => line.tsMs >= query.fromMs && line.tsMs < query.toMs && (needle === '' || line.message.toLowerCase().includes(needle)))
  const dir = query.order === 'asc' ? 1 : -1
  kept.sort((a, b) => dir * (a.line.tsMs - b.line.tsMs || a.i - b.i))
  return kept.map((k) => k.line)
}

/**
 * A LogReader over the Kubernetes pod log API of the configured clusters.
 * Reads the newest MAX_PODS pods (the query lists pods oldest first); every
 * failure is a warning with the lines that could be read.
 */
export function createPodLogReader(clusters: readonly KubernetesClusterConfig[]): LogReader {
  const configs = new Map<string, Promise<KubeConfig>>()
  return async (query: LogQuery): Promise<LogPage> => {
    const offset = query.cursor ? (decodeCursor(query.cursor, 'kubernetes') as { offset: number }).offset : 0
    const page: LogPage = { source: 'kubernetes', lines: [], nextCursor: null, warnings: [] }
    const cluster = clusters.find((c) => c.name === query.cluster)
    if (!cluster) {
      page.warnings.push(`logs unavailable: elasticsearch is not configured and cluster '${query.cluster}' is not in collector.kubernetes.clusters`)
      return page
    }
    const pods = query.pods.slice(-MAX_PODS)
    if (pods.length < query.pods.length) page.warnings.push(`only the newest ${MAX_PODS} of ${query.pods.length} pods are read from the Kubernetes API`)
    const all: LogLine[] = []
    try {
      let kc = configs.get(cluster.name)
      if (!kc) configs.set(cluster.name, (kc = loadKubeConfig(cluster)))
      const resolved = await kc
      for (const pod of pods) all.push(...(await readPod(resolved, query, pod, page.warnings)))
    } catch (err) {
      configs.delete(cluster.name)
      page.warnings.push(`Kubernetes pod log API of cluster '${cluster.name}' failed: ${err instanceof Error ? err.message : String(err)}`)
    }
    const selected = selectLines(all, query)
    page.lines = selected.slice(offset, offset + query.limit)
    if (offset + query.limit < selected.length) page.nextCursor = encodeCursor({ source: 'kubernetes', offset: offset + query.limit })
    return page
  }
}
