import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../api/app'
import { createMetrics } from '../api/metrics'
import { workloadId } from '../api/routes/workloads'
import { elasticsearchSchema } from '../config/elasticsearch'
import { kubernetesClusterSchema } from '../config/kubernetes'
import type { Config } from '../config/schema'
import type { WorkloadInterval } from '../core/model'
import { filebeatDoc, startFakeElasticsearch, type FakeElasticsearch } from './fakes/elasticsearch'
import { openTestStore, silentLogger, type TestStore } from './helpers/store'

const NOW = Date.UTC(2026, 5, 10, 12, 0, 0)
const MIN = 60_000
const HOUR = 60 * MIN
const iso = (ms: number) => new Date(ms).toISOString()
const API_KEY = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=='
const KUBE_TOKEN = 'kube-token-0123456789abcdef'

const interval = (podUid: string, pod: string, workloadName: string, startMs: number, endMs?: number): WorkloadInterval => ({
  cluster: 'c1', podUid, namespace: 'ml', pod, workloadKind: 'Job', workloadName, team: 'vision', project: '', user: 'ada', node: 'n1', gpus: 1,
  gpuResource: 'nvidia.com/gpu', createdMs: startMs, startMs, endMs, lastSeenMs: NOW, phase: endMs === undefined ? 'Running' : 'Succeeded',
})

const TRAIN = workloadId({ cluster: 'c1', namespace: 'ml', kind: 'Job', name: 'train' })

/** train-p1 and train-p2 log one line a minute for 10 minutes (p2 logs "loss" on even minutes); other-0 and a namesake in another namespace must never show. */
function docs() {
  const out = []
  for (let i = 0; i < 10; i++) {
    const tsMs = NOW - HOUR + i * MIN
    out.push(filebeatDoc({ tsMs, namespace: 'ml', pod: 'train-p1', container: 'main', message: `step ${i} ok`, offset: 100 + i }))
    out.push(filebeatDoc({ tsMs: tsMs + 1_000, namespace: 'ml', pod: 'train-p2', container: 'main', message: i % 2 === 0 ? `step ${i} loss=0.${i}` : `step ${i} ok`, offset: 200 + i }))
    out.push(filebeatDoc({ tsMs, namespace: 'ml', pod: 'other-0', container: 'main', message: 'not mine', offset: 300 + i }))
    out.push(filebeatDoc({ tsMs, namespace: 'nlp', pod: 'train-p1', container: 'main', message: 'not mine either', offset: 400 + i }))
  }
  return out
}

let ts: TestStore
let es: FakeElasticsearch
const servers: Server[] = []

