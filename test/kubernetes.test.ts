import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { kubernetesSchema } from '../config/kubernetes'
import { defaultConfig } from '../config/schema'
import { KubernetesClusterSource } from '../collector/kubernetes/cluster'
import type { HealthReporter } from '../collector/source'
import type { Logger, Params } from '../core/ports'
import { createStore, type Store } from '../store/client'
import { migrate } from '../store/migrate'
import { createWriters, type StoreWriters } from '../store/sinks'
import { alibabaNodes, alibabaPod, alibabaPodRows, ALIBABA_T0_MS, FakeKubeApi, kubeflowNotebooks, notebookWorkload, type KubeObj } from './fakes/kubeApi'

// One chDB directory for this file (libchdb binds one per process); each test uses its own cluster name.
const dir = mkdtempSync(join(tmpdir(), 'gpuscope-k8s-'))
const TOKEN = 'k8s-secret-token-5f3a'
let store: Store
let writers: StoreWriters
const fakes: FakeKubeApi[] = []
const sources: KubernetesClusterSource[] = []
const logLines: string[] = []
const logger: Logger = {
  info: (o, m) => logLines.push(JSON.stringify([o, m])),
  warn: (o, m) => logLines.push(JSON.stringify([o, m])),
  error: (o, m) => logLines.push(JSON.stringify([o, m])),
  debug: (o, m) => logLines.push(JSON.stringify([o, m])),
}
const health = (): HealthReporter & { ok: number; errors: unknown[] } => {
  const h = { ok: 0, errors: [] as unknown[], success: () => void h.ok++, failure: (e: unknown) => void h.errors.push(e) }
  return h
}

