import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backfill } from '../collector/replay/backfill'
import { clusterFromHelios } from '../collector/replay/sim/fromHelios'
import { loadHeliosVcs } from '../collector/replay/traces/helios'
import { sharedFixtures } from './helpers/fixtures'
import { openTestStore, type TestStore } from './helpers/store'
import { startTestApp, type TestApp } from './helpers/app'

// A realistic sanity check: the Helios Earth replay (856 GPUs) with the served replay's
// 5-minute samples over its last 26 hours. The simulation abandons about 45% of its
// notebooks and gives about a fifth of its jobs no GPU work at all, so /idle must find both,
// and never call a workload idle without samples.
const MIN = 60_000
const HOUR = 60 * MIN
const END = Math.floor(Date.now() / MIN) * MIN
let ts: TestStore
let app: TestApp
let base: string

beforeAll(async () => {
  ts = await openTestStore()
  const { minutes } = await loadHeliosVcs(sharedFixtures('helios', 'Earth_vcs_2020-05'))
  const sim = clusterFromHelios(minutes, END)
  await backfill(sim, ts.writers.sinks, { fromMs: sim.beginMs, toMs: END, sampleStepMs: 5 * MIN, samplesFromMs: END - 26 * HOUR, notebookStepMs: 5 * MIN, kubernetes: ts.config.collector.kubernetes })
  await ts.writers.flush()
  app = await startTestApp(ts, { now: () => END })
  base = app.base
})

afterAll(async () => {
  await app?.close()
  await ts?.close()
})

const getJson = async (path: string): Promise<any> => (await fetch(base + path)).json()

describe('/idle and /insights on the Helios replay', () => {
  it('finds abandoned notebooks idle, zero-activity jobs idle or stuck, and busy work active', async () => {
    const body = await getJson('/api/v1/idle')
    const rows: any[] = body.data.workloads
    const count = (kind: string, verdicts: string[]) => rows.filter((w) => w.kind === kind && verdicts.includes(w.verdict)).length
    expect(body.warnings).toEqual([])
    expect(count('Notebook', ['idle'])).toBeGreaterThan(0)
    expect(count('Job', ['idle', 'stuck'])).toBeGreaterThan(0)
    expect(count('Job', ['active'])).toBeGreaterThan(0)
    for (const w of rows.filter((x) => ['idle', 'stuck', 'hung'].includes(x.verdict))) {
      expect(w.evidence.coverageRatio).toBeGreaterThanOrEqual(0.8)
      expect(w.evidence.maxUtilRatio).toBeLessThan(0.05)
      expect(w.wastedGpuHours).toBeGreaterThan(0)
    }
    // Nothing older than the samples is claimed: idle since is at most 26 h back, flagged as a lower bound when the samples begin mid-idle.
    expect(Math.min(...rows.filter((w) => w.idleSinceMs !== null).map((w) => w.idleSinceMs))).toBeGreaterThanOrEqual(END - 26 * HOUR)
  })

  it('lists notebooks to cull and teams with low efficiency', async () => {
    const body = await getJson('/api/v1/insights')
    const types = new Set(body.data.findings.map((f: any) => f.type))
    expect(types.has('team-efficiency')).toBe(true)
    // Abandoned notebooks that started more than a day ago have been idle since the samples begin (26 h).
    expect(types.has('cull-notebook')).toBe(true)
  })
})
