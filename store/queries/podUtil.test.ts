import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GpuSample, WorkloadInterval } from '../../core/model'
import type { BucketGrid, UtilRow } from '../../core/usage'
import { openTestStore, type TestStore } from '../../test/helpers/store'
import { migrationStatements, readMigrations } from '../migrate'
import { utilBuckets } from './usage'

// Utilization reads at hourly steps take pod_util_1h (one row per pod and hour, filled by a view from
// the hourly rollup, store/migrations/0003); steps of whole days take the whole UTC days from
// pod_util_1d and only the edge hours from pod_util_1h. These tests hold both to the definition
// computed here from the hourly rollup rows themselves, on pods with full GPUs, a MIG slice, hours
// where GR_ENGINE_ACTIVE comes and goes, and a pod name reused by another team.

const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR
const T0 = Date.UTC(2026, 4, 1)
const NOW = T0 + 3 * DAY + 13 * HOUR
let ts: TestStore

const pod = (uid: string, name: string, team: string, node: string, gpus: number, startMs: number, endMs?: number): WorkloadInterval => ({
  cluster: 'c1', podUid: uid, namespace: 'ml', pod: name, workloadKind: 'Job', workloadName: name, team, project: 'p', user: 'u', node, gpus,
  gpuResource: 'nvidia.com/gpu', createdMs: startMs, startMs, endMs, lastSeenMs: endMs ?? NOW, phase: endMs === undefined ? 'Running' : 'Succeeded',
})

const PODS = [
  pod('u1', 'train', 'a', 'n1', 2, T0 - DAY),
  pod('u2', 'slice', 'b', 'n2', 3 / 7, T0 + 2 * HOUR),
  pod('u3', 'reused', 'b', 'n3', 1, T0, T0 + DAY + 6 * HOUR),
  pod('u4', 'reused', 'c', 'n3', 1, T0 + 2 * DAY + 3 * HOUR),
]

/** Samples every 15 minutes of each pod's GPUs while it runs; values vary, GR_ENGINE_ACTIVE missing in some samples of the slice. */
function samples(): GpuSample[] {
  const out: GpuSample[] = []
  const gpusOf = [['n1', ['g1', 'g2'], 'NVIDIA H100'], ['n2', ['g3'], 'NVIDIA A100-SXM4-40GB'], ['n3', ['g4'], 'NVIDIA H100']] as const
  for (let t = T0; t < NOW; t += 15 * MIN) {
    for (const p of PODS) {
      if (t < p.startMs! || (p.endMs !== undefined && t >= p.endMs)) continue
      const [, uuids, model] = gpusOf.find(([n]) => n === p.node)!
      uuids.forEach((uuid, i) => {
        const k = (t - T0) / (15 * MIN)
        const util = ((k * 7 + i * 13 + p.podUid.length * 3) % 100) / 100
        const mig = p.pod === 'slice'
        out.push({
          tsMs: t, cluster: 'c1', node: p.node, gpuUuid: uuid, gpuIndex: i, model, migProfile: mig ? '3g.20gb' : '', migInstance: mig ? 1 : undefined,
          namespace: 'ml', pod: p.pod, container: 'main', gpuUtilRatio: util,
          // The slice reports GR_ENGINE_ACTIVE only in some hours (whole hours: a GPU-hour with both is read
          // as GR_ENGINE_ACTIVE per stored row, before or after merges); the others always.
          grEngineActiveRatio: mig && Math.floor(k / 4) % 3 === 0 ? undefined : util * 0.9,
        })
      })
    }
  }
  return out
}

beforeAll(async () => {
  ts = await openTestStore()
  await ts.writers.sinks.workloadIntervals.write(PODS)
  await ts.writers.sinks.gpuSamples.write(samples())
  await ts.writers.flush()
}, 120_000)

afterAll(async () => {
  await ts?.close()
})

const grid = (fromMs: number, toMs: number, stepMs: number, originMs = Math.floor(fromMs / stepMs) * stepMs): BucketGrid => ({ fromMs, toMs, stepMs, originMs })

/**
 * The definition, computed here from the hourly rollup rows: each GPU-hour row counts as
 * GR_ENGINE_ACTIVE where it has it, else GPU_UTIL, weighted by its MIG share; rows are summed
 * per pod and bucket, and the pod-bucket goes to the pod interval in effect at its first hour.
 */
