import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../api/app'
import { createMetrics } from '../api/metrics'
import { NO_SAMPLES, unknownImages, workloadId } from '../api/routes/workloads'
import type { ActionRecord, GpuSample, NodeState, WorkloadInterval } from '../core/model'
import { openTestStore, silentLogger, type TestStore } from './helpers/store'

const NOW = Date.UTC(2026, 5, 10, 12, 0, 0)
const MIN = 60_000
const HOUR = 60 * MIN
const iso = (ms: number) => new Date(ms).toISOString()

const pod = (over: Partial<WorkloadInterval> & Pick<WorkloadInterval, 'podUid' | 'pod' | 'workloadName'>): WorkloadInterval => ({
  cluster: 'c1',
  namespace: 'ml',
  workloadKind: 'Job',
  team: 'vision',
  project: 'cars',
  user: 'ada',
  node: 'n1',
  gpus: 4,
  gpuResource: 'nvidia.com/gpu',
  createdMs: NOW - 3 * HOUR,
  lastSeenMs: NOW,
  phase: 'Running',
  ...over,
})

const PYTORCH_2403 = 'nvcr.io/nvidia/pytorch:24.03-py3'
const PYTORCH_2405 = 'nvcr.io/nvidia/pytorch:24.05-py3'
const EXPORTER = 'quay.io/prometheus/node-exporter:v1.8.1'

/**
 * train: p1 [now-3h, now-1h) and p2 [now-2h, open), 4 GPUs each, with images (p2 moved to a newer PyTorch);
 * nb: one MIG 1g slice for 5 h, stored without images (a row from before they were collected); queued: pending;
 * old: 10 days ago, one pod stored without images and one with.
 */
const INTERVALS: WorkloadInterval[] = [
  pod({ podUid: 'u1', pod: 'train-p1', workloadName: 'train', startMs: NOW - 3 * HOUR, endMs: NOW - HOUR, phase: 'Succeeded', createdMs: NOW - 3 * HOUR - MIN, images: [PYTORCH_2403, EXPORTER] }),
  pod({ podUid: 'u2', pod: 'train-p2', workloadName: 'train', node: 'n2', startMs: NOW - 2 * HOUR, createdMs: NOW - 2 * HOUR, images: [PYTORCH_2405, EXPORTER] }),
  pod({ podUid: 'u3', pod: 'nb-0', namespace: 'nlp', workloadKind: 'Notebook', workloadName: 'nb', team: 'text', user: 'bob', gpus: 1 / 7, gpuResource: 'nvidia.com/mig-1g.10gb', startMs: NOW - 5 * HOUR, createdMs: NOW - 5 * HOUR }),
  pod({ podUid: 'u4', pod: 'queued-0', workloadName: 'queued', node: '', gpus: 8, createdMs: NOW - 30 * MIN, phase: 'Pending', images: [PYTORCH_2405] }),
  pod({ podUid: 'u5', pod: 'old-0', workloadName: 'old', startMs: NOW - 10 * 24 * HOUR, endMs: NOW - 10 * 24 * HOUR + HOUR, createdMs: NOW - 10 * 24 * HOUR, phase: 'Succeeded' }),
  pod({ podUid: 'u6', pod: 'old-1', workloadName: 'old', startMs: NOW - 10 * 24 * HOUR, endMs: NOW - 10 * 24 * HOUR + HOUR, createdMs: NOW - 10 * 24 * HOUR + MIN, phase: 'Succeeded', images: [PYTORCH_2403] }),
]

const node = (name: string): NodeState => ({ tsMs: NOW - 24 * HOUR, cluster: 'c1', node: name, pool: 'a100', gpuModel: 'NVIDIA A100-SXM4-80GB', provider: 'onprem', instanceType: '', spot: false, capacityGpus: 8, allocatableGpus: 8, ready: true, schedulable: true })

