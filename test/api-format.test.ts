import type { AddressInfo } from 'node:net'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { errorHandler } from '../api/errorHandler'
import { defineRoute, newRegistry, parseQuery } from '../api/route'
import { getFrom, startTestApp, type TestApp } from './helpers/app'
import { openTestStore, silentLogger, type TestStore } from './helpers/store'

// `format` on the enveloped routes: json everywhere, csv only where the answer
// is tabular, anything else a 400 naming what is accepted; a route whose query
// schema declares its own `format` keeps it. The OpenAPI document says the same.
const NOW = Date.UTC(2026, 5, 10, 12, 0, 0)
const NOT_TABULAR = "expected json (this answer is not tabular, so there is no csv)"

let ts: TestStore
let app: TestApp
let doc: any

beforeAll(async () => {
  ts = await openTestStore()
  app = await startTestApp(ts, { now: () => NOW })
  doc = (await getFrom(app.base, '/api/v1/openapi.json')).body
}, 120_000)

afterAll(async () => {
  await app?.close()
  await ts?.close()
})

describe('format on enveloped routes', () => {
  it.each([
    { name: 'csv on a non-tabular route', path: '/api/v1/summary?format=csv', want: `bad query: format: 'csv' is not accepted: ${NOT_TABULAR}` },
    { name: 'xml on a tabular route', path: '/api/v1/workloads?format=xml', want: "bad query: format: 'xml' is not accepted: expected json or csv" },
    { name: 'an empty format', path: '/api/v1/actions?format=', want: "bad query: format: '' is not accepted: expected json or csv" },
    { name: 'format given twice', path: '/api/v1/workloads?format=csv&format=json', want: 'bad query: format: give it once: expected json or csv' },
    { name: 'a bad format with another bad parameter', path: '/api/v1/workloads?limit=0&format=xml', want: /^bad query: limit: .+; format: 'xml' is not accepted: expected json or csv$/ },
  ])('400 for $name', async ({ path, want }) => {
    const res = await getFrom(app.base, path)
    expect(res.status).toBe(400)
    expect(res.body.status).toBe('error')
    expect(res.body.error.type).toBe('bad_input')
    if (typeof want === 'string') expect(res.body.error.message).toBe(want)
    else expect(res.body.error.message).toMatch(want)
  })

  it.each([
    { path: '/api/v1/summary?format=json', type: 'application/json' },
    { path: '/api/v1/summary', type: 'application/json' },
    { path: '/api/v1/workloads?format=json', type: 'application/json' },
    { path: '/api/v1/workloads?format=csv', type: 'text/csv' },
  ])('$path answers $type', async ({ path, type }) => {
    const res = await getFrom(app.base, path)
    expect(res.status).toBe(200)
    expect(res.type.split(';')[0]).toBe(type)
  })

  it("a route whose query schema declares format validates and reads it itself", async () => {
    const router = express.Router()
    const seen: unknown[] = []
    const query = z.strictObject({ format: z.enum(['html', 'markdown']).default('html') })
    defineRoute(router, newRegistry(), { path: '/own', summary: 'own format', tag: 't', query, handler: async (ctx) => (seen.push(ctx.query.format), { data: ctx.query.format }) }, () => NOW)
    const own = express().use(router).use(errorHandler(silentLogger))
    const server = own.listen(0, '127.0.0.1')
    await new Promise<void>((r) => server.once('listening', () => r()))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      expect((await getFrom(base, '/own?format=markdown')).body.data).toBe('markdown')
      const bad = await getFrom(base, '/own?format=csv')
      expect(bad.status).toBe(400)
      expect(bad.body.error.message).toMatch(/^bad query: format: /)
      expect(seen).toEqual(['markdown'])
    } finally {
      await new Promise<void>((r) => server.close(() => r()))
    }
  })

  it('parseQuery without formats leaves format to a caller that reads it itself (the quarterly report)', () => {
    const schema = z.strictObject({ quarter: z.string().optional() })
    expect(parseQuery(schema, { quarter: '2026-Q1', format: 'markdown' })).toEqual({ quarter: '2026-Q1' })
  })
})

describe('the OpenAPI document', () => {
  const operations = () => Object.entries<any>(doc.paths).flatMap(([path, ops]) => Object.entries<any>(ops).map(([method, op]) => ({ route: `${method} ${path}`, op })))

  it('documents format on every enveloped GET route: json, plus csv exactly where the 200 has text/csv', () => {
    let checked = 0
    for (const { route, op } of operations()) {
      const enveloped = op.responses['200'].content['application/json']?.schema?.properties?.status !== undefined
      if (!route.startsWith('get /api/v1/') || !enveloped) continue
      const format = op.parameters?.find((p: any) => p.in === 'query' && p.name === 'format')
      expect(format, route).toBeDefined()
      const csv = op.responses['200'].content['text/csv'] !== undefined
      expect(format.schema.enum, route).toEqual(csv ? ['json', 'csv'] : ['json'])
      checked++
    }
    expect(checked).toBeGreaterThan(10)
  })

  it('marks no query or path parameter nullable (a query string cannot carry null)', () => {
    const nullable = operations().flatMap(({ route, op }) => (op.parameters ?? []).filter((p: any) => p.schema?.nullable).map((p: any) => `${route} ${p.name}`))
    expect(nullable).toEqual([])
    // z.coerce.number() accepts null (Number(null) is 0), which the generator renders as nullable.
    const limit = doc.paths['/api/v1/workloads'].get.parameters.find((p: any) => p.name === 'limit')
    expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1 })
  })

  it('documents 503 in the error envelope on every enveloped route', () => {
    for (const { route, op } of operations()) {
      if (route.includes(' /allocation/')) continue // OpenCost's own error shape (api/routes/opencost.ts)
      expect(op.responses['503']?.content?.['application/json']?.schema, route).toEqual({ $ref: '#/components/schemas/ErrorEnvelope' })
    }
  })

  it('declares no bearer scheme when the app has no auth', () => {
    expect(doc.security).toBeUndefined()
    expect(doc.components.securitySchemes).toBeUndefined()
  })
})
