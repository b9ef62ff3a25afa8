import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Config } from '../config/schema'
import type { GpuSample, NodeState, WorkloadInterval } from '../core/model'
import { openTestStore, type TestStore } from './helpers/store'
import { getFrom, startTestApp, teamHeaderAuth, type TestApp } from './helpers/app'

// A small fleet whose every answer is computed by hand below. NOW is noon on the
// 15th of the current UTC month, so the store's rollup TTLs never age the data out
// and the calendar figures are checked against real month lengths.
const HOUR = 3_600_000
const DAY = 24 * HOUR
const today = new Date()
const Y = today.getUTCFullYear()
const M = today.getUTCMonth()
/** Day d, hour h of the current month (UTC). */
const T = (d: number, h = 0) => Date.UTC(Y, M, d, h)
const NOW = T(15, 12)
const iso = (ms: number) => new Date(ms).toISOString()
const monthStart = (offset: number) => {
  const d = new Date(0)
  d.setUTCFullYear(Y, M + offset, 1)
  return d.getTime()
}

const node = (n: string, cluster: string, pool: string, gpuModel: string, gpus: number, tsMs: number, over: Partial<NodeState> = {}): NodeState => ({
  tsMs, cluster, node: n, pool, gpuModel, provider: 'onprem', instanceType: '', spot: false, capacityGpus: gpus, allocatableGpus: gpus, ready: true, schedulable: true, ...over,
})
const NODES: NodeState[] = [
  node('a1', 'c1', 'train', 'NVIDIA-H100-80GB-HBM3', 8, monthStart(-6)),
  node('a2', 'c1', 'train', 'NVIDIA-H100-80GB-HBM3', 8, T(1)),
  node('a2', 'c1', 'train', 'NVIDIA-H100-80GB-HBM3', 8, T(15, 6), { ready: false }),
  // Seven 1g.10gb slices of one A100: capacity 1 GPU.
  node('m1', 'c1', 'infer', 'NVIDIA-A100-SXM4-80GB', 1, T(1)),
  node('g1', 'c2', 'burst', 'NVIDIA-A100-SXM4-40GB', 8, T(10), { provider: 'aws', instanceType: 'p4d.24xlarge' }),
]

interface Pod {
  uid: string
  cluster?: string
  ns: string
  kind?: string
  name: string
  team: string
  project?: string
  node: string
  gpus: number
  created?: number
  start?: number
  end?: number
}
const interval = (p: Pod): WorkloadInterval => ({
  cluster: p.cluster ?? 'c1', podUid: p.uid, namespace: p.ns, pod: `${p.name}-0`, workloadKind: p.kind ?? 'Job', workloadName: p.name, team: p.team,
  project: p.project ?? '', user: '', node: p.node, gpus: p.gpus, gpuResource: p.gpus < 1 ? 'nvidia.com/mig-1g.10gb' : 'nvidia.com/gpu',
  createdMs: p.created ?? p.start ?? NOW, startMs: p.start, endMs: p.end, lastSeenMs: p.end ?? NOW, phase: p.start === undefined ? 'Pending' : p.end === undefined ? 'Running' : 'Succeeded',
})
const PODS: Pod[] = [
  { uid: 'p1', ns: 'vision', name: 'train-det', team: 'vision', project: 'det', node: 'a1', gpus: 4, start: T(14, 22), end: T(15, 3) },
  { uid: 'p2', ns: 'nlp', name: 'train-llm', team: 'nlp', project: 'llm', node: 'a1', gpus: 4, start: T(15, 1) },
  { uid: 'p3', ns: 'nlp', name: 'eval-llm', team: 'nlp', project: 'llm', node: 'a2', gpus: 2, start: T(15, 5), end: T(15, 9) },
  { uid: 'p4', ns: 'vision', kind: 'Deployment', name: 'seg-infer', team: 'vision', project: 'seg', node: 'm1', gpus: 1 / 7, start: T(15, 0) },
  { uid: 'p5', ns: 'nlp', name: 'train-big', team: 'nlp', project: 'llm', node: '', gpus: 4, created: T(15, 10) },
  { uid: 'p6', ns: 'vision-nb', kind: 'Notebook', name: 'nb-ann', team: 'vision', project: 'det', node: 'a1', gpus: 2, created: T(15, 2), start: T(15, 4), end: T(15, 5) },
  { uid: 'p7', cluster: 'c2', ns: 'nlp', name: 'finetune', team: 'nlp', project: 'llm', node: 'g1', gpus: 8, start: T(11), end: T(13) },
  { uid: 'p8', ns: 'scratch', kind: 'Pod', name: 'debug', team: '', node: 'a2', gpus: 1, start: T(14), end: T(14, 10) },
  { uid: 'p9', ns: 'vision-nb', kind: 'Notebook', name: 'nb-cy', team: 'vision', project: 'det', node: 'a1', gpus: 1, start: T(15, 8) },
  { uid: 'p10', cluster: 'c2', ns: 'nlp', kind: 'Deployment', name: 'chat-serve', team: 'nlp', project: 'chat', node: 'g1', gpus: 2, start: T(15, 10) },
  { uid: 'p11', ns: 'vision', name: 'old-train', team: 'vision', project: 'det', node: 'a1', gpus: 8, start: monthStart(-1), end: monthStart(-1) + 9 * DAY },
]

