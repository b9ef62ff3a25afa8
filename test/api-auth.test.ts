import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../api/app'
import { ADMIN_ONLY, createAuth, MISSING_TOKEN, UNKNOWN_TOKEN } from '../api/authMiddleware'
import { createMetrics } from '../api/metrics'
import { workloadId } from '../api/routes/workloads'
import { authSchema, type AuthConfig } from '../config/auth'
import type { WorkloadInterval } from '../core/model'
import type { Logger } from '../core/ports'
import { openTestStore, type TestStore } from './helpers/store'

const NOW = Date.UTC(2026, 5, 10, 12, 0, 0)
const HOUR = 3_600_000
const TOKENS = { admin: 'admin-token-0123456789abcdef', viewer: 'viewer-token-0123456789abcdef', vision: 'vision-token-0123456789abcdef' }
const AUTH: AuthConfig = authSchema.parse({
  enabled: true,
  tokens: [
    { name: 'ops', token: TOKENS.admin, role: 'admin' },
    { name: 'grafana', token: TOKENS.viewer, role: 'viewer' },
    { name: 'vision-ci', token: TOKENS.vision, role: 'team:vision' },
  ],
})

const job = (podUid: string, name: string, team: string): WorkloadInterval => ({
  cluster: 'c1', podUid, namespace: 'ml', pod: `${name}-0`, workloadKind: 'Job', workloadName: name, team, project: '', user: '', node: 'n1', gpus: 2,
  gpuResource: 'nvidia.com/gpu', createdMs: NOW - HOUR, startMs: NOW - HOUR, lastSeenMs: NOW, phase: 'Running',
})
const CARS = workloadId({ cluster: 'c1', namespace: 'ml', kind: 'Job', name: 'cars' })
const WORDS = workloadId({ cluster: 'c1', namespace: 'ml', kind: 'Job', name: 'words' })

let ts: TestStore
const servers: Server[] = []
const logged: string[] = []
const logger: Logger = {
  info: (o, m) => logged.push(JSON.stringify([o, m])),
  warn: (o, m) => logged.push(JSON.stringify([o, m])),
  error: (o, m) => logged.push(JSON.stringify([o, m])),
  debug: (o, m) => logged.push(JSON.stringify([o, m])),
}

async function start(auth: AuthConfig): Promise<string> {
  const app = createApp({
    logger,
    metrics: createMetrics({ writerStats: () => [], collectorHealth: () => [] }),
    readiness: async () => [],
    version: 'test',
    routes: { query: ts.store.query, config: ts.config, logger, now: () => NOW },
    auth: createAuth(auth),
  })
  const server = app.listen(0, '127.0.0.1')
  servers.push(server)
  await new Promise<void>((r) => server.once('listening', () => r()))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

let base: string
const bodies: string[] = []

async function call(path: string, token?: string, init: RequestInit & { authorization?: string } = {}) {
  const authorization = init.authorization ?? (token ? `Bearer ${token}` : undefined)
  const res = await fetch(base + path, { ...init, headers: authorization ? { authorization } : {} })
  const text = await res.text()
  bodies.push(text)
  return { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate'), body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text }
}

const names = (body: any): string[] => body.data.workloads.map((w: any) => w.name).sort()

beforeAll(async () => {
  ts = await openTestStore()
  const written = ts.writers.sinks.workloadIntervals.write([job('u1', 'cars', 'vision'), job('u2', 'words', 'text')])
  await ts.writers.flush()
  await written
  base = await start(AUTH)
})

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
  await ts?.close()
})

