import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backfill } from '../collector/replay/backfill'
import { clusterFromHelios } from '../collector/replay/sim/fromHelios'
import { loadHeliosVcs, type HeliosMinute } from '../collector/replay/traces/helios'
import { InputError, NotFoundError } from '../core/errors'
import { backtest } from '../forecasting/backtest'
import { demandSeries, listSelectors, loadDemand, parseSelector } from '../forecasting/demand'
import { candidates } from '../forecasting/models/index'
import { heliosHourlyDemand } from '../forecasting/traces'
import { sharedFixtures } from './helpers/fixtures'
import { openTestStore, type TestStore } from './helpers/store'

// The Helios Earth month replayed into chDB, ending on 2026-07-01 (UTC midnight, so
// trace hours stay whole hours), read back as hourly demand from exact intervals.
const HOUR = 3_600_000
const END = Date.parse('2026-07-01T00:00:00Z')
let ts: TestStore
let minutes: HeliosMinute[]
let shiftMs: number

beforeAll(async () => {
  ts = await openTestStore()
  minutes = (await loadHeliosVcs(sharedFixtures('helios', 'Earth_vcs_2020-05'))).minutes
  const sim = clusterFromHelios(minutes, END)
  shiftMs = sim.beginMs - Date.parse('2020-05-01T00:00:00Z')
  await backfill(sim, ts.writers.sinks, { fromMs: sim.beginMs, toMs: END, sampleStepMs: 0, notebookStepMs: HOUR, kubernetes: ts.config.collector.kubernetes })
  await ts.writers.flush()
}, 300_000)

afterAll(async () => {
  await ts?.close()
})

const window = () => ({ fromMs: END - 40 * 24 * HOUR, toMs: END })

describe('hourly demand from the store', () => {
  it('equals the trace\'s running + pending GPUs averaged per hour, for all 744 hours, with 856 GPUs of capacity', async () => {
    const d = await loadDemand(ts.store.query, 'cluster=helios-earth', window(), END)
    const trace = heliosHourlyDemand(minutes)
    expect(d.startMs).toBe(trace.startMs + shiftMs)
    expect(d.demand).toHaveLength(744)
    d.demand.forEach((v, i) => expect(v).toBeCloseTo(trace.values[i]!, 9))
    expect(new Set(d.capacity)).toEqual(new Set([856]))
    expect(d.warnings).toEqual([])
  })

  it('gives a pool (a Helios VC) its running GPUs: never-bound pending pods have no pool, and the answer says so', async () => {
    const vc = 'vc6YE'
    const d = await loadDemand(ts.store.query, `pool=${vc}`, window(), END)
    const running = heliosHourlyDemand(minutes.map((m) => ({ ...m, pendingGpus: 0 })), [vc])
    d.demand.forEach((v, i) => expect(v).toBeCloseTo(running.values[i]!, 9))
    expect(d.pending.every((p) => p === 0)).toBe(true)
    expect(d.warnings[0]).toMatch(/never bound to a node have no pool or GPU model/)
  })

  it('splits demand by team so the teams add up to the cluster, and gives a team no capacity', async () => {
    const teams = (await listSelectors(ts.store.query)).filter((s) => s.startsWith('team='))
    expect(teams.length).toBeGreaterThan(1)
    const cluster = await loadDemand(ts.store.query, 'cluster=helios-earth', window(), END)
    const parts = await Promise.all(teams.map((t) => loadDemand(ts.store.query, `cluster=helios-earth,${t}`, window(), END)))
    for (const p of parts) expect(p.capacity).toBeNull()
    const sum = cluster.demand.map((_, i) => parts.reduce((n, p) => n + (p.demand[i - (p.startMs - cluster.startMs) / HOUR] ?? 0), 0))
    sum.forEach((v, i) => expect(v).toBeCloseTo(cluster.demand[i]!, 6))
  })

  it('reads only whole hours before now: at 10:30 the 10:00 hour is not in the series yet', async () => {
    const now = END - 5 * 24 * HOUR + 10.5 * HOUR
    const d = await loadDemand(ts.store.query, 'cluster=helios-earth', window(), now)
    expect(d.startMs + d.demand.length * HOUR).toBe(now - 0.5 * HOUR)
  })

  it('reproduces the 11.3% seasonal-naive sMAPE of DESIGN.md from the store', async () => {
    const d = await loadDemand(ts.store.query, 'cluster=helios-earth', window(), END)
    const bt = backtest(demandSeries(d), { horizonHours: 24, origins: 7, strideHours: 24, models: candidates(['snaive168']), baselineId: 'snaive24' })
    expect(Math.round(bt.scores[0]!.smapeRatio * 1000) / 10).toBe(11.3)
  })

  it.each([
    { selector: 'cluster=nowhere', type: NotFoundError, error: "no cluster 'nowhere' in the store; known: helios-earth" },
    { selector: 'pool=vcNope', type: NotFoundError, error: "no pool 'vcNope' in the store; known: vc3sl, vc6YE," },
    { selector: 'rack=r1', type: InputError, error: "bad series 'rack=r1': unknown key 'rack'; keys are cluster, pool, gpuModel, team" },
    { selector: 'cluster', type: InputError, error: "bad series 'cluster': 'cluster' is not key=value" },
  ])('refuses $selector', async ({ selector, type, error }) => {
    await expect(loadDemand(ts.store.query, selector, window(), END)).rejects.toThrow(type)
    await expect(loadDemand(ts.store.query, selector, window(), END)).rejects.toThrow(error)
  })

  it('parses a selector with several keys and a repeated key', () => {
    expect(parseSelector('cluster=a, team=x,team=y')).toEqual({ cluster: ['a'], team: ['x', 'y'] })
    expect(parseSelector('fleet')).toEqual({})
  })
})