async function startApp(over: Partial<Config>): Promise<string> {
  const config = { ...ts.config, ...over } as Config
  const app = createApp({
    logger: silentLogger,
    metrics: createMetrics({ writerStats: () => [], collectorHealth: () => [] }),
    readiness: async () => [],
    version: 'test',
    routes: { query: ts.store.query, config, logger: silentLogger, now: () => NOW },
  })
  const server = app.listen(0, '127.0.0.1')
  servers.push(server)
  await new Promise<void>((r) => server.once('listening', () => r()))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`
}

async function get(url: string): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(url)
  const text = await res.text()
  return { status: res.status, text, body: (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : undefined }
}

beforeAll(async () => {
  ts = await openTestStore()
  const written = ts.writers.sinks.workloadIntervals.write([
    interval('u1', 'train-p1', 'train', NOW - 2 * HOUR, NOW - 30 * MIN),
    interval('u2', 'train-p2', 'train', NOW - 90 * MIN),
    interval('u3', 'other-0', 'other', NOW - 2 * HOUR),
  ])
  await ts.writers.flush()
  await written
  es = await startFakeElasticsearch(docs())
})

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
  await es?.close()
  await ts?.close()
})

describe('GET /api/v1/workloads/:id/logs from Elasticsearch', () => {
  let base: string
  beforeAll(async () => {
    base = await startApp({ elasticsearch: elasticsearchSchema.parse({ url: es.url, apiKey: API_KEY }) })
  })

  it("returns the workload's pods' lines newest first, with the client's wire headers and an ECS query", async () => {
    es.requests.length = 0
    const { status, body } = await get(`${base}/workloads/${TRAIN}/logs?limit=3`)
    expect(status).toBe(200)
    expect(body.warnings).toEqual([])
    expect(body.data).toMatchObject({ source: 'elasticsearch', from: iso(NOW - 2 * HOUR), to: iso(NOW) })
    expect(body.data.lines).toEqual([
      { time: iso(NOW - HOUR + 9 * MIN + 1_000), pod: 'train-p2', container: 'main', message: 'step 9 ok' },
      { time: iso(NOW - HOUR + 9 * MIN), pod: 'train-p1', container: 'main', message: 'step 9 ok' },
      { time: iso(NOW - HOUR + 8 * MIN + 1_000), pod: 'train-p2', container: 'main', message: 'step 8 loss=0.8' },
    ])
    const req = es.requests[0]!
    expect(req.method).toBe('POST')
    expect(req.path.startsWith('/filebeat-*/_search')).toBe(true)
    expect(req.headers.authorization).toBe(`ApiKey ${API_KEY}`)
    expect(req.headers['content-type']).toBe('application/vnd.elasticsearch+json; compatible-with=8')
    expect(req.body.query.bool.filter).toEqual([
      { terms: { 'kubernetes.pod.name': ['train-p1', 'train-p2'] } },
      { term: { 'kubernetes.namespace': 'ml' } },
      { range: { '@timestamp': { gte: NOW - 2 * HOUR, lt: NOW, format: 'epoch_millis' } } },
    ])
  })

  it('pages with search_after until nextCursor is null, never repeating or skipping a line', async () => {
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const { body }: { body: any } = await get(`${base}/workloads/${TRAIN}/logs?limit=7&order=asc${cursor ? `&cursor=${cursor}` : ''}`)
      seen.push(...body.data.lines.map((l: any) => `${l.pod}@${l.time}`))
      cursor = body.data.nextCursor
      pages++
    } while (cursor && pages < 10)
    expect(pages).toBe(3)
    expect(seen).toHaveLength(20)
    expect(new Set(seen).size).toBe(20)
    expect(seen[0]).toBe(`train-p1@${iso(NOW - HOUR)}`)
  })

  it.each([
    { name: 'text', q: 'q=loss', want: ['step 8 loss=0.8', 'step 6 loss=0.6', 'step 4 loss=0.4', 'step 2 loss=0.2', 'step 0 loss=0.0'] },
    { name: 'time range (RFC 3339)', q: `from=${iso(NOW - HOUR + 8 * MIN)}&to=${iso(NOW - HOUR + 9 * MIN)}`, want: ['step 8 loss=0.8', 'step 8 ok'] },
    { name: 'time range (duration before now)', q: 'from=51m&q=ok', want: ['step 9 ok', 'step 9 ok'] },
  ])('filters by $name', async ({ q, want }) => {
    const { body } = await get(`${base}/workloads/${TRAIN}/logs?${q}`)
    expect(body.data.lines.map((l: any) => l.message)).toEqual(want)
  })

  it('answers CSV', async () => {
    const { text } = await get(`${base}/workloads/${TRAIN}/logs?limit=1&format=csv`)
    expect(text).toBe(`time,pod,container,message\n${iso(NOW - HOUR + 9 * MIN + 1_000)},train-p2,main,step 9 ok\n`)
  })

  it.each([
    { mode: 'unauthorized' as const, want: "Elasticsearch search of 'filebeat-*' failed: HTTP 401 security_exception: unable to authenticate with provided credentials and anonymous access is not allowed for this request" },
    { mode: 'index_not_found' as const, want: "Elasticsearch search of 'filebeat-*' failed: HTTP 404 index_not_found_exception: no such index [logs-missing]" },
    { mode: 'not_elasticsearch' as const, want: "Elasticsearch search of 'filebeat-*' failed: The client noticed that the server is not Elasticsearch and we do not support this unknown product." },
    { mode: 'shard_failure' as const, want: 'Elasticsearch: 1 of 2 shards failed; lines may be missing' },
  ])('an Elasticsearch failure ($mode) is a warning in a 200 answer, without the API key', async ({ mode, want }) => {
    es.mode = mode
    try {
      const { status, text, body } = await get(`${base}/workloads/${TRAIN}/logs`)
      expect(status).toBe(200)
      expect(body.warnings).toEqual([want])
      if (mode !== 'shard_failure') expect(body.data.lines).toEqual([])
      expect(text).not.toContain(API_KEY)
    } finally {
      es.mode = 'ok'
    }
  })

  it('an unreachable Elasticsearch is a warning too', async () => {
    const closed = await startFakeElasticsearch()
    await closed.close()
    const url = await startApp({ elasticsearch: elasticsearchSchema.parse({ url: closed.url, username: 'elastic', password: 'pw-0123456789', timeoutMs: 2_000 }) })
    const { status, body, text } = await get(`${url}/workloads/${TRAIN}/logs`)
    expect(status).toBe(200)
    expect(body.data.lines).toEqual([])
    expect(body.warnings[0]).toMatch(/^Elasticsearch search of 'filebeat-\*' failed: /)
    expect(text).not.toContain('pw-0123456789')
  })

  it.each([
    { name: 'garbage cursor', q: 'cursor=***', want: 'bad cursor: not a cursor this API issued; pass the nextCursor of the previous page unchanged' },
    { name: 'cursor of the Kubernetes source', q: `cursor=${Buffer.from('{"s":"k8s","o":5}').toString('base64url')}`, want: 'bad cursor: it was not issued for elasticsearch logs; pass the nextCursor of the previous page unchanged' },
    { name: 'bad from', q: 'from=yesterday', want: "bad from 'yesterday': expected an RFC 3339 time like 2026-07-01T00:00:00Z or a duration before now like 1h" },
    { name: 'from after to', q: 'from=1h&to=2h', want: `bad range: from (${iso(NOW - HOUR)}) must be before to (${iso(NOW - 2 * HOUR)})` },
    { name: 'limit too large', q: 'limit=5000', want: 'bad query: limit: Too big: expected number to be <=1000' },
  ])('400 for $name with the exact message', async ({ q, want }) => {
    const { status, body } = await get(`${base}/workloads/${TRAIN}/logs?${q}`)
    expect(status).toBe(400)
    expect(body).toEqual({ status: 'error', error: { type: 'bad_input', message: want } })
  })

  it('404 for an unknown workload', async () => {
    const id = workloadId({ cluster: 'c1', namespace: 'ml', kind: 'Job', name: 'nope' })
    const { status, body } = await get(`${base}/workloads/${id}/logs`)
    expect(status).toBe(404)
    expect(body.error.message).toBe("no workload Job 'nope' in namespace 'ml' of cluster 'c1'")
  })
})

/** A loopback pod log endpoint: train-p2 has two containers; train-p1 is gone (404 Status). */
async function startFakePodLogs(seen: IncomingMessage[]): Promise<{ url: string; server: Server }> {
  const status404 = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'pods "train-p1" not found', reason: 'NotFound', code: 404 })
  const lines = (container: string) =>
    [0, 1, 2].map((i) => `${new Date(NOW - 10 * MIN + i * MIN + (container === 'sidecar' ? 500 : 0)).toISOString().replace('Z', '123456Z')} ${container} line ${i}`).join('\n') + '\n'
  const server = createServer((req, res) => {
    seen.push(req)
    const url = new URL(req.url ?? '', 'http://x')
    if (url.pathname === '/api/v1/namespaces/ml/pods/train-p2') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Pod', metadata: { name: 'train-p2' }, spec: { containers: [{ name: 'main' }, { name: 'sidecar' }] } }))
    } else if (url.pathname === '/api/v1/namespaces/ml/pods/train-p2/log') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(lines(url.searchParams.get('container') ?? ''))
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end(status404)
    }
  })
  server.listen(0, '127.0.0.1')
  await new Promise<void>((r) => server.once('listening', () => r()))
  servers.push(server)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

describe('GET /api/v1/workloads/:id/logs from the Kubernetes pod log API (no Elasticsearch)', () => {
  let base: string
  const seen: IncomingMessage[] = []
  beforeAll(async () => {
    const kube = await startFakePodLogs(seen)
    const cluster = kubernetesClusterSchema.parse({ name: 'c1', server: kube.url, token: KUBE_TOKEN, insecureSkipTlsVerify: true })
    base = await startApp({ collector: { ...ts.config.collector, kubernetes: { ...ts.config.collector.kubernetes, clusters: [cluster] } } })
  })

  it('merges every container of every pod newest first, and warns about pods that are gone', async () => {
    const { status, body } = await get(`${base}/workloads/${TRAIN}/logs?limit=4`)
    expect(status).toBe(200)
    expect(body.data.source).toBe('kubernetes')
    expect(body.data.lines.map((l: any) => [l.time, l.container, l.message])).toEqual([
      [iso(NOW - 8 * MIN + 500), 'sidecar', 'sidecar line 2'],
      [iso(NOW - 8 * MIN), 'main', 'main line 2'],
      [iso(NOW - 9 * MIN + 500), 'sidecar', 'sidecar line 1'],
      [iso(NOW - 9 * MIN), 'main', 'main line 1'],
    ])
    expect(body.warnings).toEqual(["pod 'train-p1' no longer exists, and the Kubernetes API keeps logs only for existing pods (configure elasticsearch for older logs)"])
    const logCall = seen.find((r) => r.url?.includes('/log?'))!
    const params = new URL(logCall.url ?? '', 'http://x').searchParams
    expect(Object.fromEntries(params)).toMatchObject({ timestamps: 'true', tailLines: '5000', sinceTime: '2026-06-10T10:00:00Z' })
    expect(logCall.headers.authorization).toBe(`Bearer ${KUBE_TOKEN}`)
    expect(JSON.stringify(body)).not.toContain(KUBE_TOKEN)
  })

  it('pages with a cursor and filters text', async () => {
    const first = await get(`${base}/workloads/${TRAIN}/logs?limit=4&order=asc&q=LINE`)
    expect(first.body.data.lines).toHaveLength(4)
    const second = await get(`${base}/workloads/${TRAIN}/logs?limit=4&order=asc&q=LINE&cursor=${first.body.data.nextCursor}`)
    expect(second.body.data.lines.map((l: any) => l.message)).toEqual(['main line 2', 'sidecar line 2'])
    expect(second.body.data.nextCursor).toBeNull()
  })

  it('warns when the workload cluster is not configured', async () => {
    const url = await startApp({})
    const { status, body } = await get(`${url}/workloads/${TRAIN}/logs`)
    expect(status).toBe(200)
    expect(body.data.lines).toEqual([])
    expect(body.warnings).toEqual(["logs unavailable: elasticsearch is not configured and cluster 'c1' is not in collector.kubernetes.clusters"])
  })
})
