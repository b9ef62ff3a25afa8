import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { exporterSource } from '../collector/dcgm/exporter'
import { CollectorHealth } from '../collector/health'
import { CollectorScheduler } from '../collector/scheduler'
import type { CollectorDeps, PollSource } from '../collector/source'
import { dcgmSchema } from '../config/dcgm'
import { defaultConfig } from '../config/schema'
import type { GpuSample } from '../core/model'
import type { Sink } from '../core/ports'
import { createStore, type Store } from '../store/client'
import { migrate } from '../store/migrate'
import { createWriters, type StoreWriters } from '../store/sinks'
import { startFakeExporter, type FakeExporter } from './fakes/exporter'

// Scrapes loopback exporters serving real dcgm-exporter output into embedded chDB,
// then breaks one exporter, or the store, at a time.
const dir = mkdtempSync(join(tmpdir(), 'gpuscope-dcgm-'))
const storeConfig = { ...defaultConfig().store, path: dir, writer: { ...defaultConfig().store.writer, flushIntervalMs: 20, maxAttempts: 1 } }
const warned: string[] = []
const logger = { info() {}, warn: (_o: object | string, msg?: string) => void warned.push(msg ?? ''), error() {}, debug() {} }
// Recent times: raw samples older than the TTL are dropped on insert.
const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000
const L4_UUID = 'GPU-c2f76b33-7953-256e-8f33-1343419b1a1c'
const SYNTHETIC = 'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-syn",modelName="NVIDIA A100-SXM4-80GB",hostname="dgx-3"} 75\n'

let store: Store
let writers: StoreWriters
let l4: FakeExporter
let h100: FakeExporter
let third: FakeExporter
let nowMs = T0

const deps = (sink?: Sink<GpuSample>): CollectorDeps => ({
  sinks: sink ? { ...writers.sinks, gpuSamples: sink } : writers.sinks,
  query: store.query,
  logger,
  now: () => nowMs,
})
const source = (sink?: Sink<GpuSample>, timeoutMs = 500): PollSource => {
  const config = dcgmSchema.parse({
    intervalMs: 10_000,
    timeoutMs,
    targets: [
      { cluster: 'lab', url: l4.url },
      { cluster: 'lab', url: h100.url },
      { cluster: 'lab', url: third.url, node: 'configured-node' },
    ],
  })
  return exporterSource('lab', config.targets, config, deps(sink))
}
const poll = (s: PollSource, tsMs: number) => {
  nowMs = tsMs
  return s.poll(tsMs, new AbortController().signal)
}
const rowsAt = (tsMs: number) =>
  store.query<{ node: string; gpu_uuid: string; pod: string; gpu_util: number | null; gr_engine_active: number | null }>(
    'SELECT node, gpu_uuid, pod, gpu_util, gr_engine_active FROM gpu_samples WHERE cluster = {c:String} AND ts = fromUnixTimestamp64Milli({t:Int64}) ORDER BY node, gpu_uuid',
    { c: 'lab', t: tsMs },
  )
const nodesAt = async (tsMs: number) => [...new Set((await rowsAt(tsMs)).map((r) => r.node))]

beforeAll(async () => {
  store = await createStore(storeConfig)
  await migrate(store, storeConfig)
  writers = createWriters(store, storeConfig.writer, logger)
  l4 = await startFakeExporter({ kind: 'fixture', file: 'kops-aws-L4-1gpu.prom' })
  h100 = await startFakeExporter({ kind: 'fixture', file: 'aicr-eks-p5-H100x8-sampled.prom' })
  third = await startFakeExporter({ kind: 'text', body: SYNTHETIC })
})
afterAll(async () => {
  await Promise.all([l4, h100, third].map((e) => e?.close()))
  await writers?.close()
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})
beforeEach(() => {
  third.setMode({ kind: 'text', body: SYNTHETIC })
  warned.length = 0
})

