import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../config/schema'
import type { GpuSample, WorkloadInterval } from '../core/model'
import { createStore, type Store } from './client'
import { migrate } from './migrate'
import { createWriters, type StoreWriters } from './sinks'

// Embedded chDB through the pinned @clickhouse/client connection hook (DESIGN.md):
// this file is the test that keeps that experimental pairing honest.
const dir = mkdtempSync(join(tmpdir(), 'gpuscope-store-'))
const config = { ...defaultConfig().store, path: dir }
const silent = { info() {}, warn() {}, error() {}, debug() {} }
let store: Store
let writers: StoreWriters

// Recent, whole-hour start: raw samples older than the TTL (30 days) are dropped on insert.
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000
const sample = (over: Partial<GpuSample>): GpuSample => ({
  tsMs: T0, cluster: 'dgx', node: 'n1', gpuUuid: 'GPU-a', gpuIndex: 0, model: 'NVIDIA H100 80GB HBM3', migProfile: '',
  namespace: 'ml', pod: 'train-0', container: 'main', ...over,
})

beforeAll(async () => {
  store = await createStore(config)
  await migrate(store, config)
  writers = createWriters(store, config.writer, silent)
})
afterAll(async () => {
  await writers.close()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('store round trip on embedded chDB', () => {
  it('stores GPU samples with millisecond times, and keeps missing metrics NULL (unknown), not 0', async () => {
    await Promise.all([
      writers.sinks.gpuSamples.write([
        sample({ tsMs: T0 + 123, grEngineActiveRatio: 0.5, gpuUtilRatio: 0.75, fbUsedBytes: 81_000_000_000, powerWatts: 310.5 }),
        sample({ tsMs: T0 + 15_000, gpuUtilRatio: 0.25, pod: 'tab\there' }),
      ]),
      writers.flush(),
    ])
    const rows = await store.query<Record<string, unknown>>(
      "SELECT toUnixTimestamp64Milli(ts) AS ms, gr_engine_active, gpu_util, fb_used_bytes, pod FROM gpu_samples WHERE cluster = {c:String} ORDER BY ts",
      { c: 'dgx' },
    )
    expect(rows).toEqual([
      { ms: T0 + 123, gr_engine_active: 0.5, gpu_util: 0.75, fb_used_bytes: 81000000000, pod: 'train-0' },
      { ms: T0 + 15_000, gr_engine_active: null, gpu_util: 0.25, fb_used_bytes: null, pod: 'tab\there' },
    ])
  })

  it('rolls samples up per minute and hour: sums, counts of present samples, and maxima', async () => {
    const [m] = await store.query<Record<string, unknown>>(
      'SELECT sum(samples) AS samples, sum(gr_engine_active_n) AS gr_n, sum(gpu_util_sum) / sum(gpu_util_n) AS util, max(gpu_util_max) AS util_max FROM gpu_samples_1m WHERE cluster = {c:String}',
      { c: 'dgx' },
    )
    expect(m).toEqual({ samples: 2, gr_n: 1, util: 0.5, util_max: 0.75 })
    const [h] = await store.query<Record<string, unknown>>('SELECT sum(samples) AS samples, sum(gpu_util_n) AS n FROM gpu_samples_1h WHERE cluster = {c:String}', { c: 'dgx' })
    expect(h).toEqual({ samples: 2, n: 2 })
  })

  it('keeps one interval per pod uid when the same pod is written again (collector restart)', async () => {
    const base: WorkloadInterval = {
      cluster: 'dgx', podUid: 'uid-1', namespace: 'ml', pod: 'nb-0', workloadKind: 'Notebook', workloadName: 'nb', team: 'vision', project: 'p', user: 'ana',
      node: 'n1', gpus: 1 / 7, gpuResource: 'nvidia.com/mig-1g.10gb', createdMs: T0, startMs: T0 + 1000, lastSeenMs: T0 + 60_000, phase: 'Running',
    }
    await Promise.all([writers.sinks.workloadIntervals.write([base]), writers.flush()])
    await Promise.all([writers.sinks.workloadIntervals.write([{ ...base, lastSeenMs: T0 + 120_000, endMs: T0 + 90_000, phase: 'Succeeded' }]), writers.flush()])
    const rows = await store.query<Record<string, unknown>>(
      'SELECT pod_uid, gpus, phase, toUnixTimestamp64Milli(end_ts) AS end_ms FROM workload_intervals FINAL WHERE cluster = {c:String}',
      { c: 'dgx' },
    )
    expect(rows).toEqual([{ pod_uid: 'uid-1', gpus: 1 / 7, phase: 'Succeeded', end_ms: T0 + 90_000 }])
  })

  it('stores a pod\'s container images in order, odd characters intact, and [] for a row without them', async () => {
    const row = (podUid: string, images?: string[]): WorkloadInterval => ({
      cluster: 'img', podUid, namespace: 'ml', pod: podUid, workloadKind: 'Job', workloadName: 'j', team: '', project: '', user: '',
      node: 'n1', gpus: 1, gpuResource: 'nvidia.com/gpu', createdMs: T0, lastSeenMs: T0, phase: 'Running', ...(images ? { images } : {}),
    })
    const odd = "reg.example:5000/a'b\\c\t,d]:v1"
    await Promise.all([writers.sinks.workloadIntervals.write([row('u1', ['nvcr.io/nvidia/pytorch:24.05-py3', odd]), row('u2')]), writers.flush()])
    const rows = await store.query<{ pod_uid: string; images: string[] }>('SELECT pod_uid, images FROM workload_intervals FINAL WHERE cluster = {c:String} ORDER BY pod_uid', { c: 'img' })
    expect(rows).toEqual([{ pod_uid: 'u1', images: ['nvcr.io/nvidia/pytorch:24.05-py3', odd] }, { pod_uid: 'u2', images: [] }])
  })

  it('stores audit rows with their evidence as JSON', async () => {
    await Promise.all([
      writers.sinks.actions.write([{
        tsMs: T0, id: 'a1', action: 'stop', cluster: 'dgx', namespace: 'ml', workloadKind: 'Notebook', workloadName: 'nb', decision: 'skip-exempt',
        dryRun: true, acted: false, reason: 'label gpuscope.io/exempt=true', evidence: { utilMax: 0.01 }, actor: 'enforcer',
      }]),
      writers.flush(),
    ])
    const [row] = await store.query<{ dry_run: boolean; acted: boolean; evidence: string }>('SELECT dry_run, acted, evidence FROM actions WHERE id = {id:String}', { id: 'a1' })
    expect(row).toEqual({ dry_run: true, acted: false, evidence: '{"utilMax":0.01}' })
  })

  it('binds parameters server-side: a hostile value is data, not SQL', async () => {
    const rows = await store.query<{ n: string }>('SELECT count() AS n FROM gpu_samples WHERE cluster = {c:String}', { c: "dgx' OR 1=1 --" })
    expect(rows).toEqual([{ n: 0 }])
  })
})

describe('insert settings do not leak', () => {
  it("a batch's dedup token does not stay on the session and swallow later, different inserts", async () => {
    await Promise.all([writers.sinks.gpuSamples.write([sample({ cluster: 'leak', tsMs: T0 + 1 })]), writers.flush()])
    await store.command("INSERT INTO gpu_samples (ts, cluster, node, gpu_uuid) VALUES (now64(3), 'leak', 'n1', 'GPU-x')")
    await store.command("INSERT INTO gpu_samples (ts, cluster, node, gpu_uuid) VALUES (now64(3), 'leak', 'n2', 'GPU-y')")
    const [row] = await store.query<{ n: number }>("SELECT count() AS n FROM gpu_samples WHERE cluster = 'leak'")
    expect(row?.n).toBe(3)
  })
})