beforeAll(async () => {
  const config = { ...defaultConfig().store, path: dir, writer: { ...defaultConfig().store.writer, flushIntervalMs: 20 } }
  store = await createStore(config)
  await migrate(store, config)
  writers = createWriters(store, config.writer, logger)
})
afterAll(async () => {
  await Promise.all(sources.map((s) => s.stop()))
  await Promise.all(fakes.map((f) => f.close()))
  await writers.close()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

async function fakeApi(): Promise<{ fake: FakeKubeApi; url: string }> {
  const fake = new FakeKubeApi({ token: TOKEN })
  fakes.push(fake)
  return { fake, url: await fake.start() }
}

function collector(name: string, url: string, now: () => number = Date.now): KubernetesClusterSource {
  const config = kubernetesSchema.parse({
    clusters: [{ name, server: url, token: TOKEN, insecureSkipTlsVerify: true }],
    backoffBaseMs: 20, backoffMaxMs: 200, heartbeatMs: 3_600_000, nodeHeartbeatMs: 600_000,
  })
  const source = new KubernetesClusterSource(config.clusters[0]!, config, { sinks: writers.sinks, query: store.query, logger, now })
  sources.push(source)
  return source
}

const q = <T>(sql: string, params: Params) => store.query<T>(sql, params)

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

const INTERVALS = `SELECT pod, workload_kind AS kind, workload_name AS name, team, project, user, node, gpus, gpu_resource AS resource, phase,
  toUnixTimestamp64Milli(start_ts) AS start_ms, toUnixTimestamp64Milli(end_ts) AS end_ms, toUnixTimestamp64Milli(last_seen_ts) AS seen_ms
  FROM workload_intervals FINAL WHERE cluster = {c:String} ORDER BY pod`
interface Row { pod: string; kind: string; name: string; team: string; project: string; user: string; node: string; gpus: number; resource: string; phase: string; start_ms: number | null; end_ms: number | null; seen_ms: number }

describe('Kubernetes collector on the Alibaba v2023 snapshot', () => {
  it('stores 1,213 GPU nodes (6,212 GPUs), 4,149 running GPU pods holding 3,373.3 GPUs and 861 pending GPU pods, paging the lists', async () => {
    const { fake, url } = await fakeApi()
    const nodes = alibabaNodes()
    for (const n of nodes) fake.add('nodes', n)
    alibabaPodRows().forEach((row, i) => fake.add('pods', alibabaPod(row, nodes[i % nodes.length]!.metadata.name)))
    const source = collector('openb', url)
    const h = health()
    await source.start(h)
    await source.whenSynced()

    const [cap] = await q<{ n: number; cap: number; alloc: number; ready: number }>(
      'SELECT count() AS n, sum(capacity_gpus) AS cap, sum(allocatable_gpus) AS alloc, countIf(ready) AS ready FROM node_state WHERE cluster = {c:String}', { c: 'openb' })
    expect(cap).toEqual({ n: 1213, cap: 6212, alloc: 6212, ready: 1213 })
    const byPhase = await q<{ phase: string; n: number; gpus: number; unbound: number }>(
      `SELECT phase, count() AS n, round(sum(gpus), 1) AS gpus, countIf(node = '' AND start_ts IS NULL) AS unbound
       FROM workload_intervals FINAL WHERE cluster = {c:String} GROUP BY phase ORDER BY phase`, { c: 'openb' })
    expect(byPhase.find((r) => r.phase === 'Running')).toMatchObject({ n: 4149, gpus: 3373.3, unbound: 0 })
    expect(byPhase.find((r) => r.phase === 'Pending')).toMatchObject({ n: 861, unbound: 861 })
    // Only pods that request GPUs are stored: 8,152 pods, 1,088 of them without GPUs.
    expect(byPhase.reduce((s, r) => s + r.n, 0)).toBe(8152 - 1088)

    const [shared] = await q<Row>(`${INTERVALS.replace('ORDER BY pod', "AND pod = {p:String}")}`, { c: 'openb', p: 'openb-pod-0001' })
    expect(shared).toMatchObject({ gpus: 0.46, resource: 'alibabacloud.com/gpu-count', kind: 'Pod', phase: 'Running', start_ms: ALIBABA_T0_MS + 427_061_000, end_ms: null })
    const [finished] = await q<Row>(`${INTERVALS.replace('ORDER BY pod', "AND pod = {p:String}")}`, { c: 'openb', p: 'openb-pod-0017' })
    expect(finished).toMatchObject({ gpus: 8, phase: 'Succeeded', start_ms: ALIBABA_T0_MS + 9_437_497_000, end_ms: ALIBABA_T0_MS + 10_769_854_000 })

    const podLists = fake.requestsOf('pods', false)
    expect(podLists.length).toBe(Math.ceil(8152 / 500))
    expect(podLists.filter((r) => r.continue !== undefined).length).toBe(podLists.length - 1)
    expect(fake.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true)
    expect(logLines.join('\n')).not.toContain(TOKEN)
    expect(h.ok).toBeGreaterThan(0)
    await source.stop()
  })
})

describe('owners, teams and notebooks', () => {
  it('walks Deployment, CronJob, Notebook and PyTorchJob owners, counts MIG slices, and takes team/user from pod, owner or namespace', async () => {
    const { fake, url } = await fakeApi()
    fake.add('nodes', { metadata: { name: 'dgx-1', labels: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB' } }, status: { capacity: { 'nvidia.com/gpu': '4', 'nvidia.com/mig-1g.10gb': '7' }, conditions: [{ type: 'Ready', status: 'True' }] } })
    fake.add('namespaces', { metadata: { name: 'vision', labels: { team: 'vision', project: 'detector' } } })
    fake.add('namespaces', { metadata: { name: 'kubeflow-user-example-com', annotations: { owner: 'user@example.com' } } })
    fake.add('namespaces', { metadata: { name: 'my-data-science-project', labels: { team: 'ds' } } })
    const rs = fake.add('replicasets', { metadata: { name: 'serve-5d8f7c9b4', namespace: 'vision', ownerReferences: [{ kind: 'Deployment', name: 'serve', uid: 'd1', controller: true }] } })
    const job = fake.add('jobs', { metadata: { name: 'nightly-28462800', namespace: 'vision', ownerReferences: [{ kind: 'CronJob', name: 'nightly', uid: 'cj1', controller: true }] } })
    const [sample, workbench] = kubeflowNotebooks().map((nb) => fake.add('notebooks', nb))
    const gpuPod = (name: string, ns: string, resources: Record<string, string>, meta: Partial<KubeObj['metadata']> = {}, node = 'dgx-1'): KubeObj => ({
      metadata: { name, namespace: ns, ...meta },
      spec: { nodeName: node, containers: [{ name: 'main', resources: { limits: resources } }] },
      status: { phase: 'Running', conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: '2025-01-01T00:00:00Z' }] },
    })
    fake.add('pods', gpuPod('serve-5d8f7c9b4-x2x4q', 'vision', { 'nvidia.com/mig-1g.10gb': '1' }, { labels: { 'pod-template-hash': '5d8f7c9b4' }, ownerReferences: [{ kind: 'ReplicaSet', name: rs.metadata.name, uid: rs.metadata.uid, controller: true }] }))
    fake.add('pods', gpuPod('cpu-only', 'vision', { cpu: '2' }))
    const source = collector('owners', url)
    await source.start(health())
    await source.whenSynced()
    // Objects created while the collector watches.
    fake.add('pods', gpuPod('nightly-28462800-7hx2k', 'vision', { 'nvidia.com/gpu': '2' }, { labels: { user: 'ana' }, ownerReferences: [{ kind: 'Job', name: job.metadata.name, uid: job.metadata.uid, controller: true }] }))
    fake.add('pods', gpuPod('bert-worker-0', 'vision', { 'nvidia.com/gpu': '8' }, { labels: { 'gpuscope.io/team': 'nlp' }, ownerReferences: [{ kind: 'PyTorchJob', name: 'bert', uid: 'pt1', controller: true }] }))
    for (const nb of [sample!, workbench!]) {
      const { statefulSet, pod } = notebookWorkload(nb, nb === sample ? { 'nvidia.com/mig-1g.10gb': '1' } : { 'nvidia.com/gpu': '1' }, 'dgx-1')
      fake.add('statefulsets', statefulSet)
      fake.add('pods', pod)
    }
    const want = [
      { pod: 'bert-worker-0', kind: 'PyTorchJob', name: 'bert', team: 'nlp', project: 'detector', user: '', gpus: 8 },
      { pod: 'my-workbench-0', kind: 'Notebook', name: 'my-workbench', team: 'ds', project: '', user: 'kube:admin', gpus: 1 },
      { pod: 'nightly-28462800-7hx2k', kind: 'CronJob', name: 'nightly', team: 'vision', project: 'detector', user: 'ana', gpus: 2 },
      { pod: 'notebook-sample-v1-0', kind: 'Notebook', name: 'notebook-sample-v1', team: '', project: '', user: 'user@example.com', gpus: 1 / 7 },
      { pod: 'serve-5d8f7c9b4-x2x4q', kind: 'Deployment', name: 'serve', team: 'vision', project: 'detector', user: '', gpus: 1 / 7 },
    ]
    await eventually(async () => {
      const rows = await q<Row>(INTERVALS, { c: 'owners' })
      expect(rows.map(({ pod, kind, name, team, project, user, gpus }) => ({ pod, kind, name, team, project, user, gpus }))).toEqual(want)
    })
    const [cap] = await q<{ cap: number }>('SELECT argMax(capacity_gpus, ts) AS cap FROM node_state WHERE cluster = {c:String}', { c: 'owners' })
    expect(cap).toEqual({ cap: 5 })

    const names = () => source.notebooks().map((n) => `${n.namespace}/${n.name}:${n.baseUrl}`).sort()
    expect(names()).toEqual(['kubeflow-user-example-com/notebook-sample-v1:', 'my-data-science-project/my-workbench:'])
    fake.update('notebooks', 'kubeflow-user-example-com', 'notebook-sample-v1', (o) => {
      o.metadata.annotations = { 'kubeflow-resource-stopped': '2024-07-30T20:52:37Z' }
    })
    await eventually(() => expect(names()).toEqual(['my-data-science-project/my-workbench:']))
    await source.stop()
  })
})

describe('rows follow changes, not events', () => {
  it('writes node_state on appearance and change only, node_seen on the node heartbeat; updates one interval per pod; rewrites last_seen of open intervals on the heartbeat', async () => {
    const { fake, url } = await fakeApi()
    let clock = Date.UTC(2025, 0, 1)
    const gpuNode = { metadata: { name: 'g1', labels: { 'nvidia.com/gpu.product': 'NVIDIA-L4' } }, status: { capacity: { 'nvidia.com/gpu': '8' }, conditions: [{ type: 'Ready', status: 'True' }] } }
    fake.add('nodes', gpuNode)
    fake.add('nodes', { metadata: { name: 'cpu-1' }, status: { capacity: { cpu: '64' }, conditions: [{ type: 'Ready', status: 'True' }] } })
    const done = { metadata: { name: 'done', namespace: 'ml' }, spec: { nodeName: 'g1', containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }] }, status: { phase: 'Succeeded', containerStatuses: [{ name: 'c', state: { terminated: { finishedAt: '2024-12-31T23:00:00Z' } } }] } }
    fake.add('pods', done)
    const source = collector('changes', url, () => clock)
    await source.start(health())
    await source.whenSynced()
    const nodeRows = () => q<{ node: string; ts: number; schedulable: boolean; cap: number; ready: boolean }>(
      'SELECT node, toUnixTimestamp64Milli(ts) AS ts, schedulable, capacity_gpus AS cap, ready FROM node_state WHERE cluster = {c:String} ORDER BY ts, schedulable DESC', { c: 'changes' })

    // A status-only change (what kubelets send every few seconds) writes nothing; cordoning writes a row.
    fake.update('nodes', '', 'g1', (o) => {
      o.metadata.annotations = { 'node.alpha.kubernetes.io/ttl': '0' }
    })
    fake.update('nodes', '', 'g1', (o) => {
      o.spec = { unschedulable: true }
    })
    await eventually(async () => expect((await nodeRows()).length).toBe(2))
    expect((await nodeRows()).map((r) => [r.node, r.schedulable])).toEqual([['g1', true], ['g1', false]])

    const pending = { metadata: { name: 'waiter', namespace: 'ml' }, spec: { containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }] }, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] } }
    fake.add('pods', pending)
    await eventually(async () => expect((await q<Row>(INTERVALS, { c: 'changes' })).map((r) => [r.pod, r.phase, r.node])).toEqual([['done', 'Succeeded', 'g1'], ['waiter', 'Pending', '']]))
    fake.update('pods', 'ml', 'waiter', (o) => {
      o.spec = { ...(o.spec as object), nodeName: 'g1' }
      o.status = { phase: 'Running', conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: '2025-01-01T00:00:10Z' }] }
    })
    await eventually(async () => expect((await q<Row>(INTERVALS, { c: 'changes' }))[1]).toMatchObject({ pod: 'waiter', phase: 'Running', node: 'g1', start_ms: Date.UTC(2025, 0, 1, 0, 0, 10) }))
    const [{ n }] = (await q<{ n: number }>('SELECT count() AS n FROM workload_intervals FINAL WHERE cluster = {c:String}', { c: 'changes' })) as [{ n: number }]
    expect(n).toBe(2)

    const before = await q<Row>(INTERVALS, { c: 'changes' })
    clock += 600_000
    source.heartbeat()
    await source.flush()
    const after = await q<Row>(INTERVALS, { c: 'changes' })
    expect(after.find((r) => r.pod === 'waiter')?.seen_ms).toBe(clock)
    expect(after.find((r) => r.pod === 'done')?.seen_ms).toBe(before.find((r) => r.pod === 'done')?.seen_ms)
    // The node heartbeat repeats no unchanged row into node_state (changes only); it marks the node seen in node_seen.
    const seenRows = () => q<{ node: string; seen: number }>(
      'SELECT node, toUnixTimestamp64Milli(last_seen_ts) AS seen FROM node_seen FINAL WHERE cluster = {c:String} ORDER BY node', { c: 'changes' })
    expect((await nodeRows()).map((r) => [r.node, r.ts])).toEqual([['g1', Date.UTC(2025, 0, 1)], ['g1', Date.UTC(2025, 0, 1)]])
    expect(await seenRows()).toEqual([{ node: 'g1', seen: clock }])
    // The next interval heartbeat, before nodeHeartbeatMs has passed again, marks nothing but still refreshes last_seen.
    const nodeBeat = clock
    clock += 300_000
    source.heartbeat()
    await source.flush()
    expect((await nodeRows()).map((r) => r.ts)).toEqual([Date.UTC(2025, 0, 1), Date.UTC(2025, 0, 1)])
    expect(await seenRows()).toEqual([{ node: 'g1', seen: nodeBeat }])
    // After nodeHeartbeatMs, the next node heartbeat moves node_seen on; node_state still has no repeat.
    clock += 600_000
    source.heartbeat()
    await source.flush()
    expect(await seenRows()).toEqual([{ node: 'g1', seen: clock }])
    expect(await nodeRows()).toHaveLength(2)
    expect((await q<Row>(INTERVALS, { c: 'changes' })).find((r) => r.pod === 'waiter')?.seen_ms).toBe(clock)

    clock += 1_000
    fake.remove('nodes', '', 'g1')
    await eventually(async () => expect((await nodeRows()).at(-1)).toMatchObject({ node: 'g1', ts: clock, cap: 0, ready: false, schedulable: false }))
    fake.remove('pods', 'ml', 'waiter')
    await eventually(async () => expect((await q<Row>(INTERVALS, { c: 'changes' }))[1]).toMatchObject({ pod: 'waiter', phase: 'Deleted', end_ms: clock }))
    await source.stop()
  })
})
