import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HOUR, MONTH, NOW, openPricedFleet, T } from './helpers/pricedFleet'
import type { TestStore } from './helpers/store'
import { getFrom, startTestApp, teamHeaderAuth, type TestApp } from './helpers/app'

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z')

let ts: TestStore
let app: TestApp
const get = (path: string, headers: Record<string, string> = {}) => getFrom(app.base, path, headers)
/** [name, cents] of one set, in answer order. */
const cents = (set: Record<string, any>) => Object.values(set).map((a: any) => [a.name, Math.round(a.gpuCost * 100)])
const sumCents = (set: Record<string, any>) => Object.values(set).reduce((n: number, a: any) => n + Math.round(a.totalCost * 100), 0)
const sumHours = (set: Record<string, any>) => Object.values(set).reduce((n: number, a: any) => n + a.gpuHours, 0)

beforeAll(async () => {
  ts = await openPricedFleet()
  app = await startTestApp(ts, { now: () => NOW, config: ts.config, auth: teamHeaderAuth({ role: 'admin', name: 'finance' }) })
})

afterAll(async () => {
  await app?.close()
  await ts?.close()
})

describe('GET /allocation/compute', () => {
  it('answers one accumulated set in OpenCost\'s envelope that reconciles with /api/v1/chargeback to the cent and the GPU-hour', async () => {
    const [oc, cb] = await Promise.all([
      get('/allocation/compute?window=month&aggregate=label:team&accumulate=true'),
      get(`/api/v1/chargeback?period=${MONTH}&by=team&idleShare=none`),
    ])
    expect(oc.status).toBe(200)
    expect(oc.body).toMatchObject({ code: 200, status: 'success' })
    expect(oc.body.data).toHaveLength(1)
    const set = oc.body.data[0]
    expect(cents(set)).toEqual([['__unallocated__', 2000], ['nlp', 160800], ['vision', 56366], ['__idle__', 1495394]])
    expect(cents(set)).toEqual(cb.body.data.rows.map((r: any) => [r.key, r.costCents]))
    expect(sumCents(set)).toBe(Math.round(cb.body.data.reconciliation.fleetCostUsd * 100))
    expect(sumCents(set)).toBe(1714560)
    expect(sumHours(set)).toBeCloseTo(cb.body.data.reconciliation.capacityGpuHours, 3)
    expect(set.vision).toMatchObject({
      name: 'vision', properties: { labels: { team: 'vision' } }, window: { start: iso(T(1)), end: iso(NOW) }, start: iso(T(1)), end: iso(NOW),
      minutes: 348 * 60, gpuCost: 563.66, totalCost: 563.66, gpuCostIdle: 0, gpuCostAdjustment: 0, cpuCost: 0, ramCost: 0, pvCost: 0, networkCost: 0,
    })
    expect(set.vision.gpuHours).toBeCloseTo(204 + 348 / 7, 4)
    expect(set.__idle__).toMatchObject({ gpuAllocation: null, properties: {} })
    expect(set.__idle__.gpuHours).toBeCloseTo(6960 - 10 - 492 - 204 - 348 / 7, 3)
  })

  it('reports gpuUsageAverage as GPUs\' worth of utilization where sampled, and null (not 0) where never sampled', async () => {
    const { body } = await get('/allocation/compute?window=month&aggregate=label:team&accumulate=true')
    const { vision, nlp } = body.data[0]
    const request = (204 + 348 / 7) / 348
    // Only q1 on the 2nd is sampled (0.6), as in /chargeback: its 96 GPU-hours known, q2's slice beside it unknown.
    expect(vision.gpuAllocation.gpuRequestAverage).toBeCloseTo(request, 4)
    expect(vision.gpuAllocation.gpuUsageAverage).toBeCloseTo(0.6 * request, 4)
    expect(vision.gpuEfficiency).toBeCloseTo(0.6, 4)
    expect(vision.gpuscope.usedGpuHours).toBeCloseTo(96 * 0.6, 3)
    expect(vision.gpuscope.utilUnknownGpuHours).toBeCloseTo(204 + 348 / 7 - 96, 3)
    expect(vision.gpuAllocation.isGPUShared).toBe(true)
    expect(nlp.gpuAllocation).toEqual({ isGPUShared: false, gpuUsageAverage: null, gpuRequestAverage: expect.any(Number) })
    expect(nlp.gpuEfficiency).toBeNull()
    expect(nlp.gpuscope).toEqual({ usedGpuHours: null, utilUnknownGpuHours: 492 })
  })

  // Days 2..4: capacity 21 GPUs on c1 (h1 8, h2 8, m1 1, v1 4) = 504 GPU-hours, $1,180.80 a day.
  const day = (d: number) => ({ start: iso(T(d)), end: iso(T(d + 1)) })
  it.each([
    { name: 'step=1d gives one set per step', query: 'step=1d', windows: [day(2), day(3), day(4)], vision: [96 + 24 / 7, 96 + 24 / 7, 24 / 7] },
    { name: 'accumulate=day gives one set per UTC day', query: 'accumulate=day', windows: [day(2), day(3), day(4)], vision: [96 + 24 / 7, 96 + 24 / 7, 24 / 7] },
    { name: 'step=1d&accumulate=true gives one accumulated set', query: 'step=1d&accumulate=true', windows: [{ start: iso(T(2)), end: iso(T(5)) }], vision: [192 + 72 / 7] },
  ])('$name, each summing to its capacity cost', async ({ query, windows, vision }) => {
    const { status, body } = await get(`/allocation/compute?window=${iso(T(2))},${iso(T(5))}&aggregate=namespace&${query}`)
    expect(status).toBe(200)
    expect(body.data.map((s: any) => Object.values(s)[0] && (Object.values(s)[0] as any).window)).toEqual(windows)
    expect(body.data.map((s: any) => s.vision.gpuHours)).toEqual(vision.map((v) => expect.closeTo(v, 4)))
    expect(body.data.map((s: any) => sumCents(s))).toEqual(windows.map(() => 118080 * (windows.length === 1 ? 3 : 1)))
    expect(body.data.map((s: any) => sumHours(s))).toEqual(windows.map(() => expect.closeTo(504 * (windows.length === 1 ? 3 : 1), 3)))
    // q5 (no team, namespace scratch) ran only on the 3rd, 0:00-10:00.
    expect(body.data.map((s: any) => s.scratch?.gpuHours ?? null)).toEqual(windows.length === 1 ? [10] : [null, 10, null])
  })

  it('drops __idle__ with idle=false (and includeIdle=false): the rows are the allocated cost only', async () => {
    for (const p of ['idle=false', 'includeIdle=false']) {
      const { body } = await get(`/allocation/compute?window=month&aggregate=label:team&accumulate=true&${p}`)
      expect(cents(body.data[0])).toEqual([['__unallocated__', 2000], ['nlp', 160800], ['vision', 56366]])
    }
  })

  it('shares idle with shareIdle=true into the rows of each cluster in proportion to their cost, still summing to the fleet cost', async () => {
    // c1 idle 1269794 cents to __unallocated__ 20 : nlp 240 : vision 563.657 USD; c2 idle 225600 to nlp (its only allocation there).
    const { body } = await get('/allocation/compute?window=month&aggregate=label:team&accumulate=true&shareIdle=true')
    const set = body.data[0]
    expect(cents(set)).toEqual([['__unallocated__', 32833], ['nlp', 756397], ['vision', 925330]])
    expect(sumCents(set)).toBe(1714560)
    expect(Math.round(set.nlp.gpuCostIdle * 100)).toBe(369997 + 225600)
    const even = await get('/allocation/compute?window=month&aggregate=label:team&accumulate=true&shareIdle=true&shareSplit=even')
    expect(sumCents(even.body.data[0])).toBe(1714560)
    expect(Math.round(even.body.data[0].vision.gpuCostIdle * 100)).toBe(423264) // 1269794 / 3 = 423264.67: the two odd cents go to the earlier rows
  })

  it('keeps idle per node with idleByNode=true, and the rows still sum to the fleet cost', async () => {
    const { body } = await get('/allocation/compute?window=month&aggregate=node&accumulate=true&idleByNode=true')
    const set = body.data[0]
    expect(Object.keys(set).filter((k) => k.endsWith('__idle__')).sort()).toEqual(['c1/h1/__idle__', 'c1/h2/__idle__', 'c1/m1/__idle__', 'c1/v1/__idle__', 'c2/g1/__idle__', 'c2/s1/__idle__'])
    expect(set['c1/h1/__idle__']).toMatchObject({ properties: { cluster: 'c1', node: 'h1' }, gpuHours: 8 * 348 - 192 })
    expect(sumCents(set)).toBe(1714560)
  })

  it('aggregates by a configured label (raw or sanitized key) like /chargeback by project, and by namespace,controller', async () => {
    for (const key of ['gpuscope.io/project', 'gpuscope_io_project']) {
      const { body } = await get(`/allocation/compute?window=month&aggregate=label:${key}&accumulate=true`)
      expect(cents(body.data[0])).toEqual([['__unallocated__', 2000], ['chat', 24000], ['det', 50400], ['llm', 136800], ['seg', 5966], ['__idle__', 1495394]])
      expect(body.data[0].det.properties).toEqual({ labels: { gpuscope_io_project: 'det' } })
    }
    const { body } = await get('/allocation/compute?window=month&aggregate=namespace,controller&accumulate=true&idle=false')
    expect(Object.keys(body.data[0])).toEqual(['nlp/Job:q3', 'nlp/Job:q4', 'nlp/Job:q6', 'scratch/Job:q5', 'vision/Job:q1', 'vision/Job:q2', 'vision/Job:q8'])
    expect(body.data[0]['vision/Job:q1'].properties).toEqual({ namespace: 'vision', controller: 'q1', controllerKind: 'Job' })
  })

  it('answers CSV with format=csv: one row per allocation, money with two decimals summing to the fleet cost', async () => {
    const { status, type, body } = await get('/allocation/compute?window=month&aggregate=label:team&accumulate=true&format=csv')
    expect(status).toBe(200)
    expect(type).toContain('text/csv')
    const lines = (body as string).trim().split('\n')
    const header = lines[0]!.split(',')
    expect(header.slice(0, 3)).toEqual(['windowStart', 'windowEnd', 'name'])
    const at = (line: string, col: string) => line.split(',')[header.indexOf(col)]
    expect(lines.slice(1).map((l) => at(l, 'name'))).toEqual(['__unallocated__', 'nlp', 'vision', '__idle__'])
    expect(lines.slice(1).map((l) => at(l, 'totalCost'))).toEqual(['20.00', '1608.00', '563.66', '14953.94'])
    expect(at(lines[2]!, 'gpuUsageAverage')).toBe('')
  })

  it("shows a team token only its team's rows, without __idle__, with the same cost as the fleet view", async () => {
    const admin = await get('/allocation/compute?window=month&aggregate=namespace&accumulate=true&shareIdle=true')
    const { body } = await get('/allocation/compute?window=month&aggregate=namespace&accumulate=true&shareIdle=true', { 'x-team': 'nlp' })
    expect(Object.keys(body.data[0])).toEqual(['nlp'])
    expect(body.data[0].nlp.gpuCost).toBe(admin.body.data[0].nlp.gpuCost)
    const noIdle = await get('/allocation/compute?window=month&aggregate=pod&accumulate=true', { 'x-team': 'vision' })
    expect(Object.keys(noIdle.body.data[0])).toEqual(['q1-0', 'q2-0', 'q8-0'])
    expect(JSON.stringify(noIdle.body.data)).not.toMatch(/nlp|scratch|__idle__/)
  })

  it.each([
    { name: 'a bad window', query: 'window=fortnight', message: /^Invalid 'window' parameter: 'fortnight'; expected today, yesterday/ },
    { name: 'no window', query: 'aggregate=namespace', message: /window is required/ },
    { name: 'an unsupported aggregate', query: 'window=7d&aggregate=container', message: /^Invalid 'aggregate' parameter: 'container' is not supported/ },
    { name: 'an unconfigured label', query: 'window=7d&aggregate=label:app', message: /^Invalid 'aggregate' parameter: label 'app' is not supported: gpuscope keeps only the team, project and user labels \(label:gpuscope\.io\/team/ },
    { name: 'a step below a minute', query: 'window=7d&step=90s', message: /^Invalid step parameter: '90s': it must be a whole number of minutes/ },
    { name: 'a bad accumulate', query: 'window=7d&accumulate=fortnightly', message: /^Invalid 'accumulate' parameter/ },
    { name: 'a bad boolean', query: 'window=7d&shareIdle=yes', message: /^Invalid 'shareIdle' parameter: 'yes' is not a boolean/ },
    { name: 'an unsupported parameter', query: 'window=7d&filter=namespace:"x"', message: /^Invalid query: unsupported parameter\(s\) 'filter'/ },
  ])('400 in OpenCost\'s error shape for $name', async ({ query, message }) => {
    const { status, body } = await get(`/allocation/compute?${query}`)
    expect(status).toBe(400)
    expect(body).toEqual({ code: 400, status: 'error', data: null, message: expect.stringMatching(message) })
  })
})

describe('GET /allocation/compute/summary', () => {
  it("answers OpenCost's summary range: step in nanoseconds, sets of allocations, GPU averages and costs", async () => {
    const { status, body } = await get(`/allocation/compute/summary?window=${iso(T(2))},${iso(T(4))}&step=1d&aggregate=namespace`)
    expect(status).toBe(200)
    expect(body.data.step).toBe(24 * HOUR * 1e6)
    expect(body.data.window).toEqual({ start: iso(T(2)), end: iso(T(4)) })
    expect(body.data.sets.map((s: any) => s.window)).toEqual([{ start: iso(T(2)), end: iso(T(3)) }, { start: iso(T(3)), end: iso(T(4)) }])
    const vision = body.data.sets[0].allocations.vision
    // q1's 4 GPUs at $2.50 and q2's 1/7 slice at $1.20 all day; the day's samples (0.6) give the namespace's utilization, as in /usage.
    expect(vision).toMatchObject({ name: 'vision', start: iso(T(2)), end: iso(T(3)), cpuCost: 0, ramCost: 0, gpuCost: 244.11, gpuHours: expect.closeTo(96 + 24 / 7, 4) })
    expect(vision.gpuRequestAverage).toBeCloseTo(4 + 1 / 7, 4)
    expect(vision.gpuUsageAverage).toBeCloseTo((4 + 1 / 7) * 0.6, 4)
    expect(body.data.sets[1].allocations.vision.gpuUsageAverage).toBeNull()
    expect(body.data.sets.map((s: any) => sumCents(s.allocations))).toEqual([118080, 118080])
  })
})
