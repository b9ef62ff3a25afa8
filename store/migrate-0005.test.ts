import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../config/schema'
import type { WorkloadInterval } from '../core/model'
import { createStore, type Store } from './client'
import { migrate, migrationStatements, readMigrations } from './migrate'
import { workloadPods } from './queries/workloads'
import { createWriters, type StoreWriters } from './sinks'

// The upgrade path of migration 0005 on embedded chDB: a database made by 0001-0004 holding
// a pod row, then 0005 adds the images column; the old row reads [] (unknown), new rows their images.
const dir = mkdtempSync(join(tmpdir(), 'gpuscope-migrate-0005-'))
const config = { ...defaultConfig().store, path: dir }
const silent = { info() {}, warn() {}, error() {}, debug() {} }
const T0 = Date.UTC(2026, 5, 1)
const key = { cluster: 'c1', namespace: 'ml', kind: 'Job', name: 'train' }
let store: Store
let writers: StoreWriters

/** A row as the collector wrote it before 0005: the columns of 0001, no images. */
const OLD_ROW = `INSERT INTO workload_intervals (cluster, pod_uid, namespace, pod, workload_kind, workload_name, team, project, user, node, gpus, gpu_resource, created_ts, start_ts, end_ts, last_seen_ts, phase)
VALUES ('c1', 'u-old', 'ml', 'train-0', 'Job', 'train', 'vision', 'cars', 'ada', 'n1', 8, 'nvidia.com/gpu', fromUnixTimestamp64Milli({t:Int64}), fromUnixTimestamp64Milli({t:Int64}), NULL, fromUnixTimestamp64Milli({t:Int64}), 'Running')`

beforeAll(async () => {
  store = await createStore(config)
  writers = createWriters(store, config.writer, silent)
})
afterAll(async () => {
  await writers.close()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('migration 0005 (container images) on a database made before it', () => {
  it('adds images to an existing workload_intervals: the old row reads [] (unknown), a new row its images in order', async () => {
    const all = readMigrations()
    expect(all.map((m) => m.name)).toContain('0005_workload_images.sql')
    await migrate(store, config, all.filter((m) => m.version < 5))
    await store.command(OLD_ROW, { t: T0 })
    expect((await migrate(store, config)).applied).toEqual(['0005_workload_images.sql'])

    const fresh: WorkloadInterval = {
      cluster: 'c1', podUid: 'u-new', namespace: 'ml', pod: 'train-1', workloadKind: 'Job', workloadName: 'train', team: 'vision', project: 'cars', user: 'ada',
      node: 'n2', gpus: 8, gpuResource: 'nvidia.com/gpu', createdMs: T0 + 60_000, startMs: T0 + 60_000, lastSeenMs: T0 + 60_000, phase: 'Running',
      images: ['nvcr.io/nvidia/pytorch:24.05-py3', 'quay.io/prometheus/node-exporter:v1.8.1'],
    }
    await Promise.all([writers.sinks.workloadIntervals.write([fresh]), writers.flush()])
    const pods = await workloadPods(store.query, key, 10)
    expect(pods.map((p) => [p.pod, p.images])).toEqual([['train-0', []], ['train-1', ['nvcr.io/nvidia/pytorch:24.05-py3', 'quay.io/prometheus/node-exporter:v1.8.1']]])
  })

  it('is safe to run again (a migration cut short is re-run whole)', async () => {
    const m5 = readMigrations().find((m) => m.version === 5)
    if (!m5) throw new Error('migration 0005 missing')
    for (const statement of migrationStatements(m5, config)) await store.command(statement)
    const [row] = await store.query<{ n: number }>("SELECT count() AS n FROM system.columns WHERE database = {db:String} AND table = 'workload_intervals' AND name = 'images'", { db: store.database })
    expect(row).toEqual({ n: 1 })
  })
})