/** p1's GPUs report only GPU_UTIL (0.75; exact in Float32); p2's report GR_ENGINE_ACTIVE (0.5), 10 GiB used, 20 GiB once, 200 W. */
function samples(): GpuSample[] {
  const rows: GpuSample[] = []
  const base = { cluster: 'c1', model: 'NVIDIA A100-SXM4-80GB', migProfile: '', namespace: 'ml', container: 'main' }
  for (let t = NOW - 3 * HOUR; t < NOW - HOUR; t += MIN) {
    for (let g = 0; g < 4; g++) rows.push({ ...base, tsMs: t, node: 'n1', gpuUuid: `GPU-a${g}`, gpuIndex: g, pod: 'train-p1', gpuUtilRatio: 0.75 })
  }
  for (let t = NOW - 2 * HOUR; t < NOW; t += MIN) {
    for (let g = 0; g < 4; g++) {
      const fb = t === NOW - 30 * MIN && g === 0 ? 20 * 2 ** 30 : 10 * 2 ** 30
      rows.push({ ...base, tsMs: t, node: 'n2', gpuUuid: `GPU-b${g}`, gpuIndex: g, pod: 'train-p2', grEngineActiveRatio: 0.5, fbUsedBytes: fb, powerWatts: 200 })
    }
  }
  return rows
}

const ACTION: ActionRecord = { tsMs: NOW - 30 * MIN, id: 'a1', action: 'idle-warning', cluster: 'c1', namespace: 'ml', workloadKind: 'Job', workloadName: 'train', decision: 'warn', dryRun: true, acted: false, reason: 'utilization below 5% for 60m', evidence: { utilRatio: 0.01 }, actor: 'enforcer' }

let ts: TestStore
let server: Server
let base: string

