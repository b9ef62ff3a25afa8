import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backfill } from '../collector/replay/backfill'
import { clusterFromAlibaba } from '../collector/replay/sim/fromAlibaba'
import { clusterFromHelios } from '../collector/replay/sim/fromHelios'
import { loadAlibabaV2023 } from '../collector/replay/traces/alibaba'
import { loadHeliosVcs } from '../collector/replay/traces/helios'
import { defaultConfig } from '../config/schema'
import { allocationSeries } from '../core/intervals'
import { createStore, type Store } from '../store/client'
import { migrate } from '../store/migrate'
import { createWriters, type StoreWriters } from '../store/sinks'
import { sharedFixtures } from './helpers/fixtures'

// The replay's figures are checked from the store (collector mapping -> writer -> chDB -> SQL), not from the loader.
const dir = mkdtempSync(join(tmpdir(), 'gpuscope-backfill-'))
const config = defaultConfig()
const silent = { info() {}, warn() {}, error() {}, debug() {} }
let store: Store
let writers: StoreWriters
const END = Math.floor(Date.now() / 60_000) * 60_000
const HOUR = 3_600_000

beforeAll(async () => {
  store = await createStore({ ...config.store, path: dir })
  await migrate(store, config.store)
  writers = createWriters(store, config.store.writer, silent)
})
afterAll(async () => {
  await writers.close()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Capacity, allocation and pending GPUs of a cluster at an instant, read from the store. */
async function fleetAt(cluster: string, tMs: number) {
  const [cap] = await store.query<{ gpus: number }>(
    `SELECT sum(allocatable_gpus) AS gpus FROM (SELECT argMax(allocatable_gpus, ts) AS allocatable_gpus FROM node_state
     WHERE cluster = {c:String} AND ts <= fromUnixTimestamp64Milli({t:Int64}) GROUP BY node)`,
    { c: cluster, t: tMs },
  )
  const [alloc] = await store.query<{ pods: number; gpus: number }>(
    `SELECT count() AS pods, sum(gpus) AS gpus FROM workload_intervals FINAL WHERE cluster = {c:String}
     AND start_ts <= fromUnixTimestamp64Milli({t:Int64}) AND (end_ts IS NULL OR end_ts > fromUnixTimestamp64Milli({t:Int64}))`,
    { c: cluster, t: tMs },
  )
  const [pending] = await store.query<{ pods: number }>(
    `SELECT count() AS pods FROM workload_intervals FINAL WHERE cluster = {c:String} AND start_ts IS NULL
     AND created_ts <= fromUnixTimestamp64Milli({t:Int64}) AND (end_ts IS NULL OR end_ts > fromUnixTimestamp64Milli({t:Int64}))`,
    { c: cluster, t: tMs },
  )
  return { capacity: cap?.gpus, runningPods: alloc?.pods, allocated: alloc?.gpus, pendingPods: pending?.pods }
}

describe('backfill of the Alibaba v2023 snapshot', () => {
  it('reproduces the trace at the snapshot instant from the store: 4,149 running GPU pods hold 3,373.3 of 6,212 GPUs (54.3%), 861 pending', async () => {
    const { nodes, pods } = await loadAlibabaV2023(sharedFixtures('alibaba-pai-gpu-v2023'))
    const sim = clusterFromAlibaba(nodes, pods, END)
    const result = await backfill(sim, writers.sinks, {
      fromMs: sim.beginMs, toMs: END, sampleStepMs: 15 * 60_000, samplesFromMs: END - 2 * HOUR, notebookStepMs: 15 * 60_000, kubernetes: config.collector.kubernetes,
    })
    await writers.flush()
    const at = await fleetAt('alibaba-pai', END - 1)
    expect(at.capacity).toBe(6212)
    expect(at.runningPods).toBe(4149)
    expect(Math.round((at.allocated ?? 0) * 10) / 10).toBe(3373.3)
    expect(Math.round(((at.allocated ?? 0) / 6212) * 1000) / 10).toBe(54.3)
    expect(at.pendingPods).toBe(861)
    expect(result.workloadIntervals).toBe(7064)
  })

  it('stores GPU samples attributed to pods, with Pascal GPUs lacking profiling metrics (NULL, not 0)', async () => {
    const rows = await store.query<{ model: string; gr_n: number; util_n: number; with_pod: number; n: number }>(
      `SELECT model, countIf(gr_engine_active IS NOT NULL) AS gr_n, countIf(gpu_util IS NOT NULL) AS util_n, countIf(pod != '') AS with_pod, count() AS n
       FROM gpu_samples WHERE cluster = 'alibaba-pai' AND ts >= fromUnixTimestamp64Milli({t:Int64}) GROUP BY model ORDER BY model`,
      { t: END - 2 * HOUR },
    )
    const p100 = rows.find((r) => r.model === 'Tesla-P100-PCIE-16GB')
    const t4 = rows.find((r) => r.model === 'Tesla-T4')
    expect(p100?.gr_n).toBe(0)
    expect(p100?.util_n).toBe(p100?.n)
    expect(t4?.gr_n).toBe(t4?.n)
    expect(rows.reduce((n, r) => n + r.with_pod, 0)).toBeGreaterThan(0)
  })

  it('resolves notebook pods to their Notebook owner and records kernel activity', async () => {
    const [nb] = await store.query<{ n: number }>("SELECT count() AS n FROM workload_intervals FINAL WHERE cluster = 'alibaba-pai' AND workload_kind = 'Notebook'")
    const [act] = await store.query<{ n: number; idle: number }>("SELECT count() AS n, countIf(execution_state = 'idle') AS idle FROM notebook_activity WHERE cluster = 'alibaba-pai'")
    expect(nb?.n).toBeGreaterThan(500)
    expect(act?.n).toBeGreaterThan(0)
    expect(act?.idle).toBeGreaterThan(0)
  })
})

describe('backfill of the Helios Earth month', () => {
  it('reproduces the mean minute-level allocation of 66.7% over 856 GPUs from the store', async () => {
    const { minutes } = await loadHeliosVcs(sharedFixtures('helios', 'Earth_vcs_2020-05'))
    const sim = clusterFromHelios(minutes, END)
    await backfill(sim, writers.sinks, { fromMs: sim.beginMs, toMs: END, sampleStepMs: 0, samplesFromMs: END - HOUR, notebookStepMs: HOUR, kubernetes: config.collector.kubernetes })
    await writers.flush()
    expect((await fleetAt('helios-earth', END - 1)).capacity).toBe(856)
    const intervals = await store.query<{ start: number; end: number | null; gpus: number }>(
      "SELECT toUnixTimestamp64Milli(start_ts) AS start, toUnixTimestamp64Milli(end_ts) AS end, gpus FROM workload_intervals FINAL WHERE cluster = 'helios-earth' AND start_ts IS NOT NULL",
    )
    const series = allocationSeries(intervals.map((i) => ({ startMs: i.start, endMs: i.end ?? undefined, gpus: i.gpus })), { fromMs: sim.beginMs, toMs: END }, 60_000, END, 50_000)
    const mean = series.reduce((n, p) => n + p.gpus / 856, 0) / series.length
    expect(series).toHaveLength(44_640)
    expect(Math.round(mean * 1000) / 10).toBe(66.7)
  })
})

describe('backfill of a history shorter than the trace', () => {
  it('starts no pod before the history does, so allocation never exceeds the capacity it has stored', async () => {
    const { minutes } = await loadHeliosVcs(sharedFixtures('helios', 'Earth_vcs_2020-05'))
    const sim = clusterFromHelios(minutes, END, 'helios-late')
    const fromMs = sim.beginMs + 24 * HOUR
    const alive = sim.pods.filter((p) => p.startMs !== undefined && p.startMs < fromMs && (p.endMs === undefined || p.endMs > fromMs))
    expect(alive.length).toBeGreaterThan(0)
    await backfill(sim, writers.sinks, { fromMs, toMs: END, sampleStepMs: 0, notebookStepMs: HOUR, kubernetes: config.collector.kubernetes })
    await writers.flush()
    const [first] = await store.query<{ created: number; start: number }>(
      "SELECT toUnixTimestamp64Milli(min(created_ts)) AS created, toUnixTimestamp64Milli(minIf(start_ts, start_ts IS NOT NULL)) AS start FROM workload_intervals FINAL WHERE cluster = 'helios-late'",
    )
    expect(first).toEqual({ created: fromMs, start: fromMs })
    const at = await fleetAt('helios-late', fromMs)
    expect(at.capacity).toBe(856)
    expect(at.runningPods).toBe(alive.length)
    expect(at.allocated).toBeLessThanOrEqual(856)
  })
})