async function definition(fromMs: number, toMs: number, stepMs: number, originMs = Math.floor(fromMs / stepMs) * stepMs): Promise<Map<string, UtilRow>> {
  const rows = await ts.store.query<{ ts_ms: number; pod: string; mig: string; gs: number; gn: number; us: number; un: number }>(
    `SELECT toInt64(toUnixTimestamp(ts)) * 1000 AS ts_ms, pod, any(mig_profile) AS mig, sum(gr_engine_active_sum) AS gs, sum(gr_engine_active_n) AS gn,
            sum(gpu_util_sum) AS us, sum(gpu_util_n) AS un
     FROM gpu_samples_1h GROUP BY ts, cluster, namespace, pod, gpu_uuid`,
  )
  const rollFromMs = Math.floor(fromMs / HOUR) * HOUR
  const perPod = new Map<string, { pod: string; first: number; bucket: number; wsum: number; wn: number; n: number; gr: number }>()
  for (const r of rows) {
    const t = Number(r.ts_ms)
    if (t < rollFromMs || t >= toMs) continue
    const w = r.mig === '3g.20gb' ? 3 / 7 : 1
    const gr = Number(r.gn) > 0
    const [sum, n] = gr ? [Number(r.gs), Number(r.gn)] : [Number(r.us), Number(r.un)]
    const bucket = originMs + Math.floor((t - originMs) / stepMs) * stepMs
    const key = `${r.pod} ${bucket}`
    const acc = perPod.get(key) ?? { pod: r.pod, first: t, bucket, wsum: 0, wn: 0, n: 0, gr: 0 }
    acc.first = Math.min(acc.first, t)
    acc.wsum += w * sum
    acc.wn += w * n
    acc.n += n
    acc.gr += gr ? n : 0
    perPod.set(key, acc)
  }
  const out = new Map<string, UtilRow>()
  for (const p of perPod.values()) {
    const iv = PODS.filter((x) => x.pod === p.pod && Math.floor(x.startMs! / HOUR) * HOUR <= p.first).sort((a, b) => b.startMs! - a.startMs!)[0]
    if (!iv || p.first >= (iv.endMs ?? NOW) || p.n === 0) continue
    const key = `${iv.team} ${p.bucket}`
    const acc = out.get(key) ?? { group: [iv.team], bucketMs: p.bucket, weightedSum: 0, weightedN: 0, samples: 0, grEngineActiveSamples: 0 }
    acc.weightedSum += p.wsum
    acc.weightedN += p.wn
    acc.samples += p.n
    acc.grEngineActiveSamples += p.gr
    out.set(key, acc)
  }
  return out
}

async function read(fromMs: number, toMs: number, stepMs = DAY, originMs?: number): Promise<Map<string, UtilRow>> {
  const rows = await utilBuckets(ts.store.query, { grid: grid(fromMs, toMs, stepMs, originMs), nowMs: NOW, groupBy: ['team'], filters: {} })
  return new Map(rows.map((r) => [`${r.group[0]} ${r.bucketMs}`, r]))
}

function expectSame(actual: Map<string, UtilRow>, expected: Map<string, UtilRow>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort())
  for (const [key, e] of expected) {
    const a = actual.get(key)!
    expect(a.samples, key).toBe(e.samples)
    expect(a.grEngineActiveSamples, key).toBe(e.grEngineActiveSamples)
    expect(a.weightedSum, key).toBeCloseTo(e.weightedSum, 9)
    expect(a.weightedN, key).toBeCloseTo(e.weightedN, 9)
  }
}

describe('utilization at a step of whole days', () => {
  it('reads hourly steps from pod_util_1h as the definition gives them', async () => {
    const expected = await definition(T0 + 5 * HOUR + 20 * MIN, NOW, HOUR)
    expect(expected.size).toBe(194)
    expectSame(await read(T0 + 5 * HOUR + 20 * MIN, NOW, HOUR), expected)
  })

  it('reads steps of whole days as the definition gives them, for a window starting mid-day and running to now', async () => {
    const expected = await definition(T0 + 5 * HOUR + 20 * MIN, NOW, DAY)
    // Four days for three teams' pods (team c only from day 2, team b's reused name only to day 1).
    expect(expected.size).toBe(10)
    expectSame(await read(T0 + 5 * HOUR + 20 * MIN, NOW), expected)
  })

  it('gives the same for a window ending mid-day in the past, and one inside a single day', async () => {
    expectSame(await read(T0, T0 + 2 * DAY + 10 * HOUR), await definition(T0, T0 + 2 * DAY + 10 * HOUR, DAY))
    expectSame(await read(T0 + DAY + 2 * HOUR, T0 + DAY + 9 * HOUR), await definition(T0 + DAY + 2 * HOUR, T0 + DAY + 9 * HOUR, DAY))
  })

  it('reads daily buckets that do not start at midnight (an OpenCost window of 48h, step 1d) from the hours, as the definition gives them', async () => {
    const from = T0 + DAY + 15 * HOUR
    const expected = await definition(from, from + 2 * DAY, DAY, from)
    expect([...expected.values()].map((r) => r.bucketMs).sort()).toContain(from + DAY)
    expectSame(await read(from, from + 2 * DAY, DAY, from), expected)
  })

  it('reads the whole days from pod_util_1d (emptied, they are missing; the edge hours are not), and the migration backfill restores both tables', async () => {
    const from = T0 + 5 * HOUR
    const before = await read(from, NOW)
    await ts.store.command('TRUNCATE TABLE pod_util_1d')
    const emptied = await read(from, NOW)
    const wholeDays = [T0 + DAY, T0 + 2 * DAY]
    expect([...emptied.values()].filter((r) => wholeDays.includes(r.bucketMs))).toEqual([])
    expectSame(emptied, new Map([...before].filter(([, r]) => !wholeDays.includes(r.bucketMs))))
    await ts.store.command('TRUNCATE TABLE pod_util_1h')
    expect((await read(from, NOW)).size).toBe(0)
    // The migration's TRUNCATEs and backfills (INSERT ... SELECT), run again over the stored rollups; pod_util_1d refills through its view.
    const m = readMigrations().find((x) => x.name === '0003_pod_util.sql')!
    const backfill = migrationStatements(m, ts.config.store).filter((s) => s.startsWith('TRUNCATE') || s.startsWith('INSERT'))
    expect(backfill).toHaveLength(5)
    for (const s of backfill) await ts.store.command(s)
    expectSame(await read(from, NOW), before)
    expectSame(await read(from, NOW, HOUR), await definition(from, NOW, HOUR))
  })
})