beforeAll(async () => {
  ts = await openTestStore()
  const { sinks } = ts.writers
  const writes = [sinks.workloadIntervals.write(INTERVALS), sinks.nodeState.write([node('n1'), node('n2')]), sinks.gpuSamples.write(samples()), sinks.actions.write([ACTION])]
  await ts.writers.flush()
  await Promise.all(writes)
  const app = createApp({
    logger: silentLogger,
    metrics: createMetrics({ writerStats: () => [], collectorHealth: () => [] }),
    readiness: async () => [],
    version: 'test',
    routes: { query: ts.store.query, config: ts.config, logger: silentLogger, now: () => NOW },
  })
  server = app.listen(0, '127.0.0.1')
  await new Promise<void>((r) => server.once('listening', () => r()))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`
})

afterAll(async () => {
  await new Promise<void>((r) => server?.close(() => r()))
  await ts?.close()
})

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string; type: string }> {
  const res = await fetch(base + path, { headers })
  const text = await res.text()
  const type = res.headers.get('content-type') ?? ''
  return { status: res.status, text, type, body: type.includes('json') ? JSON.parse(text) : undefined }
}

const names = (body: any) => body.data.workloads.map((w: any) => w.name)
const TRAIN = workloadId({ cluster: 'c1', namespace: 'ml', kind: 'Job', name: 'train' })

describe('GET /api/v1/workloads', () => {
  it('groups pods into workloads, most GPU-hours in the window first, with owner, state, pods and GPUs', async () => {
    const { status, body } = await get('/workloads?window=24h')
    expect(status).toBe(200)
    expect(body.data).toMatchObject({ window: { from: iso(NOW - 24 * HOUR), to: iso(NOW) }, total: 3, limit: 100, offset: 0, next: null })
    expect(names(body)).toEqual(['train', 'nb', 'queued'])
    expect(body.data.workloads[0]).toEqual({
      id: TRAIN, cluster: 'c1', namespace: 'ml', kind: 'Job', name: 'train', team: 'vision', project: 'cars', user: 'ada', state: 'running',
      pods: 2, podsRunning: 1, podsPending: 0, gpusAllocated: 4, gpusPending: 0, gpuResources: ['nvidia.com/gpu'],
      firstCreated: iso(NOW - 3 * HOUR - MIN), firstStart: iso(NOW - 3 * HOUR), lastEnd: null, gpuHours: 16,
    })
    expect(body.data.workloads[1].gpuHours).toBeCloseTo(5 / 7, 12)
    expect(body.data.workloads[2]).toMatchObject({ state: 'pending', gpusPending: 8, gpuHours: 0, firstStart: null })
  })

  it('clips GPU-hours to the window: 1h window holds 4 GPU-hours of train', async () => {
    const { body } = await get('/workloads?window=1h&kind=Job&state=running')
    expect(body.data.workloads.map((w: any) => [w.name, w.gpuHours])).toEqual([['train', 4]])
  })

  it.each([
    { name: 'team', q: 'window=24h&team=text', want: ['nb'] },
    { name: 'kind', q: 'window=24h&kind=Notebook', want: ['nb'] },
    { name: 'namespace', q: 'window=24h&namespace=ml', want: ['train', 'queued'] },
    { name: 'cluster', q: 'window=24h&cluster=c2', want: [] },
    { name: 'state', q: 'window=24h&state=pending', want: ['queued'] },
    { name: 'text search, case-insensitive', q: 'window=24h&q=TRA', want: ['train'] },
    { name: 'text search on the user', q: 'window=24h&q=bob', want: ['nb'] },
    { name: 'a longer window finds finished work', q: 'window=30d&state=finished', want: ['old'] },
  ])('filters by $name', async ({ q, want }) => {
    const { status, body } = await get(`/workloads?${q}`)
    expect(status).toBe(200)
    expect(names(body)).toEqual(want)
  })

  it('pages with limit and offset and says where the next page starts', async () => {
    const { body } = await get('/workloads?window=24h&limit=1&offset=1')
    expect(names(body)).toEqual(['nb'])
    expect(body.data).toMatchObject({ total: 3, limit: 1, offset: 1, next: 2 })
  })

  it('answers CSV with a header row when format=csv', async () => {
    const { status, text, type } = await get('/workloads?window=24h&limit=1&format=csv')
    expect(status).toBe(200)
    expect(type).toContain('text/csv')
    const [header, first] = text.trim().split('\n')
    expect(header).toBe('id,cluster,namespace,kind,name,team,project,user,state,pods,podsRunning,podsPending,gpusAllocated,gpusPending,gpuResources,firstCreated,firstStart,lastEnd,gpuHours')
    expect(first).toBe(`${TRAIN},c1,ml,Job,train,vision,cars,ada,running,2,1,0,4,0,nvidia.com/gpu,${iso(NOW - 3 * HOUR - MIN)},${iso(NOW - 3 * HOUR)},,16`)
  })

  it.each([
    { name: 'bad window', q: 'window=yesterday', want: "bad window 'yesterday': expected a duration like 24h or 7d, a range FROM,TO in RFC 3339, a quarter like 2026-Q3, a month like 2026-09 or a day like 2026-09-14" },
    { name: 'limit 0', q: 'limit=0', want: 'bad query: limit: Too small: expected number to be >=1' },
    { name: 'unknown state', q: 'state=idle', want: 'bad query: state: Invalid option: expected one of "running"|"pending"|"finished"' },
    { name: 'unknown parameter', q: 'groupBy=team', want: "bad query: unknown parameter(s) 'groupBy'" },
  ])('400 for $name with the exact message', async ({ q, want }) => {
    const { status, body } = await get(`/workloads?${q}`)
    expect(status).toBe(400)
    expect(body).toEqual({ status: 'error', error: { type: 'bad_input', message: want } })
  })
})

describe('GET /api/v1/workloads/:id', () => {
  it('is the 360 view: owner, pods and nodes, GPUs, GPU-hours, utilization with its metric, memory, power, actions', async () => {
    const { status, body } = await get(`/workloads/${TRAIN}?window=3h&step=1h`)
    expect(status).toBe(200)
    const d = body.data
    expect(d).toMatchObject({
      id: TRAIN, cluster: 'c1', namespace: 'ml', kind: 'Job', name: 'train', owner: { team: 'vision', project: 'cars', user: 'ada' },
      state: 'running', created: iso(NOW - 3 * HOUR - MIN), start: iso(NOW - 3 * HOUR), end: null,
      resources: { gpuResources: ['nvidia.com/gpu'], gpusAllocated: 4, gpusPending: 0, peakGpus: 8 },
      window: { from: iso(NOW - 3 * HOUR), to: iso(NOW) }, gpuHours: 16,
      utilization: { utilRatio: 0.5, metric: 'DCGM_FI_PROF_GR_ENGINE_ACTIVE', fbUsedBytesMax: 20 * 2 ** 30, powerWattsPerGpu: 200 },
    })
    expect(d.pods.map((p: any) => [p.name, p.node, p.phase, p.start, p.end])).toEqual([
      ['train-p1', 'n1', 'Succeeded', iso(NOW - 3 * HOUR), iso(NOW - HOUR)],
      ['train-p2', 'n2', 'Running', iso(NOW - 2 * HOUR), null],
    ])
    expect(d.nodes).toEqual([
      { node: 'n1', gpuModel: 'NVIDIA A100-SXM4-80GB', pool: 'a100', provider: 'onprem' },
      { node: 'n2', gpuModel: 'NVIDIA A100-SXM4-80GB', pool: 'a100', provider: 'onprem' },
    ])
    expect(d.series).toMatchObject({ stepMs: HOUR, rollup: '1m' })
    expect(d.series.points.map((p: any) => [p.time, p.allocatedGpus, p.utilRatio, p.utilMetric])).toEqual([
      [iso(NOW - 3 * HOUR), 4, 0.75, 'DCGM_FI_DEV_GPU_UTIL'],
      [iso(NOW - 2 * HOUR), 8, 0.5, 'DCGM_FI_PROF_GR_ENGINE_ACTIVE'],
      [iso(NOW - HOUR), 4, 0.5, 'DCGM_FI_PROF_GR_ENGINE_ACTIVE'],
    ])
    expect(d.actions).toEqual([{ time: iso(NOW - 30 * MIN), id: 'a1', action: 'idle-warning', decision: 'warn', dryRun: true, acted: false, reason: 'utilization below 5% for 60m', evidence: { utilRatio: 0.01 }, actor: 'enforcer' }])
    expect(d.idle).toMatchObject({ verdict: 'active', state: 'active', metric: 'DCGM_FI_PROF_GR_ENGINE_ACTIVE', idleSinceMs: null, wastedGpuHours: 0 })
    expect(body.warnings).toEqual([])
  })

  it("lists the workload's container images: distinct, oldest pod first, each pod's in spec order; and each pod's own", async () => {
    const { body } = await get(`/workloads/${TRAIN}?window=3h&step=1h`)
    expect(body.data.images).toEqual([PYTORCH_2403, EXPORTER, PYTORCH_2405])
    expect(body.data.pods.map((p: any) => [p.name, p.images])).toEqual([['train-p1', [PYTORCH_2403, EXPORTER]], ['train-p2', [PYTORCH_2405, EXPORTER]]])
    expect(body.warnings.some((w: string) => w.includes('image'))).toBe(false)
  })

  it('shows images as null, with a warning naming the pods, when its pods were stored before images were collected', async () => {
    const { body } = await get(`/workloads/${workloadId({ cluster: 'c1', namespace: 'nlp', kind: 'Notebook', name: 'nb' })}`)
    expect(body.data.images).toBeNull()
    expect(body.data.pods.map((p: any) => p.images)).toEqual([null])
    expect(body.warnings).toContain('container images are unknown for 1 of 1 pod (nb-0): recorded before gpuscope collected images (store migration 0005)')
  })

  it('shows the known images of a workload whose older pods have none, and names only those pods', async () => {
    const { body } = await get(`/workloads/${workloadId({ cluster: 'c1', namespace: 'ml', kind: 'Job', name: 'old' })}`)
    expect(body.data.images).toEqual([PYTORCH_2403])
    expect(body.data.pods.map((p: any) => [p.name, p.images])).toEqual([['old-0', null], ['old-1', [PYTORCH_2403]]])
    expect(body.warnings).toEqual([NO_SAMPLES, unknownImages(['old-0'], 2)])
    expect(unknownImages(['old-0'], 2)).toBe('container images are unknown for 1 of 2 pods (old-0): recorded before gpuscope collected images (store migration 0005)')
  })

  it('names at most five pods without images and counts the rest', () => {
    expect(unknownImages(['a', 'b', 'c', 'd', 'e', 'f', 'g'], 9)).toBe(
      'container images are unknown for 7 of 9 pods (a, b, c, d, e, and 2 more): recorded before gpuscope collected images (store migration 0005)',
    )
  })

  it('covers the workload life by default; no GPU sample mapped to its pods makes utilization and the idle verdict unknown', async () => {
    const id = workloadId({ cluster: 'c1', namespace: 'nlp', kind: 'Notebook', name: 'nb' })
    const { body } = await get(`/workloads/${id}`)
    expect(body.data.window).toEqual({ from: iso(NOW - 5 * HOUR), to: iso(NOW) })
    expect(body.data.gpuHours).toBeCloseTo(5 / 7, 12)
    expect(body.data.utilization).toEqual({ utilRatio: null, metric: null, fbUsedBytesMax: null, powerWattsPerGpu: null })
    expect(body.data.series.points.every((p: any) => p.utilRatio === null && p.utilMetric === null)).toBe(true)
    expect(body.data.idle).toMatchObject({ verdict: 'unknown', state: 'unknown', metric: 'none' })
    expect(body.warnings).toEqual([NO_SAMPLES, unknownImages(['nb-0'], 1)])
  })

  it('has no idle verdict for a workload that holds no GPUs (pending or finished)', async () => {
    const { body } = await get(`/workloads/${workloadId({ cluster: 'c1', namespace: 'ml', kind: 'Job', name: 'queued' })}`)
    expect(body.data).toMatchObject({ state: 'pending', idle: null, start: null, resources: { gpusAllocated: 0, gpusPending: 8, peakGpus: 0 }, gpuHours: 0 })
  })

  it('answers the pods as CSV', async () => {
    const { text } = await get(`/workloads/${TRAIN}?format=csv`)
    expect(text.split('\n')[0]).toBe('uid,name,node,phase,gpus,gpuResource,created,start,end,lastSeen')
    expect(text.split('\n')[1]).toBe(`u1,train-p1,n1,Succeeded,4,nvidia.com/gpu,${iso(NOW - 3 * HOUR - MIN)},${iso(NOW - 3 * HOUR)},${iso(NOW - HOUR)},${iso(NOW)}`)
  })

  it.each([
    { name: 'malformed id', id: 'not*an*id', status: 404, want: "malformed workload id 'not*an*id': use an id from GET /api/v1/workloads (base64url of cluster/namespace/kind/name)" },
    { name: 'id missing its name', id: Buffer.from('c1/ml/Job').toString('base64url'), status: 404, want: `malformed workload id '${Buffer.from('c1/ml/Job').toString('base64url')}': use an id from GET /api/v1/workloads (base64url of cluster/namespace/kind/name)` },
    { name: 'unknown workload', id: workloadId({ cluster: 'c1', namespace: 'ml', kind: 'Job', name: 'nope' }), status: 404, want: "no workload Job 'nope' in namespace 'ml' of cluster 'c1'" },
  ])('404 for $name with the exact message', async ({ id, status, want }) => {
    const res = await get(`/workloads/${id}`)
    expect(res.status).toBe(status)
    expect(res.body).toEqual({ status: 'error', error: { type: 'not_found', message: want } })
  })

  it.each([
    { name: 'step not whole minutes', q: 'step=90s', want: "bad step '90s': the series is read from 1-minute rollups, so the step must be whole minutes" },
    { name: 'too many points', q: 'window=30d&step=1m', want: 'needs 43200 points, more than the limit of 11000' },
  ])('400 for $name', async ({ q, want }) => {
    const res = await get(`/workloads/${TRAIN}?${q}`)
    expect(res.status).toBe(400)
    expect(res.body.error.message).toContain(want)
  })
})
