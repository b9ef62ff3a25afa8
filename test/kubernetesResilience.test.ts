import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { kubernetesSchema } from '../config/kubernetes'
import { defaultConfig } from '../config/schema'
import { KubernetesClusterSource } from '../collector/kubernetes/cluster'
import type { HealthReporter } from '../collector/source'
import type { Logger, StoreSinks } from '../core/ports'
import { createStore, type Store } from '../store/client'
import { migrate } from '../store/migrate'
import { createWriters, type StoreWriters } from '../store/sinks'
import { FakeKubeApi, kubeflowNotebooks, notebookWorkload, type KubeObj } from './fakes/kubeApi'

// One chDB directory for this file (libchdb binds one per process); each test uses its own cluster name.
const dir = mkdtempSync(join(tmpdir(), 'gpuscope-k8s-res-'))
let store: Store
let writers: StoreWriters
const fakes: FakeKubeApi[] = []
const sources: KubernetesClusterSource[] = []
const silent: Logger = { info() {}, warn() {}, error() {}, debug() {} }
const health = (): HealthReporter & { errors: unknown[] } => {
  const h = { errors: [] as unknown[], success() {}, failure: (e: unknown) => void h.errors.push(e) }
  return h
}

beforeAll(async () => {
  const config = { ...defaultConfig().store, path: dir, writer: { ...defaultConfig().store.writer, flushIntervalMs: 20 } }
  store = await createStore(config)
  await migrate(store, config)
  writers = createWriters(store, config.writer, silent)
})
afterAll(async () => {
  await Promise.all(sources.map((s) => s.stop()))
  await Promise.all(fakes.map((f) => f.close()))
  await writers.close()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

async function fakeApi(): Promise<{ fake: FakeKubeApi; url: string }> {
  const fake = new FakeKubeApi()
  fakes.push(fake)
  return { fake, url: await fake.start() }
}

function collector(name: string, url: string, opts: { now?: () => number; sinks?: StoreSinks } = {}): KubernetesClusterSource {
  const config = kubernetesSchema.parse({ clusters: [{ name, server: url, insecureSkipTlsVerify: true }], backoffBaseMs: 20, backoffMaxMs: 200, heartbeatMs: 3_600_000 })
  const deps = { sinks: opts.sinks ?? writers.sinks, query: store.query, logger: silent, now: opts.now ?? Date.now }
  const source = new KubernetesClusterSource(config.clusters[0]!, config, deps)
  sources.push(source)
  return source
}

/** Polls until check passes (bounded: about 10 s of tries); no timing is asserted. */
async function eventually(check: () => Promise<void> | void, tries = 400): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await check()
    } catch (err) {
      if (i >= tries) throw err
      await new Promise((r) => setTimeout(r, 25))
    }
  }
}

const gpuPod = (name: string, phase = 'Running'): KubeObj => ({
  metadata: { name, namespace: 'ml', uid: `uid-${name}` },
  spec: { ...(phase === 'Pending' ? {} : { nodeName: 'g1' }), containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }] },
  status: { phase, conditions: [{ type: 'PodScheduled', status: phase === 'Pending' ? 'False' : 'True', reason: phase === 'Pending' ? 'Unschedulable' : undefined, lastTransitionTime: '2025-01-01T00:00:00Z' }] },
})

interface Row { pod: string; phase: string; node: string; end_ms: number | null }
const rows = (cluster: string) =>
  store.query<Row>('SELECT pod, phase, node, toUnixTimestamp64Milli(end_ts) AS end_ms FROM workload_intervals FINAL WHERE cluster = {c:String} ORDER BY pod', { c: cluster })
const phases = async (cluster: string) => (await rows(cluster)).map((r) => `${r.pod}:${r.phase}`)
const countFinal = async (cluster: string) =>
  (await store.query<{ n: number }>('SELECT count() AS n FROM workload_intervals FINAL WHERE cluster = {c:String}', { c: cluster }))[0]?.n

describe('watch resilience', () => {
  it('resumes a watch dropped mid-stream from the last resourceVersion, without a relist or a duplicate interval', async () => {
    const { fake, url } = await fakeApi()
    fake.add('pods', gpuPod('a'))
    const source = collector('drop', url)
    await source.start(health())
    await source.whenSynced()
    fake.add('pods', gpuPod('b'))
    await eventually(async () => expect(await phases('drop')).toEqual(['a:Running', 'b:Running']))
    const lastSeenRv = fake.get('pods', 'ml', 'b')?.metadata.resourceVersion

    await eventually(() => expect(fake.openWatches('pods')).toBe(1))
    fake.holdWatches()
    fake.dropWatches()
    fake.add('pods', gpuPod('c'))
    fake.remove('pods', 'ml', 'a')
    await eventually(() => expect(fake.requestsOf('pods', true)).toHaveLength(2))
    fake.releaseWatches()

    await eventually(async () => expect(await phases('drop')).toEqual(['a:Deleted', 'b:Running', 'c:Running']))
    expect(fake.requestsOf('pods', true)[1]?.resourceVersion).toBe(lastSeenRv)
    expect(fake.requestsOf('pods', false)).toHaveLength(1)
    expect(await countFinal('drop')).toBe(3)
  })

  it('relists after 410 Gone on reconnect, and nothing that changed meanwhile is lost', async () => {
    const { fake, url } = await fakeApi()
    let clock = Date.UTC(2025, 0, 1)
    fake.add('pods', gpuPod('a'))
    fake.add('pods', gpuPod('b'))
    const source = collector('gone', url, { now: () => clock })
    await source.start(health())
    await source.whenSynced()

    await eventually(() => expect(fake.openWatches('pods')).toBe(1))
    fake.holdWatches()
    fake.dropWatches()
    fake.add('pods', gpuPod('c'))
    fake.remove('pods', 'ml', 'a')
    fake.update('pods', 'ml', 'b', (o) => {
      o.status = { ...(o.status as object), phase: 'Succeeded', containerStatuses: [{ name: 'c', state: { terminated: { finishedAt: '2025-01-01T00:30:00Z' } } }] }
    })
    fake.forceGone()
    await eventually(() => expect(fake.requestsOf('pods', true)).toHaveLength(2))
    clock += 60_000
    fake.releaseWatches()

    await eventually(async () => expect(await phases('gone')).toEqual(['a:Deleted', 'b:Succeeded', 'c:Running']))
    const byPod = Object.fromEntries((await rows('gone')).map((r) => [r.pod, r.end_ms]))
    expect(byPod).toEqual({ a: clock, b: Date.UTC(2025, 0, 1, 0, 30), c: null })
    expect(fake.requestsOf('pods', false)).toHaveLength(2)
    expect(await countFinal('gone')).toBe(3)
  })

  it('relists when an open watch gets a 410 ERROR event, then keeps watching', async () => {
    const { fake, url } = await fakeApi()
    fake.add('pods', gpuPod('a'))
    const source = collector('gone-open', url)
    await source.start(health())
    await source.whenSynced()
    await eventually(() => expect(fake.openWatches('pods')).toBe(1))
    fake.forceGone()
    await eventually(() => expect(fake.requestsOf('pods', false)).toHaveLength(2))
    fake.add('pods', gpuPod('b'))
    await eventually(async () => expect(await phases('gone-open')).toEqual(['a:Running', 'b:Running']))
    expect(await countFinal('gone-open')).toBe(2)
  })
})