/** One sample per GPU per hour, at half past, over [fromMs, toMs). */
function hourly(pod: string, ns: string, nodeName: string, gpuIndexes: number[], fromMs: number, toMs: number, metrics: Partial<GpuSample>, cluster = 'c1'): GpuSample[] {
  const rows: GpuSample[] = []
  for (let t = fromMs + HOUR / 2; t < toMs; t += HOUR) {
    for (const g of gpuIndexes) {
      rows.push({
        tsMs: t, cluster, node: nodeName, gpuUuid: `GPU-${nodeName}-${g}`, gpuIndex: g, model: 'NVIDIA H100 80GB HBM3', migProfile: '', namespace: ns, pod, container: 'main',
        ...metrics,
      })
    }
  }
  return rows
}
const SAMPLES: GpuSample[] = [
  // GR_ENGINE_ACTIVE wins over GPU_UTIL when both are there.
  ...hourly('train-det-0', 'vision', 'a1', [0, 1, 2, 3], T(14, 22), T(15, 3), { grEngineActiveRatio: 0.5, gpuUtilRatio: 0.6 }),
  ...hourly('train-llm-0', 'nlp', 'a1', [4, 5, 6, 7], T(15, 1), NOW, { grEngineActiveRatio: 0.9 }),
  // a2 has no profiling metrics: GPU_UTIL only.
  ...hourly('eval-llm-0', 'nlp', 'a2', [0, 1], T(15, 5), T(15, 9), { gpuUtilRatio: 0.25 }),
  ...hourly('seg-infer-0', 'vision', 'm1', [0], T(15, 0), NOW, { grEngineActiveRatio: 0.1, migProfile: '1g.10gb', model: 'NVIDIA A100-SXM4-80GB', migInstance: 7 }),
  ...hourly('nb-cy-0', 'vision-nb', 'a1', [0], T(15, 8), NOW, { grEngineActiveRatio: 0.01 }),
]

let ts: TestStore
const apps: TestApp[] = []

const testAuth = teamHeaderAuth({ role: 'viewer', name: 'viewer' })

async function start(config: Config): Promise<string> {
  const app = await startTestApp(ts, { now: () => NOW, config, auth: testAuth })
  apps.push(app)
  return app.base
}

let base: string
const get = (path: string, headers: Record<string, string> = {}) => getFrom(base, path, headers)

beforeAll(async () => {
  ts = await openTestStore()
  const sinks = ts.writers.sinks
  const written = Promise.all([sinks.nodeState.write(NODES), sinks.workloadIntervals.write(PODS.map(interval)), sinks.gpuSamples.write(SAMPLES)])
  await ts.writers.flush()
  await written
  base = await start(ts.config)
})

afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()))
  await ts?.close()
})

