import { validateHeaderValue } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chargeHeaders } from '../api/routes/usage'
import { MONTH, NOW, openPricedFleet } from './helpers/pricedFleet'
import type { TestStore } from './helpers/store'
import { getFrom, startTestApp, teamHeaderAuth, type TestApp } from './helpers/app'

// The chargeback CSV as finance imports it: the __total__ row on every basis and
// scope, and what a CSV body cannot hold (reconciliation, warnings) in headers.
let ts: TestStore
let app: TestApp

beforeAll(async () => {
  ts = await openPricedFleet()
  app = await startTestApp(ts, { now: () => NOW, auth: teamHeaderAuth({ role: 'admin', name: 'finance' }) })
})

afterAll(async () => {
  await app?.close()
  await ts?.close()
})

const get = (path: string, headers: Record<string, string> = {}) => getFrom(app.base, path, headers)
/** The CSV as rows of cells keyed by the header row. */
function parseCsv(text: string): Array<Record<string, string>> {
  const [head, ...lines] = text.trim().split('\n').map((l) => l.split(','))
  return lines.map((cells) => Object.fromEntries(head!.map((h, i) => [h, cells[i] ?? ''])))
}

describe('GET /api/v1/chargeback?format=csv: the __total__ row', () => {
  it.each([
    // vision's idle-while-allocated cost (85.31 USD) moves to __idle_allocated__: the adjustments cancel out.
    { name: 'effective basis, fleet', query: 'basis=effective', team: undefined, keys: ['__unallocated__', 'nlp', 'vision', '__idle__', '__idle_allocated__', '__total__'], cents: 1714560, adjust: '0.00' },
    { name: 'effective basis, a team token by project', query: 'basis=effective&by=project', team: 'vision', keys: ['det', 'seg', '__total__'], cents: 56366 - 8531, adjust: '-85.31' },
    { name: 'allocated basis, a team token', query: 'idleShare=proportional', team: 'nlp', keys: ['nlp', '__total__'], cents: 1257958, adjust: '0.00' },
  ])('$name: the rows summed in cents, equal to the cost the JSON reconciles to', async ({ query, team, keys, cents, adjust }) => {
    const headers: Record<string, string> = team ? { 'x-team': team } : {}
    const csv = await get(`/api/v1/chargeback?period=${MONTH}&${query}&format=csv`, headers)
    const rows = parseCsv(csv.body as string)
    const by = query.includes('by=project') ? 'project' : 'team'
    expect(rows.map((r) => r[by])).toEqual(keys)
    const total = rows.at(-1)!
    expect(Number(total.costCents)).toBe(cents)
    expect(rows.slice(0, -1).reduce((n, r) => n + Number(r.costCents), 0)).toBe(cents)
    expect(total.costUsd).toBe((cents / 100).toFixed(2))
    expect(total.basisAdjustmentUsd).toBe(adjust)
    const json = (await get(`/api/v1/chargeback?period=${MONTH}&${query}`, headers)).body.data.reconciliation
    expect(Math.round((json.fleetCostUsd ?? json.teamCostUsd) * 100)).toBe(cents)
  })
})

describe('GET /api/v1/chargeback: reconciliation and warnings in headers', () => {
  it('says the rows reconcile and lists the warnings as a JSON array, for the CSV as for the JSON answer', async () => {
    const json = await get(`/api/v1/chargeback?period=${MONTH}`)
    expect(json.body.warnings).toContain('1428.00 GPU-hours matched no rate card line: charged at the default $2/GPU-hour (set analytics.rateCard)')
    for (const format of ['csv', 'json']) {
      const res = await fetch(`${app.base}/api/v1/chargeback?period=${MONTH}&format=${format}`)
      expect(res.headers.get('content-type')).toContain(format === 'csv' ? 'text/csv' : 'application/json')
      expect(res.headers.get('x-gpuscope-reconciled')).toBe('true')
      expect(JSON.parse(res.headers.get('x-gpuscope-warnings') ?? 'null')).toEqual(json.body.warnings)
    }
  })

  it('keeps header values ASCII on one line: newlines and non-ASCII characters are JSON escapes that parse back', () => {
    const warnings = ["scoped to team 'équipe'", 'two\nlines', '$2/GPU-hour × 3 — ok']
    const headers = chargeHeaders(false, warnings)
    expect(headers['X-Gpuscope-Reconciled']).toBe('false')
    const value = headers['X-Gpuscope-Warnings']!
    expect(value).toMatch(/^[\x20-\x7e]*$/)
    expect(() => validateHeaderValue('x-gpuscope-warnings', value)).not.toThrow()
    expect(JSON.parse(value)).toEqual(warnings)
  })
})
