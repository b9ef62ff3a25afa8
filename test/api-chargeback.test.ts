import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Config } from '../config/schema'
import { quarterOf } from '../core/windows'
import { MONTH, NOW, openPricedFleet, T } from './helpers/pricedFleet'
import type { TestStore } from './helpers/store'
import { getFrom, startTestApp, teamHeaderAuth, type TestApp } from './helpers/app'

const iso = (ms: number) => new Date(ms).toISOString()
const Y = new Date(NOW).getUTCFullYear()

let ts: TestStore
const apps: TestApp[] = []
const testAuth = teamHeaderAuth({ role: 'admin', name: 'finance' })

async function start(config: Config): Promise<string> {
  const app = await startTestApp(ts, { now: () => NOW, config, auth: testAuth })
  apps.push(app)
  return app.base
}

let base: string
const get = (path: string, headers: Record<string, string> = {}, at = base) => getFrom(at, path, headers)
const cents = (body: any) => body.data.rows.map((r: any) => [r.key, r.costCents])

beforeAll(async () => {
  ts = await openPricedFleet()
  base = await start(ts.config)
})

afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()))
  await ts?.close()
})

describe('GET /api/v1/chargeback', () => {
  it('charges each team its allocation at its nodes\' rates and leaves unallocated capacity in __idle__ (policy none), reconciled to the cent', async () => {
    const { status, body } = await get(`/api/v1/chargeback?period=${MONTH}&by=team`)
    expect(status).toBe(200)
    expect(body.data).toMatchObject({ period: { input: MONTH, from: iso(T(1)), to: iso(NOW) }, by: 'team', idleShare: 'none' })
    expect(cents(body)).toEqual([['__unallocated__', 2000], ['nlp', 160800], ['vision', 56366], ['__idle__', 1495394]])
    expect(body.data.reconciliation).toEqual({
      scope: 'fleet', reconciled: true, fleetCostUsd: 17145.6, rowsCostUsd: 17145.6, differenceCents: 0, policy: 'none',
      capacityGpuHours: 6960, allocatedGpuHours: expect.closeTo(10 + 492 + 204 + 348 / 7, 9), allocatedCostUsd: 2191.66,
      unallocatedGpuHours: expect.closeTo(6960 - 10 - 492 - 204 - 348 / 7, 9), unallocatedCostUsd: 14953.94,
    })
    expect(body.warnings).toEqual([
      `the period is not over: charged up to now (${iso(NOW)})`,
      '36.00 GPU-hours on cloud nodes had no price in the prices table: charged from the rate card',
      '1428.00 GPU-hours matched no rate card line: charged at the default $2/GPU-hour (set analytics.rateCard)',
    ])
  })

  it('reports used, idle and unknown GPU-hours beside the cost: used = allocation x utilization where sampled', async () => {
    const { body } = await get(`/api/v1/chargeback?period=${MONTH}`)
    const vision = body.data.rows.find((r: any) => r.key === 'vision')
    // Only the 2nd is sampled (0.6): its 96 + 24/7 GPU-hours are known, the rest unknown.
    expect(vision.allocatedGpuHours).toBeCloseTo(204 + 348 / 7, 9)
    expect(vision.usedGpuHours).toBeCloseTo((96 + 24 / 7) * 0.6, 4)
    expect(vision.idleGpuHours).toBeCloseTo((96 + 24 / 7) * 0.4, 4)
    expect(vision.utilUnknownGpuHours).toBeCloseTo(204 + 348 / 7 - 96 - 24 / 7, 9)
    expect(body.data.rows.find((r: any) => r.key === 'nlp')).toMatchObject({ usedGpuHours: null, idleGpuHours: null, utilUnknownGpuHours: 492 })
  })

  it.each([
    // proportional to allocated cost: quotas 13646.24 / 1097157.72 / 384590.04 of 1495394 cents.
    { policy: 'proportional', want: [['__unallocated__', 2000 + 13646], ['nlp', 160800 + 1097158], ['vision', 56366 + 384590]] },
    // even: 498464.67 each; the odd cents go to the first rows.
    { policy: 'even', want: [['__unallocated__', 2000 + 498465], ['nlp', 160800 + 498465], ['vision', 56366 + 498464]] },
  ])('shares unallocated capacity $policy (query overrides config) and still sums to the fleet cost of 17,145.60 USD', async ({ policy, want }) => {
    const { body } = await get(`/api/v1/chargeback?period=${MONTH}&idleShare=${policy}`)
    expect(cents(body)).toEqual(want)
    expect(body.data.reconciliation).toMatchObject({ reconciled: true, fleetCostUsd: 17145.6, rowsCostUsd: 17145.6, policy })
  })

  describe('the dual ledger (chargeBasis)', () => {
    // vision held 204 + 348/7 GPU-hours for 563.66 USD; (96 + 24/7) x 0.4 of them were sampled idle:
    // their cost at vision's average rate is 563.66 x 39.771 / 253.714 = 88.36 USD. nlp and __unallocated__ were never sampled.
    const idleHours = (96 + 24 / 7) * 0.4
    it('shows allocated and effective GPU-hours and the idle-while-allocated cost on every row, on the allocated basis by default', async () => {
      const { body } = await get(`/api/v1/chargeback?period=${MONTH}`)
      expect(body.data.chargeBasis).toBe('allocated')
      const vision = body.data.rows.find((r: any) => r.key === 'vision')
      expect(vision).toMatchObject({ effectiveGpuHours: vision.usedGpuHours, idleAllocatedCostUsd: 88.36, basisAdjustmentUsd: 0, costUsd: 563.66 })
      expect(body.data.rows.find((r: any) => r.key === 'nlp')).toMatchObject({ effectiveGpuHours: null, idleAllocatedCostUsd: 0 })
    })

    it('effective: owners pay for what they used; the idle-while-allocated cost is the __idle_allocated__ row, and the bill still sums to the fleet cost', async () => {
      const { body } = await get(`/api/v1/chargeback?period=${MONTH}&basis=effective`)
      expect(cents(body)).toEqual([['__unallocated__', 2000], ['nlp', 160800], ['vision', 56366 - 8836], ['__idle__', 1495394], ['__idle_allocated__', 8836]])
      expect(body.data.reconciliation).toMatchObject({ reconciled: true, fleetCostUsd: 17145.6 })
    })

    it('hybrid: allocated plus a surcharge per idle-while-allocated GPU-hour (from the query or config), offset so the bill still reconciles', async () => {
      const surcharge = Math.round(idleHours * 0.5 * 100)
      const { body } = await get(`/api/v1/chargeback?period=${MONTH}&basis=hybrid&idleSurcharge=0.5`)
      expect(cents(body)).toEqual([['__unallocated__', 2000], ['nlp', 160800], ['vision', 56366 + surcharge], ['__idle__', 1495394], ['__idle_allocated__', -surcharge]])
      expect(body.data.reconciliation.reconciled).toBe(true)
      const configured = await start({ ...ts.config, analytics: { ...ts.config.analytics, chargeBasis: 'hybrid', idleSurchargeUsdPerGpuHour: 0.5 } })
      expect(cents((await get(`/api/v1/chargeback?period=${MONTH}`, {}, configured)).body)).toEqual(cents(body))
    })

    it('splits a team token’s bill by project on the basis, summing to the team’s row to the cent, without the fleet’s rows', async () => {
      const team = await get(`/api/v1/chargeback?period=${MONTH}&basis=effective`, { 'x-team': 'vision' })
      expect(cents(team.body)).toEqual([['vision', 56366 - 8836]])
      const byProject = await get(`/api/v1/chargeback?period=${MONTH}&basis=effective&by=project`, { 'x-team': 'vision' })
      const rows = byProject.body.data.rows
      expect(rows.reduce((n: number, r: any) => n + Math.round(r.costUsd * 100), 0)).toBe(56366 - 8836)
      expect(rows.reduce((n: number, r: any) => n + Math.round(r.idleAllocatedCostUsd * 100), 0)).toBe(8836)
      expect(byProject.body.data.reconciliation).toMatchObject({ reconciled: true, differenceCents: 0 })
      expect(JSON.stringify(byProject.body)).not.toContain('__idle')
    })

    it('refuses a surcharge without the hybrid basis, and an unknown basis', async () => {
      expect((await get(`/api/v1/chargeback?period=${MONTH}&idleSurcharge=1`)).status).toBe(400)
      expect((await get(`/api/v1/chargeback?period=${MONTH}&basis=used`)).status).toBe(400)
    })
  })

  it('takes the idle-share policy from config when the query does not name one', async () => {
    const even = await start({ ...ts.config, analytics: { ...ts.config.analytics, idleShare: 'even' } })
    const { body } = await get(`/api/v1/chargeback?period=${MONTH}`, {}, even)
    expect(body.data.idleShare).toBe('even')
    expect(cents(body)).toEqual([['__unallocated__', 500465], ['nlp', 659265], ['vision', 554830]])
  })

  it('charges by project with the same total; a pod with no project is __unallocated__', async () => {
    const { body } = await get(`/api/v1/chargeback?period=${MONTH}&by=project`)
    expect(cents(body)).toEqual([['__unallocated__', 2000], ['chat', 24000], ['det', 50400], ['llm', 136800], ['seg', 5966], ['__idle__', 1495394]])
    expect(body.data.reconciliation.reconciled).toBe(true)
  })

  it('defaults to this month so far, and takes a quarter', async () => {
    const month = await get('/api/v1/chargeback')
    expect(month.body.data.period).toEqual({ input: null, from: iso(T(1)), to: iso(NOW) })
    expect(cents(month.body)).toEqual([['__unallocated__', 2000], ['nlp', 160800], ['vision', 56366], ['__idle__', 1495394]])
    const quarter = await get(`/api/v1/chargeback?period=${quarterOf(NOW)}&by=namespace`)
    expect(quarter.status).toBe(200)
    expect(quarter.body.data.reconciliation).toMatchObject({ reconciled: true, differenceCents: 0 })
    expect(quarter.body.data.rows.map((r: any) => r.key)).toEqual(['nlp', 'scratch', 'vision', '__idle__'])
  })

  it('answers CSV for finance: one row per key, money with two decimals, summing to the fleet cost', async () => {
    const { type, body } = await get(`/api/v1/chargeback?period=${MONTH}&idleShare=proportional&format=csv`)
    expect(type).toContain('text/csv')
    const lines = (body as string).trim().split('\n')
    expect(lines[0]).toBe('team,allocatedGpuHours,effectiveGpuHours,idleGpuHours,utilUnknownGpuHours,allocatedCostUsd,idleShareCostUsd,idleAllocatedCostUsd,basisAdjustmentUsd,costUsd')
    expect(lines[1]).toBe('__unallocated__,10,,,10,20.00,136.46,0.00,0.00,156.46')
    expect(lines.slice(1).map((l) => l.split(',').at(-1))).toEqual(['156.46', '12579.58', '4409.56'])
    const totalCents = lines.slice(1).reduce((n, l) => n + Math.round(Number(l.split(',').at(-1)) * 100), 0)
    expect(totalCents).toBe(1714560)
  })

  it("shows a team token only its team's row, and that row split by project summing to it to the cent", async () => {
    const byTeam = await get(`/api/v1/chargeback?period=${MONTH}&idleShare=proportional`, { 'x-team': 'nlp' })
    expect(cents(byTeam.body)).toEqual([['nlp', 1257958]])
    const byProject = await get(`/api/v1/chargeback?period=${MONTH}&idleShare=proportional&by=project`, { 'x-team': 'nlp' })
    expect(byProject.body.data.rows.map((r: any) => [r.key, Math.round(r.allocatedCostUsd * 100), Math.round(r.idleShareCostUsd * 100)])).toEqual([
      ['chat', 24000, 163755],
      ['llm', 136800, 933403],
    ])
    expect(byProject.body.data.reconciliation).toEqual({
      scope: "team 'nlp'", reconciled: true, teamCostUsd: 12579.58, rowsCostUsd: 12579.58, differenceCents: 0, policy: 'proportional',
    })
    expect(JSON.stringify(byProject.body)).not.toContain('vision')
    expect(JSON.stringify(byProject.body)).not.toContain('__idle__')
  })

  it.each([
    {
      name: 'a month that does not exist',
      query: 'period=2026-13',
      message: "bad period '2026-13': there is no month 13; expected a duration like 24h or 7d, a range FROM,TO in RFC 3339, a quarter like 2026-Q3, a month like 2026-09 or a day like 2026-09-14",
    },
    {
      name: 'a quarter that does not exist',
      query: 'period=2026-Q5',
      message: "bad period '2026-Q5': there is no quarter Q5; expected a duration like 24h or 7d, a range FROM,TO in RFC 3339, a quarter like 2026-Q3, a month like 2026-09 or a day like 2026-09-14",
    },
    { name: 'a period after now', query: `period=${Y + 1}-01`, message: `period '${Y + 1}-01' starts after now: there is nothing to charge yet` },
    { name: 'an unknown key', query: 'by=cluster', message: 'bad query: by: Invalid option: expected one of "team"|"project"|"user"|"namespace"' },
    { name: 'an unknown policy', query: 'idleShare=weighted', message: 'bad query: idleShare: Invalid option: expected one of "none"|"proportional"|"even"' },
    { name: 'an unknown parameter', query: 'team=nlp', message: "bad query: unknown parameter(s) 'team'" },
  ])('400 for $name, with the exact message', async ({ query, message }) => {
    const { status, body } = await get(`/api/v1/chargeback?${query}`)
    expect(status).toBe(400)
    expect(body).toEqual({ status: 'error', error: { type: 'bad_input', message } })
  })
})