describe('dcgm exporter scraping into chDB', () => {
  it('stores one row per GPU from every exporter, with host, pod and missing metrics as NULL', async () => {
    const result = await poll(source(), T0)
    expect(result).toEqual({ rows: 10 })
    const rows = await rowsAt(T0)
    expect(rows).toHaveLength(10)
    expect(rows.filter((r) => r.node === 'gpu-node-1')).toHaveLength(8)
    expect(rows.find((r) => r.gpu_uuid === L4_UUID)).toEqual({ node: 'i-030791dc5a37cd257', gpu_uuid: L4_UUID, pod: '', gpu_util: 0, gr_engine_active: 0 })
    expect(rows.find((r) => r.gpu_uuid === 'GPU-c4529c8d-69c4-b61d-e0bc-7b2460096005')).toMatchObject({ pod: 'vllm-agg-0-vllmdecodeworker-s65j5', gr_engine_active: null })
    expect(rows.find((r) => r.gpu_uuid === 'GPU-syn')).toEqual({ node: 'dgx-3', gpu_uuid: 'GPU-syn', pod: '', gpu_util: 0.75, gr_engine_active: null })
  })

  it.each([
    { name: 'times out', mode: { kind: 'hang' } as const, error: 'timed out after 500 ms' },
    { name: 'answers HTTP 500', mode: { kind: 'status', status: 500 } as const, error: 'HTTP 500 Internal Server Error' },
    { name: 'serves something that is not Prometheus text', mode: { kind: 'garbage' } as const, error: 'invalid Prometheus text at line 1' },
  ])('an exporter that $name writes no row; the others are stored and the poll names it', async ({ mode, error }) => {
    third.setMode(mode)
    const ts = T0 + 60_000 + third.requests
    const result = await poll(source(), ts)
    expect(result.rows).toBe(9)
    expect(result.warnings).toHaveLength(1)
    expect(result.warnings?.[0]).toContain(`exporter ${third.url} (cluster lab) failed: `)
    expect(result.warnings?.[0]).toContain(error)
    expect((await nodesAt(ts)).sort()).toEqual(['gpu-node-1', 'i-030791dc5a37cd257'])
  })

  it('warns when an exporter answers without any DCGM GPU series (exporter up, DCGM down)', async () => {
    third.setMode({ kind: 'text', body: '# TYPE go_goroutines gauge\ngo_goroutines 12\n' })
    const result = await poll(source(), T0 + 90_000)
    expect(result).toEqual({ rows: 9, warnings: [`exporter ${third.url} (cluster lab) answered with no DCGM GPU series`] })
  })

  it('fails the poll when every exporter failed, and collector health records it', async () => {
    const s = source()
    const health = new CollectorHealth(() => nowMs)
    const scheduler = new CollectorScheduler([s], health, logger, () => nowMs)
    for (const e of [l4, h100, third]) e.setMode({ kind: 'status', status: 503 })
    try {
      nowMs = T0 + 120_000
      await scheduler.runOnce('dcgm/lab')
    } finally {
      l4.setMode({ kind: 'fixture', file: 'kops-aws-L4-1gpu.prom' })
      h100.setMode({ kind: 'fixture', file: 'aicr-eks-p5-H100x8-sampled.prom' })
    }
    const [h] = health.snapshot()
    expect(h).toMatchObject({ source: 'dcgm/lab', runs: 1, errors: 1, rowsWritten: 0 })
    expect(h?.lastError).toMatch(/^all 3 exporter\(s\) of cluster lab failed: GET .* HTTP 503 Service Unavailable/)
    expect(warned).toContain('poll failed')
    expect(await rowsAt(T0 + 120_000)).toEqual([])
  })

  it('loses no row when the store fails and recovers: the failed poll reports it and the next one stores both scrapes', async () => {
    let failNext = 1
    const acked: number[] = []
    const flaky: Sink<GpuSample> = {
      async write(rows) {
        if (failNext-- > 0) throw new Error('store down')
        await writers.sinks.gpuSamples.write(rows)
        acked.push(...rows.map((r) => r.tsMs))
      },
    }
    const s = source(flaky)
    const [t1, t2] = [T0 + 180_000, T0 + 181_000]
    await expect(poll(s, t1)).rejects.toThrow(/storing 10 GPU sample\(s\) failed; 10 kept for the next poll: store down/)
    expect(await poll(s, t2)).toEqual({ rows: 20 })
    expect(acked.filter((t) => t === t1)).toHaveLength(10)
    expect(await rowsAt(t1)).toHaveLength(10)
    expect(await rowsAt(t2)).toHaveLength(10)
  })

  it('keeps acknowledged rows when BatchWriter itself rejects (insert fails), then stores the carried rows', async () => {
    const realInsert = store.insertTsv
    let failures = 1
    store.insertTsv = async (...args) => {
      if (failures-- > 0) throw new Error('ClickHouse insert failed: simulated')
      return realInsert(...args)
    }
    try {
      const s = source()
      const [t1, t2] = [T0 + 240_000, T0 + 241_000]
      await expect(poll(s, t1)).rejects.toThrow(/kept for the next poll: insert into gpu_samples failed after 1 attempts/)
      expect(await rowsAt(t1)).toEqual([])
      expect(await poll(s, t2)).toEqual({ rows: 20 })
      expect(await rowsAt(t1)).toHaveLength(10)
      expect(await rowsAt(t2)).toHaveLength(10)
    } finally {
      store.insertTsv = realInsert
    }
  })
})
