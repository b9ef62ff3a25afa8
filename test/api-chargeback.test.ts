import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Config } from '../config/schema'
import type { QueryFn } from '../core/ports'
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
    // Only q1 on the 2nd is sampled (0.6): its 96 GPU-hours are known; q2's slice beside it that day is not, nor the rest.
    expect(vision.allocatedGpuHours).toBeCloseTo(204 + 348 / 7, 9)
    expect(vision.usedGpuHours).toBeCloseTo(96 * 0.6, 4)
    expect(vision.idleGpuHours).toBeCloseTo(96 * 0.4, 4)
    expect(vision.utilUnknownGpuHours).toBeCloseTo(204 + 348 / 7 - 96, 9)
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
    // vision held 204 + 348/7 GPU-hours for 563.66 USD; 96 x 0.4 of them were sampled idle:
    // their cost at vision's average rate is 563.66 x 38.4 / 253.714 = 85.31 USD. nlp and __unallocated__ were never sampled.
    const idleHours = 96 * 0.4
    it('shows allocated and effective GPU-hours and the idle-while-allocated cost on every row, on the allocated basis by default', async () => {
      const { body } = await get(`/api/v1/chargeback?period=${MONTH}`)
      expect(body.data.chargeBasis).toBe('allocated')
      const vision = body.data.rows.find((r: any) => r.key === 'vision')
      expect(vision).toMatchObject({ effectiveGpuHours: vision.usedGpuHours, idleAllocatedCostUsd: 85.31, basisAdjustmentUsd: 0, costUsd: 563.66 })
      expect(body.data.rows.find((r: any) => r.key === 'nlp')).toMatchObject({ effectiveGpuHours: null, idleAllocatedCostUsd: 0 })
    })

    it('effective: owners pay for what they used; the idle-while-allocated cost is the __idle_allocated__ row, and the bill still sums to the fleet cost', async () => {
      const { body } = await get(`/api/v1/chargeback?period=${MONTH}&basis=effective`)
      expect(cents(body)).toEqual([['__unallocated__', 2000], ['nlp', 160800], ['vision', 56366 - 8531], ['__idle__', 1495394], ['__idle_allocated__', 8531]])
      expect(body.data.reconciliation).toMatchObject({ reconciled: true, fleetCostUsd: 17145.6 })
    })

    it('hybrid: allocated plus a surcharge per idle-while-allocated GPU-hour (from the query or config), offset so the bill still reconciles', async () => {
      const surcharge = Math.round(idleHours * 0.5 * 100)
      const { body } = await get(`/api/v1/chargeback?period=${MONTH}&basis=hybrid&idleSurcharge=0.5`)
      expect(cents(body)).toEqual([['__unallocated__', 2000], ['nlp', 160800], ['vision', 56366 + surcharge], ['__idle__', 1495394], ['__idle_allocated__', -surcharge]])
      expect(body.data.reconciliation.reconciled).toBe(true)
      const configured = await start({ ...ts.config, analytics: { ...ts.config.analytics, chargeBasis: 'hybrid', idleSurchargeUsdPerGpuHour: 0.5 } })
      expect(cents((await get(`/api/v1/chargeback?period=${MONTH}`, {}, configured)).body)).toEqual(cents(body))
      // With hybrid in config, a surcharge needs no basis parameter.
      expect(cents((await get(`/api/v1/chargeback?period=${MONTH}&idleSurcharge=0.5`, {}, configured)).body)).toEqual(cents(body))
    })

    it('splits a team token’s bill by project on the basis, summing to the team’s row to the cent, without the fleet’s rows', async () => {
      const team = await get(`/api/v1/chargeback?period=${MONTH}&basis=effective`, { 'x-team': 'vision' })
      expect(cents(team.body)).toEqual([['vision', 56366 - 8531]])
      const byProject = await get(`/api/v1/chargeback?period=${MONTH}&basis=effective&by=project`, { 'x-team': 'vision' })
      const rows = byProject.body.data.rows
      expect(rows.reduce((n: number, r: any) => n + Math.round(r.costUsd * 100), 0)).toBe(56366 - 8531)
      expect(rows.reduce((n: number, r: any) => n + Math.round(r.idleAllocatedCostUsd * 100), 0)).toBe(8531)
      expect(byProject.body.data.reconciliation).toMatchObject({ reconciled: true, differenceCents: 0 })
      expect(JSON.stringify(byProject.body)).not.toContain('__idle')
    })

    it('refuses a surcharge without the hybrid basis, and an unknown basis', async () => {
      expect((await get(`/api/v1/chargeback?period=${MONTH}&idleSurcharge=1`)).status).toBe(400)
      expect((await get(`/api/v1/chargeback?period=${MONTH}&basis=used`)).status).toBe(400)
    })

    it('refuses a bad parameter combination before it runs any store query', async () => {
      let queries = 0
      const query: QueryFn = <R,>(sql: string, params?: Record<string, unknown>) => {
        queries++
        return ts.store.query<R>(sql, params)
      }
      const counted = await startTestApp({ ...ts, store: { ...ts.store, query } }, { now: () => NOW, config: ts.config, auth: testAuth })
      apps.push(counted)
      for (const q of ['idleSurcharge=1', 'basis=effective&idleSurcharge=1', 'basis=hybrid&idleSurcharge=0x10', 'by=team&by=project']) {
        expect((await get(`/api/v1/chargeback?period=${MONTH}&${q}`, {}, counted.base)).status).toBe(400)
      }
      expect(queries).toBe(0)
      expect((await get(`/api/v1/chargeback?period=${MONTH}&basis=hybrid&idleSurcharge=1`, {}, counted.base)).status).toBe(200)
      expect(queries).toBeGreaterThan(0)
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

  it('answers CSV for finance: period and terms on every row, used GPU-hours, cost in dollars and cents, and a __total__ row equal to the fleet cost', async () => {
    const { type, body } = await get(`/api/v1/chargeback?period=${MONTH}&idleShare=proportional&format=csv`)
    expect(type).toContain('text/csv')
    const lines = (body as string).trim().split('\n')
    expect(lines[0]).toBe(
      'from,to,idleShare,chargeBasis,idleSurchargeUsdPerGpuHour,team,allocatedGpuHours,usedGpuHours,idleGpuHours,utilUnknownGpuHours,' +
        'allocatedCostUsd,idleShareCostUsd,idleAllocatedCostUsd,basisAdjustmentUsd,costUsd,costCents',
    )
    const terms = `${iso(T(1))},${iso(NOW)},proportional,allocated,0`
    expect(lines[1]).toBe(`${terms},__unallocated__,10,,,10,20.00,136.46,0.00,0.00,156.46,15646`)
    const json = (await get(`/api/v1/chargeback?period=${MONTH}&idleShare=proportional`)).body.data.rows
    const vision = lines.find((l) => l.startsWith(`${terms},vision,`))!.split(',')
    expect(Number(vision[7])).toBe(json.find((r: any) => r.key === 'vision').usedGpuHours)
    const cells = lines.slice(1).map((l) => l.split(','))
    expect(cells.map((c) => [c[5], c.at(-2), Number(c.at(-1))])).toEqual([
      ['__unallocated__', '156.46', 15646], ['nlp', '12579.58', 1257958], ['vision', '4409.56', 440956], ['__total__', '17145.60', 1714560],
    ])
    // The total row: the rows summed (idle columns blank: they do not add up), its cost the fleet's in the JSON reconciliation.
    const total = cells.at(-1)!
    expect(total.slice(10)).toEqual(['2191.66', '14953.94', '', '0.00', '17145.60', '1714560'])
    expect(Number(total[6])).toBeCloseTo(10 + 492 + 204 + 348 / 7, 9)
    expect([total[7], total[8]]).toEqual([vision[7], ''])
    expect(Number(total[9])).toBeCloseTo(json.reduce((n: number, r: any) => n + r.utilUnknownGpuHours, 0), 9)
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
    { name: 'an empty surcharge', query: 'basis=hybrid&idleSurcharge=', message: 'bad query: idleSurcharge: expected a decimal number of $ per GPU-hour like 0.5 or -0.25' },
    { name: 'a blank surcharge', query: 'basis=hybrid&idleSurcharge=%20', message: 'bad query: idleSurcharge: expected a decimal number of $ per GPU-hour like 0.5 or -0.25' },
    { name: 'a hexadecimal surcharge', query: 'basis=hybrid&idleSurcharge=0x10', message: 'bad query: idleSurcharge: expected a decimal number of $ per GPU-hour like 0.5 or -0.25' },
    { name: 'a surcharge out of range', query: 'basis=hybrid&idleSurcharge=1000.5', message: 'bad query: idleSurcharge: Too big: expected number to be <=1000' },
    {
      name: 'a surcharge on the configured allocated basis',
      query: 'idleSurcharge=1',
      message: 'bad query: idleSurcharge: applies to basis=hybrid only (basis is allocated, from analytics.chargeBasis)',
    },
    { name: 'a surcharge on the effective basis', query: 'basis=effective&idleSurcharge=-1', message: 'bad query: idleSurcharge: applies to basis=hybrid only (basis is effective)' },
    { name: 'a key given twice', query: 'by=team&by=project', message: 'bad query: by: given 2 times; give by once' },
    { name: 'a period given twice', query: 'period=2026-01&period=2026-02', message: 'bad query: period: given 2 times; give period once' },
    { name: 'a basis given twice', query: 'basis=hybrid&basis=hybrid&idleSurcharge=1', message: 'bad query: basis: given 2 times; give basis once' },
  ])('400 for $name, with the exact message', async ({ query, message }) => {
    const { status, body } = await get(`/api/v1/chargeback?${query}`)
    expect(status).toBe(400)
    expect(body).toEqual({ status: 'error', error: { type: 'bad_input', message } })
  })
})
