/**
 * A loopback Elasticsearch that answers `POST /{index}/_search` the way a real
 * 8.x/9.x node does on the wire: JSON in, JSON out with the
 * `x-elastic-product: Elasticsearch` header the official client checks on
 * every answer, REST-compatibility content type, `_shards` and `hits` with
 * `sort` values for search_after. It evaluates the subset of the query DSL the
 * log reader sends (bool filter of terms / term / range on epoch_millis,
 * simple_query_string with default_operator AND, sort on two fields,
 * search_after, size) over Filebeat-shaped documents held in memory. Failure
 * modes reproduce real error bodies.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A recorded request: what the client sent. */
export interface EsRequest {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: any
}

/** How the fake misbehaves, if at all. */
export type EsMode = 'ok' | 'unauthorized' | 'index_not_found' | 'not_elasticsearch' | 'shard_failure'

/** A running fake: its URL, the documents it serves, and every request it saw. */
export interface FakeElasticsearch {
  url: string
  docs: any[]
  requests: EsRequest[]
  mode: EsMode
  close(): Promise<void>
}

/** A Filebeat/ECS log document for a pod's container. */
export function filebeatDoc(o: { tsMs: number; namespace: string; pod: string; container: string; message: string; offset: number }): any {
  return {
    '@timestamp': new Date(o.tsMs).toISOString(),
    message: o.message,
    log: { offset: o.offset, file: { path: `/var/log/containers/${o.pod}_${o.namespace}_${o.container}-0123abcd.log` } },
    stream: 'stdout',
    kubernetes: { namespace: o.namespace, pod: { name: o.pod, uid: `uid-${o.pod}` }, container: { name: o.container }, node: { name: 'n1' } },
    ecs: { version: '8.0.0' },
    agent: { type: 'filebeat', version: '8.15.0' },
  }
}

const get = (doc: any, path: string): unknown => path.split('.').reduce((o, k) => (o === undefined || o === null ? undefined : o[k]), doc)

function sortValue(doc: any, field: string): number {
  const v = get(doc, field)
  if (field === '@timestamp') return Date.parse(String(v))
  return typeof v === 'number' ? v : Number.NEGATIVE_INFINITY
}

function matches(doc: any, clause: any): boolean {
  if (clause.terms) {
    const [field, values] = Object.entries(clause.terms)[0] as [string, unknown[]]
    return values.includes(get(doc, field))
  }
  if (clause.term) {
    const [field, value] = Object.entries(clause.term)[0] as [string, unknown]
    return get(doc, field) === value
  }
  if (clause.range) {
    const [field, r] = Object.entries(clause.range)[0] as [string, { gte?: number; lt?: number }]
    const t = sortValue(doc, field)
    return (r.gte === undefined || t >= r.gte) && (r.lt === undefined || t < r.lt)
  }
  if (clause.simple_query_string) {
    const { query, fields } = clause.simple_query_string as { query: string; fields: string[] }
    const text = fields.map((f) => String(get(doc, f) ?? '')).join(' ').toLowerCase()
    return query.toLowerCase().split(/\s+/).filter(Boolean).every((w) => text.includes(w))
  }
  throw new Error(`fake elasticsearch: unsupported clause ${JSON.stringify(clause)}`)
}

function search(docs: any[], body: any) {
  const bool = body.query?.bool ?? {}
  const hits = docs.filter((d) => [...(bool.filter ?? []), ...(bool.must ?? [])].every((c: any) => matches(d, c)))
  const sorts = (body.sort ?? []).map((s: any) => {
    const [field, spec] = Object.entries(s)[0] as [string, { order: 'asc' | 'desc' }]
    return { field, dir: spec.order === 'desc' ? -1 : 1 }
  })
  const key = (d: any) => sorts.map((s: { field: string }) => sortValue(d, s.field))
  const cmp = (a: number[], b: number[]) => {
    for (let i = 0; i < sorts.length; i++) if (a[i] !== b[i]) return sorts[i].dir * ((a[i] as number) - (b[i] as number))
    return 0
  }
  hits.sort((a, b) => cmp(key(a), key(b)))
  const after: number[] | undefined = body.search_after
  const rest = after ? hits.filter((d) => cmp(key(d), after) > 0) : hits
  const page = rest.slice(0, body.size ?? 10)
  return {
    total: hits.length,
    hits: page.map((d) => ({ _index: '.ds-filebeat-8.15.0-2026.06.10-000001', _id: `id-${get(d, 'log.offset')}-${get(d, 'kubernetes.pod.name')}`, _score: null, _source: d, sort: key(d).map((v: number) => (Number.isFinite(v) ? v : Number.MIN_SAFE_INTEGER)) })),
  }
}

function reply(res: ServerResponse, status: number, body: unknown, product = true): void {
  const headers: Record<string, string> = { 'content-type': 'application/vnd.elasticsearch+json;compatible-with=8' }
  if (product) headers['x-elastic-product'] = 'Elasticsearch'
  res.writeHead(status, headers).end(JSON.stringify(body))
}

const errorBody = (type: string, reason: string, status: number) => ({ error: { root_cause: [{ type, reason }], type, reason }, status })

function answer(fake: FakeElasticsearch, req: EsRequest, res: ServerResponse): void {
  if (!/\/_search$/.test(req.path.split('?')[0] ?? '')) return reply(res, 404, errorBody('illegal_argument_exception', `no handler found for uri [${req.path}]`, 404))
  if (fake.mode === 'unauthorized') return reply(res, 401, errorBody('security_exception', 'unable to authenticate with provided credentials and anonymous access is not allowed for this request', 401))
  if (fake.mode === 'index_not_found') return reply(res, 404, errorBody('index_not_found_exception', 'no such index [logs-missing]', 404))
  const { total, hits } = search(fake.docs, req.body)
  const failed = fake.mode === 'shard_failure' ? 1 : 0
  const body = { took: 3, timed_out: false, _shards: { total: 2, successful: 2 - failed, skipped: 0, failed }, hits: { total: { value: total, relation: 'eq' }, max_score: null, hits } }
  reply(res, 200, body, fake.mode !== 'not_elasticsearch')
}

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export async function startFakeElasticsearch(docs: any[] = []): Promise<FakeElasticsearch> {
  let server: Server | undefined
  const fake: FakeElasticsearch = {
    url: '',
    docs,
    requests: [],
    mode: 'ok',
    close: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  }
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const recorded: EsRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : undefined }
      fake.requests.push(recorded)
      answer(fake, recorded, res)
    })
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()))
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return fake
}
