import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readDcgmFromPrometheus } from '../collector/dcgm/prometheus'
import { dcgmPrometheusSchema } from '../config/dcgm'
import { readDcgmFixture } from './fakes/exporter'

// The wire contract of the Prometheus reader against a loopback server that
// replays recorded /api/v1/query answers (the real server is covered in
// dcgm-prometheus.test.ts); here: the request it sends, and each kind of bad answer.
interface Seen {
  path: string
  query: string | null
  auth: string | undefined
}
const seen: Seen[] = []
let reply: { status: number; body: string } = { status: 200, body: '' }
let server: Server
let base = ''

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    seen.push({ path: url.pathname, query: url.searchParams.get('query'), auth: req.headers.authorization })
    res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((r) => server.close(() => r()))
})

const read = (over: Record<string, unknown> = {}) =>
  readDcgmFromPrometheus(dcgmPrometheusSchema.parse({ url: `${base}/prom`, cluster: 'eks', ...over }), {
    signal: new AbortController().signal,
    timeoutMs: 2_000,
    lookbackS: 30,
  })

describe('reading DCGM series from the Prometheus HTTP API', () => {
  it('sends one range-selector instant query under the URL prefix, with the bearer token, and maps the answer', async () => {
    reply = { status: 200, body: readDcgmFixture('aicr-prometheus-api-query-DCGM_FI_DEV_GPU_UTIL.json') }
    const { samples, warnings } = await read({ token: 's3cret' })
    expect(seen.at(-1)).toEqual({
      path: '/prom/api/v1/query',
      query: expect.stringMatching(/^\{__name__=~"DCGM_FI_PROF_GR_ENGINE_ACTIVE\|.*"\}\[30s\]$/),
      auth: 'Bearer s3cret',
    })
    expect(warnings).toEqual([])
    expect(samples).toHaveLength(16)
    expect(new Set(samples.map((s) => s.cluster))).toEqual(new Set(['eks']))
  })

  it('sends no Authorization header without a token', async () => {
    await read()
    expect(seen.at(-1)?.auth).toBeUndefined()
  })

  it.each([
    { name: 'an API error envelope (HTTP 400)', status: 400, body: '{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\""}', error: /Prometheus query failed: bad_data: invalid parameter "query"/ },
    { name: 'a proxy error page', status: 502, body: '<html>bad gateway</html>', error: /HTTP 502, body is not JSON/ },
    { name: 'JSON of another shape', status: 200, body: '{"data":[]}', error: /not a query result/ },
  ])('fails on $name', async ({ status, body, error }) => {
    reply = { status, body }
    await expect(read()).rejects.toThrow(error)
  })

  it('fails with the connection error when nothing listens', async () => {
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((r) => closed.close(() => r()))
    await expect(read({ url: `http://127.0.0.1:${port}` })).rejects.toThrow(/GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query\?query=.*: connect ECONNREFUSED/)
  })
})

describe('the Prometheus poll source across a restart', () => {
  it('does not store again what the previous process stored from the same look-back', async () => {
    const { openTestStore, silentLogger } = await import('./helpers/store')
    const { prometheusSource } = await import('../collector/dcgm/prometheus')
    const { dcgmSchema } = await import('../config/dcgm')
    // The recorded answer, moved to the last minute (the raw table's TTL would drop a sample from the fixture's date).
    const answer = JSON.parse(readDcgmFixture('aicr-prometheus-api-query-DCGM_FI_DEV_GPU_UTIL.json')) as { data: { result: Array<{ value: [number, string] }> } }
    const shift = Math.floor(Date.now() / 1000) - 60 - Math.max(...answer.data.result.map((r) => r.value[0]))
    for (const r of answer.data.result) r.value[0] += shift
    reply = { status: 200, body: JSON.stringify(answer) }
    const ts = await openTestStore()
    try {
      const prom = dcgmPrometheusSchema.parse({ url: `${base}/prom`, cluster: 'eks' })
      const config = dcgmSchema.parse({ prometheus: prom })
      const { samples } = await read()
      const newest = Math.max(...samples.map((s) => s.tsMs))
      const deps = { sinks: ts.writers.sinks, query: ts.store.query, logger: silentLogger, now: () => newest + 5_000 }
      const count = async () => (await ts.store.query<{ n: number }>("SELECT count() AS n FROM gpu_samples WHERE cluster = 'eks'"))[0]?.n
      const signal = new AbortController().signal
      const first = await prometheusSource(prom, config, deps).poll(newest, signal)
      await ts.writers.flush()
      expect(first.rows).toBe(16)
      expect(await count()).toBe(16)
      // A new process (fresh memory) polls the same answer: it reads what is stored and stores nothing twice.
      const restarted = await prometheusSource(prom, config, deps).poll(newest, signal)
      await ts.writers.flush()
      expect(restarted).toEqual({ rows: 0 })
      expect(await count()).toBe(16)
      // Without the store to ask, it says so (and stores rather than lose samples).
      const blind = await prometheusSource(prom, config, { ...deps, query: async () => { throw new Error('store down') } }).poll(newest, signal)
      expect(blind.warnings?.join(' ')).toMatch(/could not read the samples already stored for eks .*store down/)
    } finally {
      await ts.close()
    }
  })
})