describe('collector restarts', () => {
  it('a new collector on the same store writes no second interval, and closes pods deleted while it was down at the list time', async () => {
    const { fake, url } = await fakeApi()
    let clock = Date.UTC(2025, 0, 1)
    for (const p of [gpuPod('keep'), gpuPod('gone-while-down'), gpuPod('waiting', 'Pending')]) fake.add('pods', p)
    const first = collector('restart', url, { now: () => clock })
    await first.start(health())
    await first.whenSynced()
    await first.stop()

    fake.remove('pods', 'ml', 'gone-while-down')
    clock += 3_600_000
    const second = collector('restart', url, { now: () => clock })
    await second.start(health())
    await second.whenSynced()

    expect(await rows('restart')).toEqual([
      { pod: 'gone-while-down', phase: 'Deleted', node: 'g1', end_ms: clock },
      { pod: 'keep', phase: 'Running', node: 'g1', end_ms: null },
      { pod: 'waiting', phase: 'Pending', node: '', end_ms: null },
    ])
    expect(await countFinal('restart')).toBe(3)
    await second.stop()
  })
})

describe('optional Notebook CRD', () => {
  it('works without the Notebook CRD (404), and sees notebooks once the CRD is installed', async () => {
    const { fake, url } = await fakeApi()
    fake.notebookCrd = false
    const workbench = fake.add('notebooks', kubeflowNotebooks()[1]!)
    const { statefulSet, pod } = notebookWorkload(workbench, { 'nvidia.com/gpu': '1' }, 'g1')
    fake.add('statefulsets', statefulSet)
    fake.add('pods', pod)
    const h = health()
    const source = collector('no-crd', url)
    await source.start(h)
    await source.whenSynced()

    const [row] = await store.query<{ kind: string; name: string }>('SELECT workload_kind AS kind, workload_name AS name FROM workload_intervals FINAL WHERE cluster = {c:String}', { c: 'no-crd' })
    expect(row).toEqual({ kind: 'Notebook', name: 'my-workbench' })
    expect(source.notebooks()).toEqual([])
    expect(h.errors).toEqual([])

    fake.notebookCrd = true
    await eventually(() => expect(source.notebooks()).toEqual([{ cluster: 'no-crd', namespace: 'my-data-science-project', name: 'my-workbench', baseUrl: '' }]))
  })
})

describe('store outage', () => {
  it('keeps every row through failed writes and stores them all once the store is back', async () => {
    const { fake, url } = await fakeApi()
    let down = true
    const failing = <T>(write: (rows: readonly T[]) => Promise<void>) => ({
      write: async (r: readonly T[]) => {
        if (down) throw new Error('store unavailable')
        await write(r)
      },
    })
    const sinks: StoreSinks = {
      ...writers.sinks,
      workloadIntervals: failing((r) => writers.sinks.workloadIntervals.write(r)),
      nodeState: failing((r) => writers.sinks.nodeState.write(r)),
    }
    fake.add('nodes', { metadata: { name: 'g1' }, status: { capacity: { 'nvidia.com/gpu': '8' }, conditions: [{ type: 'Ready', status: 'True' }] } })
    for (const name of ['p1', 'p2', 'p3']) fake.add('pods', gpuPod(name))
    const h = health()
    const source = collector('outage', url, { sinks })
    await source.start(h)
    await eventually(() => expect(h.errors.length).toBeGreaterThanOrEqual(2))
    fake.add('pods', gpuPod('p4'))
    fake.remove('pods', 'ml', 'p1')
    await eventually(() => expect(h.errors.length).toBeGreaterThanOrEqual(3))
    expect(await countFinal('outage')).toBe(0)

    down = false
    await eventually(async () => expect(await phases('outage')).toEqual(['p1:Deleted', 'p2:Running', 'p3:Running', 'p4:Running']))
    await eventually(async () => {
      const nodes = await store.query<{ n: number }>('SELECT count() AS n FROM node_state WHERE cluster = {c:String}', { c: 'outage' })
      expect(nodes).toEqual([{ n: 1 }])
    })
  })
})
