/**
 * Pod log search in Elasticsearch with the official client
 * (`@elastic/elasticsearch` 8.19: it speaks REST compatibility 8, which
 * Elasticsearch 8 and 9 both accept). Field names and the index pattern come
 * from config (ECS / Filebeat defaults). Paging is `search_after` on
 * (timestamp, tiebreaker); the cursor carries the last hit's sort values.
 */
import { readFileSync } from 'node:fs'
import type { Client } from '@elastic/elasticsearch'
import type { ElasticsearchConfig, LogFields } from '../../config/elasticsearch'
import { maskUrlCredentials, REDACTED } from '../../config/redact'
import { decodeCursor, encodeCursor, type LogLine, type LogPage, type LogQuery, type LogReader } from './types'

/** Exact hit counts stop here; beyond it Elasticsearch reports a lower bound, which is all a pager needs. */
const TRACK_TOTAL_HITS = 10_000
/** One retry on a connection error; a dead cluster must not hold the request for several timeouts. */
const MAX_RETRIES = 1

interface Hit {
  _source?: unknown
  sort?: unknown[]
}

/** Reads a field from a document whose keys may be nested objects (`{kubernetes: {pod: {name}}}`) or dotted (`"kubernetes.pod.name"`). */
export function fieldOf(doc: unknown, path: string): unknown {
  if (path === '' || typeof doc !== 'object' || doc === null) return undefined
  const obj = doc as Record<string, unknown>
  if (path in obj) return obj[path]
  const parts = path.split('.')
  for (let i = parts.length - 1; i > 0; i--) {
    const head = parts.slice(0, i).join('.')
    if (head in obj) {
      const found = fieldOf(obj[head], parts.slice(i).join('.'))
      if (found !== undefined) return found
    }
  }
  return undefined
}

/** The search request for one page (the client's 8.x parameter shape: no `body`). */
export function searchRequest(config: ElasticsearchConfig, query: LogQuery, after: unknown[] | undefined) {
  const f = config.fields
  const filter: object[] = [
    { terms: { [f.pod]: [...query.pods] } },
    { term: { [f.namespace]: query.namespace } },
    { range: { [f.timestamp]: { gte: query.fromMs, lt: query.toMs, format: 'epoch_millis' } } },
  ]
  if (f.cluster) filter.push({ term: { [f.cluster]: query.cluster } })
  const must = query.q ? [{ simple_query_string: { query: query.q, fields: [f.message], default_operator: 'and' } }] : []
  return {
    index: config.index,
    size: query.limit,
    ignore_unavailable: true,
    allow_no_indices: true,
    track_total_hits: TRACK_TOTAL_HITS,
    _source: [f.timestamp, f.pod, f.container, f.message].filter((x) => x !== ''),
    query: { bool: { filter, must } },
    sort: [{ [f.timestamp]: { order: query.order } }, { [f.tiebreaker]: { order: query.order, unmapped_type: 'long' } }],
    ...(after ? { search_after: after } : {}),
  }
}

/** One hit as a log line; the time is the hit's first sort value (epoch ms), else the parsed timestamp field. */
export function toLine(hit: Hit, fields: LogFields): LogLine {
  const src = hit._source
  const sorted = hit.sort?.[0]
  const raw = fieldOf(src, fields.timestamp)
  const tsMs = typeof sorted === 'number' ? sorted : typeof raw === 'string' ? Date.parse(raw) : Number.NaN
  const text = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v))
  return { tsMs, pod: text(fieldOf(src, fields.pod)), container: text(fieldOf(src, fields.container)), message: text(fieldOf(src, fields.message)) }
}

/** What went wrong, in one line: for an error answer its HTTP status, error type and reason, else the client's message. */
export function describeError(err: unknown): string {
  const e = err as { message?: unknown; meta?: { statusCode?: unknown; body?: { error?: { type?: unknown; reason?: unknown } } } }
  const status = e?.meta?.statusCode
  const detail = e?.meta?.body?.error
  if (typeof status === 'number' && typeof detail?.type === 'string') {
    return `HTTP ${status} ${detail.type}${typeof detail.reason === 'string' ? `: ${detail.reason}` : ''}`
  }
  return err instanceof Error ? err.message : String(err)
}

/** An error message safe to show: configured secrets and URL credentials masked. */
export function scrub(message: string, config: Pick<ElasticsearchConfig, 'apiKey' | 'password'>): string {
  let out = maskUrlCredentials(message)
  for (const secret of [config.apiKey, config.password]) if (secret) out = out.split(secret).join(REDACTED)
  return out.split('\n')[0] ?? ''
}

async function connect(config: ElasticsearchConfig): Promise<Client> {
  const { Client } = await import('@elastic/elasticsearch')
  const auth = config.apiKey ? { apiKey: config.apiKey } : config.username ? { username: config.username, password: config.password } : undefined
  return new Client({
    node: config.url,
    ...(auth ? { auth } : {}),
    requestTimeout: config.timeoutMs,
    maxRetries: MAX_RETRIES,
    ...(config.caFile ? { tls: { ca: readFileSync(config.caFile) } } : {}),
  })
}

/**
 * A LogReader over Elasticsearch. The client is built on first use and
 * reused; a failed search (unreachable, refused, timed out, not
 * Elasticsearch) is a warning with no lines.
 */
export function createElasticsearchReader(config: ElasticsearchConfig): LogReader & { close(): Promise<void> } {
  let client: Promise<Client> | undefined
  const getClient = (): Promise<Client> => {
    if (!client) {
      const pending = connect(config)
      // A client that could not be built (unreadable caFile) is retried on the next search.
      pending.catch(() => {
        if (client === pending) client = undefined
      })
      client = pending
    }
    return client
  }
  const reader = async (query: LogQuery): Promise<LogPage> => {
    const after = query.cursor ? (decodeCursor(query.cursor, 'elasticsearch') as { after: unknown[] }).after : undefined
    const page: LogPage = { source: 'elasticsearch', lines: [], nextCursor: null, warnings: [] }
    if (query.pods.length === 0) return page
    try {
      const res = await (await getClient()).search(searchRequest(config, query, after))
      const hits = res.hits.hits as Hit[]
      page.lines = hits.map((h) => toLine(h, config.fields))
      const last = hits[hits.length - 1]
      if (hits.length === query.limit && last?.sort) page.nextCursor = encodeCursor({ source: 'elasticsearch', after: last.sort as Array<string | number> })
      if (res.timed_out) page.warnings.push('Elasticsearch: the search timed out on some shards; lines may be missing')
      if (res._shards.failed > 0) page.warnings.push(`Elasticsearch: ${res._shards.failed} of ${res._shards.total} shards failed; lines may be missing`)
    } catch (err) {
      page.warnings.push(`Elasticsearch search of '${config.index}' failed: ${scrub(describeError(err), config)}`)
    }
    return page
  }
  return Object.assign(reader, {
    close: async () => {
      const c = client
      client = undefined
      if (c) await (await c).close()
    },
  })
}
