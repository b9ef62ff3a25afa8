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
