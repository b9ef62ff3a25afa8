import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backfill } from '../collector/replay/backfill'
import { clusterFromHelios } from '../collector/replay/sim/fromHelios'
import { loadHeliosVcs } from '../collector/replay/traces/helios'
import { bucketGpuMs, usageGrid, type KeyedInterval } from '../core/usage'
import { sharedFixtures } from './helpers/fixtures'
import { openTestStore, type TestStore } from './helpers/store'
import { startTestApp, type TestApp } from './helpers/app'

// A realistic sanity check: the Helios Earth month (856 V100s, 16 VCs) replayed into the
// store, read back through the API, and held to the core definitions.
const MINUTE = 60_000
const HOUR = 60 * MINUTE
const END = Math.floor(Date.now() / MINUTE) * MINUTE
const iso = (ms: number) => new Date(ms).toISOString()

let ts: TestStore
let app: TestApp
let base: string
let beginMs: number

async function get(path: string): Promise<any> {
  const res = await fetch(base + path)
  expect(res.status).toBe(200)
  return res.json()
}

beforeAll(async () => {
  ts = await openTestStore()
  const { minutes } = await loadHeliosVcs(sharedFixtures('helios', 'Earth_vcs_2020-05'))
  const sim = clusterFromHelios(minutes, END)
  beginMs = sim.beginMs
  const opts = { fromMs: sim.beginMs, toMs: END, sampleStepMs: 5 * MINUTE, samplesFromMs: END - 6 * HOUR, notebookStepMs: HOUR, kubernetes: ts.config.collector.kubernetes }
  const done = backfill(sim, ts.writers.sinks, opts)
  await done
  await ts.writers.flush()
  app = await startTestApp(ts, { now: () => END })
  base = app.base
}, 300_000)

afterAll(async () => {
  await app?.close()
  await ts?.close()
})

interface Row {
  team: string
  created: number
  start: number | null
  end: number | null
  gpus: number
}

describe('the API over the Helios replay', () => {
  it('reads 856 GPUs of capacity and the trace\'s two-thirds mean allocation over the month', async () => {
    const body = await get(`/api/v1/usage?window=${iso(beginMs)},${iso(END)}&step=1d`)
    const [fleet] = body.data.series
    expect(new Set(fleet.points.map((p: any) => p.capacityGpus))).toEqual(new Set([856]))
    // The trace's mean minute-level allocation is 66.65% (test/replay-backfill.test.ts rounds it to 66.7).
    expect(fleet.totals.allocationRatio).toBeCloseTo(0.6665, 3)
    expect(fleet.totals.capacityGpuHours).toBe(856 * ((END - beginMs) / HOUR))
  })

  it('sums allocation and pending demand per team and hour in SQL exactly as core/usage.ts bucketGpuMs defines them', async () => {
    const window = { fromMs: beginMs, toMs: END }
    const body = await get(`/api/v1/usage?window=${iso(beginMs)},${iso(END)}&step=1h&groupBy=team`)
    const rows = await ts.store.query<Row>(
      `SELECT team, toUnixTimestamp64Milli(created_ts) AS created, toUnixTimestamp64Milli(start_ts) AS start, toUnixTimestamp64Milli(end_ts) AS end, gpus
       FROM workload_intervals FINAL WHERE cluster = 'helios-earth'`,
    )
    const grid = usageGrid(window, HOUR, 11_000)
    const allocated = bucketGpuMs(rows.map((r): KeyedInterval => ({ key: r.team, gpus: r.gpus, startMs: r.start ?? undefined, endMs: r.end ?? undefined })), grid, END)
    const pending = bucketGpuMs(rows.map((r): KeyedInterval => ({ key: r.team, gpus: r.gpus, startMs: r.created, endMs: r.start ?? r.end ?? undefined })), grid, END)
    expect(body.data.series.map((s: any) => s.group.team).sort()).toEqual([...new Set([...allocated.keys(), ...pending.keys()])].sort())
    let compared = 0
    for (const s of body.data.series) {
      for (const p of s.points) {
        const tsMs = Date.parse(p.ts)
        expect(p.allocatedGpuHours).toBeCloseTo((allocated.get(s.group.team)?.get(tsMs) ?? 0) / HOUR, 6)
        const spanMs = Math.min(tsMs + HOUR, END) - Math.max(tsMs, beginMs)
        expect((p.pendingGpus * spanMs) / HOUR).toBeCloseTo((pending.get(s.group.team)?.get(tsMs) ?? 0) / HOUR, 6)
        compared++
      }
    }
    expect(compared).toBeGreaterThan(744)
  })

  it('reads utilization of the sampled hours from the rollups, and none where nothing was sampled', async () => {
    const body = await get(`/api/v1/usage?window=${iso(END - 12 * HOUR)},${iso(END)}&step=1h`)
    const points = body.data.series[0].points
    const sampled = points.filter((p: any) => Date.parse(p.ts) >= END - 6 * HOUR)
    for (const p of sampled) {
      expect(p.utilRatio).toBeGreaterThan(0)
      expect(p.utilRatio).toBeLessThan(1)
      expect(p.utilSamples).toBeGreaterThan(0)
    }
    expect(points.filter((p: any) => Date.parse(p.ts) < END - 7 * HOUR).every((p: any) => p.utilRatio === null)).toBe(true)
  })

  it('charges the month at the default rate and reconciles to the cent', async () => {
    const body = await get(`/api/v1/chargeback?period=${iso(beginMs)},${iso(END)}&idleShare=proportional`)
    const hours = (END - beginMs) / HOUR
    expect(body.data.reconciliation).toMatchObject({ reconciled: true, differenceCents: 0, fleetCostUsd: 856 * hours * 2, capacityGpuHours: 856 * hours })
    const sum = body.data.rows.reduce((n: number, r: any) => n + r.costCents, 0)
    expect(sum).toBe(856 * hours * 200)
  })

  it('summarises the fleet now with the capacity and allocation the store holds at that instant', async () => {
    const body = await get('/api/v1/summary')
    const [alloc] = await ts.store.query<{ gpus: number }>(
      `SELECT sum(gpus) AS gpus FROM workload_intervals FINAL WHERE start_ts <= fromUnixTimestamp64Milli({t:Int64})
       AND (end_ts IS NULL OR end_ts > fromUnixTimestamp64Milli({t:Int64}))`,
      { t: END },
    )
    expect(body.data.capacityGpus).toBe(856)
    expect(body.data.allocatedGpus).toBe(alloc?.gpus)
    expect(body.data.utilRatio).toBeGreaterThan(0)
    expect(body.data.utilMetric).not.toBeNull()
    expect(body.data.monthly.at(-1).capacityGpuHours).toBeGreaterThan(0)
  })
})