describe('bearer token auth on /api/v1', () => {
  it.each([
    { name: 'no Authorization header', init: {}, want: MISSING_TOKEN, challenge: 'Bearer realm="gpuscope"' },
    { name: 'a Basic credential', init: { authorization: 'Basic dXNlcjpwYXNz' }, want: MISSING_TOKEN, challenge: 'Bearer realm="gpuscope"' },
    { name: 'an unknown token', init: { authorization: 'Bearer not-a-configured-token-at-all' }, want: UNKNOWN_TOKEN, challenge: 'Bearer realm="gpuscope", error="invalid_token"' },
    { name: 'a token differing in its last character', init: { authorization: `Bearer ${TOKENS.admin.slice(0, -1)}g` }, want: UNKNOWN_TOKEN, challenge: 'Bearer realm="gpuscope", error="invalid_token"' },
  ])('401 with WWW-Authenticate for $name', async ({ init, want, challenge }) => {
    const res = await call('/api/v1/workloads', undefined, init)
    expect(res.status).toBe(401)
    expect(res.wwwAuthenticate).toBe(challenge)
    expect(res.body).toEqual({ status: 'error', error: { type: 'unauthorized', message: want } })
  })

  it('the exact 401 messages', () => {
    expect(MISSING_TOKEN).toBe("missing bearer token: send the header 'Authorization: Bearer <token>'")
    expect(UNKNOWN_TOKEN).toBe('unknown bearer token')
  })

  it.each([
    { role: 'admin', token: TOKENS.admin, want: ['cars', 'words'] },
    { role: 'viewer', token: TOKENS.viewer, want: ['cars', 'words'] },
    { role: 'team:vision', token: TOKENS.vision, want: ['cars'] },
  ])('$role sees its workloads', async ({ token, want }) => {
    const res = await call('/api/v1/workloads', token)
    expect(res.status).toBe(200)
    expect(names(res.body)).toEqual(want)
  })

  it('a team token may filter on its own team', async () => {
    const res = await call('/api/v1/workloads?team=vision', TOKENS.vision)
    expect(names(res.body)).toEqual(['cars'])
  })

  it.each([
    { name: "filtering on another team", path: '/api/v1/workloads?team=text', want: "a token of team 'vision' may not see team 'text'" },
  ])('403 for a team token asking for $name', async ({ path, want }) => {
    const res = await call(path, TOKENS.vision)
    expect(res.status).toBe(403)
    expect(res.body).toEqual({ status: 'error', error: { type: 'forbidden', message: want } })
  })

  it.each([
    { name: "another team's workload", path: `/api/v1/workloads/${WORDS}` },
    { name: "another team's workload logs", path: `/api/v1/workloads/${WORDS}/logs` },
  ])('404 for a team token asking for $name, as for one that does not exist (no probing of names)', async ({ path }) => {
    const res = await call(path, TOKENS.vision)
    expect(res.status).toBe(404)
    expect(res.body).toEqual({ status: 'error', error: { type: 'not_found', message: "no workload Job 'words' in namespace 'ml' of cluster 'c1'" } })
  })

  it("a team token reads its own team's workload", async () => {
    const res = await call(`/api/v1/workloads/${CARS}`, TOKENS.vision)
    expect(res.status).toBe(200)
    expect(res.body.data.owner.team).toBe('vision')
  })

  it('only an admin token may change state', async () => {
    const viewer = await call('/api/v1/workloads', TOKENS.viewer, { method: 'POST' })
    expect(viewer.status).toBe(403)
    expect(viewer.body).toEqual({ status: 'error', error: { type: 'forbidden', message: ADMIN_ONLY } })
    const admin = await call('/api/v1/workloads', TOKENS.admin, { method: 'POST' })
    expect(admin.status).toBe(404)
  })

  it('/healthz, /metrics and the OpenAPI document need no token', async () => {
    expect((await call('/healthz')).status).toBe(200)
    expect((await call('/metrics')).status).toBe(200)
    expect((await call('/api/v1/openapi.json')).status).toBe(200)
  })

  it.each([
    { path: '/nope', method: 'GET' },
    { path: '/api/v1/nope', method: 'GET' },
    { path: '/allocation/nope', method: 'GET' },
    { path: '/api/v1/workloads/a/b/c', method: 'GET' },
    { path: '/nope', method: 'POST' },
  ])('$method $path: 404 in the error envelope, with or without a token', async ({ path, method }) => {
    for (const token of [undefined, 'not-a-configured-token-at-all', TOKENS.viewer]) {
      const res = await call(path, token, { method })
      expect(res.status, String(token)).toBe(404)
      expect(res.body).toEqual({ status: 'error', error: { type: 'not_found', message: `no route ${method} ${path}` } })
    }
  })

  it('every documented route answers 401 without a token, and the document requires the bearer scheme', async () => {
    const doc = (await call('/api/v1/openapi.json')).body
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' })
    expect(doc.security).toEqual([{ bearerAuth: [] }])
    const routes = Object.entries<object>(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ path: path.replace(/\{\w+\}/g, 'x'), method: method.toUpperCase() })))
    expect(routes.length).toBeGreaterThan(15)
    for (const { path, method } of routes) {
      const res = await call(path, undefined, { method })
      expect(res.status, `${method} ${path}`).toBe(401)
      expect(res.body.error.message, `${method} ${path}`).toBe(MISSING_TOKEN)
    }
  })

  it('with auth disabled every request is anonymous and sees every team', async () => {
    const saved = base
    base = await start(authSchema.parse({ enabled: false }))
    try {
      const res = await call('/api/v1/workloads')
      expect(names(res.body)).toEqual(['cars', 'words'])
      const doc = (await call('/api/v1/openapi.json')).body
      expect(doc.security).toBeUndefined()
      expect(doc.components.securitySchemes).toBeUndefined()
    } finally {
      base = saved
    }
  })

  it('no token ever appears in an answer or a log line', () => {
    const all = [...bodies, ...logged].join('\n')
    for (const token of Object.values(TOKENS)) expect(all).not.toContain(token)
  })
})