// Utilization is compared to 6 places and GPU-hours derived from it to 4: the store keeps samples as Float32.
const WINDOW = `${iso(T(15, 0))},${iso(T(15, 12))}`
const seriesOf = (body: any, group: Record<string, string>) => body.data.series.find((s: any) => JSON.stringify(s.group) === JSON.stringify(group))

describe('GET /api/v1/usage', () => {
  it('by team: allocation from exact intervals clipped to the window, MIG slices as 1/7, utilization weighted by GPU fraction, capacity null', async () => {
    const { status, body } = await get(`/api/v1/usage?window=${WINDOW}&step=6h&groupBy=team`)
    expect(status).toBe(200)
    expect(body.data).toMatchObject({ step: '6h', utilResolution: '1h', groupBy: ['team'], window: { from: iso(T(15)), to: iso(NOW) } })
    expect(body.data.series.map((s: any) => s.group.team)).toEqual(['nlp', 'vision'])
    expect(body.warnings).toContain('capacity is null: it belongs to nodes (cluster, pool, node, gpuModel, provider), not to a namespace, team, project, user or workload')
    const nlp = seriesOf(body, { team: 'nlp' })
    // [00:00, 06:00): train-llm 4 GPUs x 5 h + eval-llm 2 x 1 h = 22 GPU-h; its 20 GR samples at 0.9 and 2 GPU_UTIL samples at 0.25.
    expect(nlp.points[0]).toMatchObject({ ts: iso(T(15, 0)), capacityGpus: null, allocationRatio: null, utilMetric: 'mixed', utilSamples: 22, utilSamplesGrEngineActive: 20 })
    expect(nlp.points[0].allocatedGpuHours).toBeCloseTo(22, 9)
    expect(nlp.points[0].allocatedGpus).toBeCloseTo(22 / 6, 9)
    expect(nlp.points[0].utilRatio).toBeCloseTo(18.5 / 22, 6)
    expect(nlp.points[0].usedGpuHours).toBeCloseTo(18.5, 4)
    expect(nlp.points[0].pendingGpus).toBe(0)
    // [06:00, 12:00): 4 x 6 + 2 x 3 + chat-serve 2 x 2 = 34 GPU-h; utilization (24 x 0.9 + 6 x 0.25) / 30; train-big pending 4 GPUs from 10:00.
    expect(nlp.points[1].allocatedGpuHours).toBeCloseTo(34, 9)
    expect(nlp.points[1].utilRatio).toBeCloseTo(0.77, 6)
    expect(nlp.points[1].pendingGpus).toBeCloseTo(8 / 6, 9)
    // chat-serve's 4 GPU-h have no sample: unknown, not used at the others' 0.77.
    expect(nlp.points[1].usedGpuHours).toBeCloseTo(30 * 0.77, 4)
    expect(nlp.points[1].utilUnknownGpuHours).toBeCloseTo(4, 9)
    expect(nlp.totals).toMatchObject({ capacityGpuHours: null, utilUnknownGpuHours: 4 })
    expect(nlp.totals.allocatedGpuHours).toBeCloseTo(56, 9)
    expect(nlp.totals.usedGpuHours).toBeCloseTo(18.5 + 30 * 0.77, 4)
    expect(nlp.totals.wasteGpuHours).toBeCloseTo(52 - 18.5 - 30 * 0.77, 4)
    const vision = seriesOf(body, { team: 'vision' })
    // train-det began at 22:00 the day before: only 00:00-03:00 counts. 4 x 3 + 1/7 x 6 + notebook 2 x 1 = 104/7 GPU-h.
    expect(vision.points[0].allocatedGpuHours).toBeCloseTo(104 / 7, 9)
    // 12 samples at 0.5 (weight 1) and 6 MIG samples at 0.1 (weight 1/7).
    expect(vision.points[0].utilRatio).toBeCloseTo((12 * 0.5 + (6 / 7) * 0.1) / (12 + 6 / 7), 6)
    expect(vision.points[0]).toMatchObject({ utilMetric: 'GR_ENGINE_ACTIVE', utilSamples: 18 })
    expect(vision.points[0].pendingGpus).toBeCloseTo(4 / 6, 9)
    expect(vision.points[1].allocatedGpuHours).toBeCloseTo(6 / 7 + 4, 9)
    expect(vision.points[1].utilRatio).toBeCloseTo(0.88 / 34, 6)
  })

  it('by cluster and pool: capacity from node history (a2 not Ready from 06:00) and allocation / capacity', async () => {
    const { body } = await get(`/api/v1/usage?window=${WINDOW}&step=6h&groupBy=cluster,pool`)
    expect(body.data.series.map((s: any) => `${s.group.cluster}/${s.group.pool}`)).toEqual(['c1/', 'c1/infer', 'c1/train', 'c2/burst'])
    const train = seriesOf(body, { cluster: 'c1', pool: 'train' })
    expect(train.points.map((p: any) => p.capacityGpus)).toEqual([16, 8])
    expect(train.points[0].allocatedGpus).toBeCloseTo(36 / 6, 9)
    expect(train.points[0].allocationRatio).toBeCloseTo(6 / 16, 9)
    expect(train.points[1].allocationRatio).toBeCloseTo(34 / 6 / 8, 9)
    expect(train.points[0].utilRatio).toBeCloseTo((12 * 0.5 + 20 * 0.9 + 2 * 0.25) / 34, 6)
    expect(train.totals.capacityGpuHours).toBeCloseTo(16 * 6 + 8 * 6, 9)
    const infer = seriesOf(body, { cluster: 'c1', pool: 'infer' })
    expect(infer.points.map((p: any) => p.allocationRatio)).toEqual([expect.closeTo(1 / 7, 9), expect.closeTo(1 / 7, 9)])
    const burst = seriesOf(body, { cluster: 'c2', pool: 'burst' })
    expect(burst.points.map((p: any) => p.capacityGpus)).toEqual([8, 8])
    expect(burst.points[1].allocatedGpus).toBeCloseTo(4 / 6, 9)
    // chat-serve has no samples: its allocation is there, its utilization unknown (null), not 0.
    expect(burst.points[1]).toMatchObject({ utilRatio: null, utilMetric: null, utilSamples: 0, usedGpuHours: null, utilizedGpus: null })
    // The pending pod has no node, hence no pool.
    expect(seriesOf(body, { cluster: 'c1', pool: '' }).points[1]).toMatchObject({ capacityGpus: 0, allocatedGpus: 0, pendingGpus: 8 / 6 })
  })

  it('says which points have allocated GPUs but no sample: null and a warning, never 0', async () => {
    const { body } = await get(`/api/v1/usage?window=${WINDOW}&step=6h&groupBy=namespace`)
    const nb = seriesOf(body, { namespace: 'vision-nb' })
    expect(nb.points[0]).toMatchObject({ allocatedGpuHours: 2, utilRatio: null, usedGpuHours: null })
    expect(nb.totals.utilUnknownGpuHours).toBe(2)
    expect(body.warnings).toContain('utilization unknown for 1 of 6 points with allocated GPUs (no GPU samples): reported as null, not 0')
  })

  it('filters by comma-separated values of several keys', async () => {
    const { body } = await get(`/api/v1/usage?window=${WINDOW}&step=6h&team=nlp,vision&cluster=c2`)
    expect(body.data.filters).toEqual({ cluster: ['c2'], team: ['nlp', 'vision'] })
    expect(body.data.series).toHaveLength(1)
    expect(body.data.series[0].points.map((p: any) => p.allocatedGpuHours)).toEqual([0, 4])
    const byNode = await get(`/api/v1/usage?window=${WINDOW}&step=12h&pool=train&groupBy=node`)
    expect(byNode.body.data.series.map((s: any) => [s.group.node, s.points[0].capacityGpus])).toEqual([['a1', 8], ['a2', 4]])
    const byWorkload = await get(`/api/v1/usage?window=${WINDOW}&step=12h&groupBy=workload&workload=vision-nb/Notebook/nb-cy`)
    expect(byWorkload.body.data.series.map((s: any) => [s.group.workload, s.totals.allocatedGpuHours])).toEqual([['vision-nb/Notebook/nb-cy', 4]])
  })

  it('answers CSV, one row per group per step, for format=csv and for Accept: text/csv', async () => {
    const csv = await get(`/api/v1/usage?window=${WINDOW}&step=6h&groupBy=cluster,pool&format=csv`)
    expect(csv.status).toBe(200)
    expect(csv.type).toContain('text/csv')
    const lines = (csv.body as string).trim().split('\n')
    expect(lines[0]).toBe('cluster,pool,ts,capacityGpus,allocatedGpus,pendingGpus,allocationRatio,utilRatio,utilizedGpus,utilMetric,utilSamples,utilSamplesGrEngineActive,allocatedGpuHours,usedGpuHours')
    expect(lines).toHaveLength(1 + 4 * 2)
    expect(lines[8]).toBe(`c2,burst,${iso(T(15, 6))},8,${4 / 6},0,${4 / 6 / 8},,,,0,0,4,`)
    const accept = await get(`/api/v1/usage?window=${WINDOW}&step=6h&groupBy=cluster,pool`, { accept: 'text/csv' })
    expect(accept.body).toBe(csv.body)
  })

  it('chooses a step when none is given and steps of 1h or more read the hourly rollup', async () => {
    expect((await get('/api/v1/usage?window=7d')).body.data).toMatchObject({ step: '1h', utilResolution: '1h' })
    expect((await get('/api/v1/usage?window=2h')).body.data).toMatchObject({ step: '1m', utilResolution: '1m' })
    const minute = await get(`/api/v1/usage?window=${iso(T(15, 11))},${iso(NOW)}&step=30m&groupBy=team`)
    expect(minute.body.data.utilResolution).toBe('1m')
    expect(seriesOf(minute.body, { team: 'nlp' }).points[1].utilRatio).toBeCloseTo(0.9, 6)
  })

  it('confines a team token to its team: another team in the filter is narrowed, with a warning', async () => {
    const own = await get(`/api/v1/usage?window=${WINDOW}&step=6h&groupBy=team`, { 'x-team': 'nlp' })
    expect(own.body.data.series.map((s: any) => s.group.team)).toEqual(['nlp'])
    expect(own.body.data.filters).toEqual({ team: ['nlp'] })
    const other = await get(`/api/v1/usage?window=${WINDOW}&step=6h&groupBy=team&team=vision`, { 'x-team': 'nlp' })
    expect(other.body.data.series.map((s: any) => s.group.team)).toEqual(['nlp'])
    expect(other.body.warnings).toContain("this token sees only team 'nlp': the team filter 'vision' was narrowed to it")
    const csv = await get(`/api/v1/usage?window=${WINDOW}&step=6h&groupBy=team&format=csv`, { 'x-team': 'nlp' })
    expect((csv.body as string).split('\n').filter((l) => l.startsWith('vision'))).toEqual([])
  })

  it.each([
    {
      name: 'unknown groupBy key',
      query: 'groupBy=team,colour',
      message: "unknown groupBy key 'colour': allowed keys are cluster, pool, node, gpuModel, provider, namespace, team, project, user, workload",
    },
    {
      name: 'two unknown groupBy keys',
      query: 'groupBy=colour,size',
      message: "unknown groupBy keys 'colour', 'size': allowed keys are cluster, pool, node, gpuModel, provider, namespace, team, project, user, workload",
    },
    {
      name: 'bad window',
      query: 'window=yesterday',
      message: "bad window 'yesterday': expected a duration like 24h or 7d, a range FROM,TO in RFC 3339, a quarter like 2026-Q3, a month like 2026-09 or a day like 2026-09-14",
    },
    { name: 'bad step', query: 'step=5x', message: "bad step '5x': expected a number and unit like 30s, 5m, 1h, 1d or 1w, or a composite like 1h30m" },
    { name: 'step finer than the rollups', query: 'step=90s', message: "bad step '90s': it must be a whole number of minutes (utilization is read from 1-minute and 1-hour rollups)" },
    { name: 'step longer than the window', query: 'window=24h&step=2d', message: "bad step '2d': it is longer than the window '24h' (1d): use a step of at most 1d" },
    {
      name: 'step longer than a FROM,TO window',
      query: `window=${WINDOW}&step=1d`,
      message: `bad step '1d': it is longer than the window '${WINDOW}' (12h): use a step of at most 12h`,
    },
    {
      name: 'groupBy given twice',
      query: 'groupBy=team&groupBy=pool',
      message: 'bad query: groupBy: given 2 times; give groupBy once (comma-separated values: groupBy=team,pool)',
    },
    { name: 'a filter given twice', query: 'team=nlp&team=vision', message: 'bad query: team: given 2 times; give team once (comma-separated values: team=nlp,vision)' },
    { name: 'window and step given twice', query: 'window=24h&window=7d&step=1h&step=2h', message: 'bad query: window: given 2 times; give window once; step: given 2 times; give step once' },
    {
      name: 'too many points',
      query: 'window=90d&step=1m',
      message: `window ${iso(NOW - 90 * DAY)},${iso(NOW)} at step 1m needs 129600 points, more than the limit of 11000: use a larger step or a shorter window`,
    },
    { name: 'empty filter', query: 'team=', message: "filter 'team' has no value: expected one or more comma-separated values" },
    { name: 'unknown parameter', query: 'teams=nlp', message: "bad query: unknown parameter(s) 'teams'" },
  ])('400 for $name, with the exact message', async ({ query, message }) => {
    const { status, body } = await get(`/api/v1/usage?${query}`)
    expect(status).toBe(400)
    expect(body).toEqual({ status: 'error', error: { type: 'bad_input', message } })
  })

  it('400 when groups x steps pass the configured limit', async () => {
    const small = await start({ ...ts.config, analytics: { ...ts.config.analytics, maxSeriesPoints: 3 } })
    const res = await fetch(`${small}/api/v1/usage?window=${WINDOW}&step=6h&groupBy=team`)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      'the answer would have 2 groups x 2 steps = 4 points, more than the limit of 3: filter, group by fewer keys, or use a larger step',
    )
  })
})

describe('OpenAPI', () => {
  it('documents /usage, /summary and /chargeback from the schemas that validate them', async () => {
    const doc = (await get('/api/v1/openapi.json')).body
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/usage', '/api/v1/summary', '/api/v1/chargeback']))
    const names = doc.paths['/api/v1/usage'].get.parameters.map((p: any) => p.name)
    expect(names).toEqual(['window', 'step', 'groupBy', 'cluster', 'pool', 'node', 'gpuModel', 'provider', 'namespace', 'team', 'project', 'user', 'workload', 'format'])
    const by = doc.paths['/api/v1/chargeback'].get.parameters.find((p: any) => p.name === 'by')
    expect(by.schema.enum).toEqual(['team', 'project', 'user', 'namespace'])
  })
})

describe('GET /api/v1/summary', () => {
  it('gives the fleet now: capacity, allocated, utilized (allocated x last-hour utilization), pending and idle GPUs', async () => {
    const { status, body } = await get('/api/v1/summary')
    expect(status).toBe(200)
    const d = body.data
    expect(d.at).toBe(iso(NOW))
    // a1 8 + a2 (not Ready) 0 + m1 1 + g1 8.
    expect(d.capacityGpus).toBe(17)
    // train-llm 4 + seg-infer 1/7 + nb-cy 1 + chat-serve 2.
    expect(d.allocatedGpus).toBeCloseTo(7 + 1 / 7, 9)
    expect(d.pendingGpus).toBe(4)
    expect(d.allocationRatio).toBeCloseTo((7 + 1 / 7) / 17, 9)
    expect(d.utilizedGpus).toBeCloseTo(4 * 0.9 + 0.1 / 7 + 0.01, 4)
    expect(d.utilRatio).toBeCloseTo((4 * 0.9 + 0.1 / 7 + 0.01) / (5 + 1 / 7), 6)
    expect(d).toMatchObject({ utilMetric: 'GR_ENGINE_ACTIVE', idleGpus: 1, idleWorkloads: 1, utilUnknownGpus: 2, utilUnknownWorkloads: 1, idleRule: { utilBelow: 0.05, windowMs: HOUR } })
    expect(body.warnings).toContain('1 workloads holding 2 GPUs had no GPU sample in the last hour: their utilization and idleness are unknown, not 0')
  })

  it('gives allocated / capacity GPU-hours for the last 6 full months and this month so far', async () => {
    const { body } = await get('/api/v1/summary')
    const months = body.data.monthly
    expect(months.map((m: any) => m.month)).toEqual([-6, -5, -4, -3, -2, -1, 0].map((o) => iso(monthStart(o)).slice(0, 7)))
    const hoursIn = (o: number) => (monthStart(o + 1) - monthStart(o)) / HOUR
    expect(months[0]).toEqual({ month: iso(monthStart(-6)).slice(0, 7), capacityGpuHours: 8 * hoursIn(-6), allocatedGpuHours: 0, allocationRatio: 0, partial: false })
    // old-train held all 8 GPUs of a1 for 9 days of last month.
    expect(months[5].allocatedGpuHours).toBe(8 * 9 * 24)
    expect(months[5].allocationRatio).toBeCloseTo((8 * 9 * 24) / (8 * hoursIn(-1)), 9)
    // This month: a1 8 x 348 h + a2 8 x 342 h + m1 1 x 348 h + g1 8 x 132 h; allocation as in the pod table.
    const capacity = 8 * 348 + 8 * 342 + 348 + 8 * 132
    const allocated = 20 + 44 + 8 + 12 / 7 + 2 + 384 + 10 + 4 + 4
    expect(months[6]).toMatchObject({ capacityGpuHours: capacity, partial: true })
    expect(months[6].allocatedGpuHours).toBeCloseTo(allocated, 9)
    expect(months[6].allocationRatio).toBeCloseTo(allocated / capacity, 9)
  })

  it('ranks teams by waste over 30 days (allocated GPU-hours x (1 - utilization)), leaving out unknown utilization', async () => {
    const { body } = await get('/api/v1/summary')
    const top = body.data.topWastingTeams
    expect(top.map((t: any) => t.team)).toEqual(['vision', 'nlp'])
    // vision: day 14 train-det 8 GPU-h at 0.5; day 15 138/7 GPU-h, of which nb-ann's 2 have no sample, at 43.48/124 (GPU-fraction weighted).
    expect(top[0].wasteGpuHours).toBeCloseTo(4 + (124 / 7) * (1 - 43.48 / 124), 4)
    expect(top[0].utilUnknownGpuHours).toBeCloseTo(2, 9)
    // nlp: day 15 56 GPU-h, 52 sampled at 0.8; finetune's 384 GPU-h on days 11-12 and chat-serve's 4 have no samples.
    expect(top[1]).toMatchObject({ utilUnknownGpuHours: 388 })
    expect(top[1].wasteGpuHours).toBeCloseTo(52 * 0.2, 4)
    expect(top[1].allocatedGpuHours).toBeCloseTo(440, 9)
  })

  it("scopes a team token's summary to its team, capacity staying the fleet's", async () => {
    const { body } = await get('/api/v1/summary', { 'x-team': 'vision' })
    expect(body.data.capacityGpus).toBe(17)
    expect(body.data.allocatedGpus).toBeCloseTo(1 + 1 / 7, 9)
    expect(body.data.pendingGpus).toBe(0)
    expect(body.data.topWastingTeams.map((t: any) => t.team)).toEqual(['vision'])
    expect(body.warnings[0]).toBe("scoped to team 'vision': allocated, utilized, pending, idle and waste are the team's; capacity is the fleet's")
  })

  it('400 for any parameter (it takes none)', async () => {
    const { status, body } = await get('/api/v1/summary?window=7d')
    expect(status).toBe(400)
    expect(body.error.message).toBe("bad query: unknown parameter(s) 'window'")
  })
})
