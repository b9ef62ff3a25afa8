import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActionRecord, GpuSample, NotebookActivity, WorkloadInterval } from '../core/model'
import { openTestStore, type TestStore } from './helpers/store'
import { getFrom, startTestApp, teamHeaderAuth, type TestApp } from './helpers/app'

// A hand-made fleet whose every verdict is computed below. T0 is a recent whole hour
// (so no TTL ages the rows out); NOW is 30 s into the next minute, so evaluation ends at T0.
const MIN = 60_000
const HOUR = 60 * MIN
const T0 = Math.floor(Date.now() / HOUR) * HOUR - HOUR
const NOW = T0 + 30_000
const at = (minutes: number) => T0 + minutes * MIN
const GiB = 1024 ** 3

interface Pod { name: string; ns: string; kind?: string; gpus: number; start: number; end?: number; resource?: string }
const interval = (p: Pod): WorkloadInterval => ({
  cluster: 'c1', podUid: `uid-${p.name}`, namespace: p.ns, pod: `${p.name}-0`, workloadKind: p.kind ?? 'Job', workloadName: p.name, team: p.ns, project: `${p.ns}-proj`, user: 'ana',
  node: 'n1', gpus: p.gpus, gpuResource: p.resource ?? 'nvidia.com/gpu', createdMs: p.start, startMs: p.start, endMs: p.end, lastSeenMs: p.end ?? NOW, phase: p.end ? 'Succeeded' : 'Running',
})
const PODS: Pod[] = [
  { name: 'train-busy', ns: 'vision', gpus: 2, start: at(-180) },
  { name: 'train-idle', ns: 'nlp', gpus: 1, start: at(-300) },
  { name: 'train-stuck', ns: 'nlp', gpus: 4, start: at(-45) },
  { name: 'train-warned', ns: 'nlp', gpus: 2, start: at(-360) },
  { name: 'train-done', ns: 'nlp', gpus: 1, start: at(-300), end: at(-60) },
  { name: 'mig-idle', ns: 'vision', gpus: 1 / 7, start: at(-240), resource: 'nvidia.com/mig-1g.10gb' },
  { name: 'svc-unknown', ns: 'platform', kind: 'Deployment', gpus: 1, start: at(-240) },
  { name: 'nb-idle', ns: 'vision', kind: 'Notebook', gpus: 1, start: at(-600) },
  { name: 'nb-hung', ns: 'nlp', kind: 'Notebook', gpus: 1, start: at(-120) },
  { name: 'nb-active', ns: 'vision', kind: 'Notebook', gpus: 1, start: at(-300) },
  { name: 'train-long', ns: 'lab', gpus: 1, start: at(-600) },
]

/** One sample per minute (15 s in) per GPU over [from, to) minutes; `value(t)` is GR_ENGINE_ACTIVE (or DEV_GPU_UTIL with `utilOnly`). */
function samples(pod: string, ns: string, gpus: string[], from: number, to: number, value: (t: number) => number, opts: { utilOnly?: boolean; mig?: boolean } = {}): GpuSample[] {
  const out: GpuSample[] = []
  for (let k = from; k < to; k++) {
    const t = at(k)
    for (const [i, uuid] of gpus.entries()) {
      const v = value(t)
      out.push({
        tsMs: t + 15_000, cluster: 'c1', node: 'n1', gpuUuid: uuid, gpuIndex: i, model: opts.mig ? 'NVIDIA A100-SXM4-80GB' : 'NVIDIA H100 80GB HBM3', migProfile: opts.mig ? '1g.10gb' : '', migInstance: opts.mig ? 1 : undefined,
        namespace: ns, pod: `${pod}-0`, container: 'main', grEngineActiveRatio: opts.utilOnly ? undefined : v, gpuUtilRatio: v, fbUsedBytes: 10 * GiB, fbFreeBytes: 70 * GiB,
      })
    }
  }
  return out
}
const until = (endMs: number, before: number, after: number) => (t: number) => (t < endMs ? before : after)
const SAMPLES: GpuSample[] = [
  ...samples('train-busy', 'vision', ['GPU-b0', 'GPU-b1'], -180, 0, () => 0.6),
  ...samples('train-idle', 'nlp', ['GPU-i0'], -300, 0, until(at(-90), 0.5, 0), { utilOnly: true }),
  ...samples('train-stuck', 'nlp', ['GPU-s0', 'GPU-s1', 'GPU-s2', 'GPU-s3'], -45, 0, () => 0),
  ...samples('train-warned', 'nlp', ['GPU-w0', 'GPU-w1'], -360, 0, until(at(-180), 0.5, 0)),
  ...samples('train-done', 'nlp', ['GPU-d0'], -300, -60, () => 0),
  ...samples('mig-idle', 'vision', ['GPU-m0'], -240, 0, until(at(-120), 0.4, 0), { mig: true }),
  ...samples('nb-idle', 'vision', ['GPU-n0'], -600, 0, until(at(-480), 0.3, 0)),
  ...samples('nb-hung', 'nlp', ['GPU-h0'], -120, 0, () => 0),
  ...samples('nb-active', 'vision', ['GPU-a0'], -300, 0, until(at(-45), 0.4, 0)),
  // Quiet since 150 min ago, mid-hour: a lookback shorter than that would only know the hour.
  ...samples('train-long', 'lab', ['GPU-l0'], -600, 0, until(at(-150), 0.5, 0)),
]

/** Kernel polls every 5 minutes over [from, to) minutes. */
function polls(notebook: string, ns: string, from: number, to: number, state: (t: number) => { busy: boolean; last: number }): NotebookActivity[] {
  const out: NotebookActivity[] = []
  for (let k = from; k < to; k += 5) {
    const s = state(at(k))
    out.push({ tsMs: at(k), cluster: 'c1', namespace: ns, notebook, kernelId: `${notebook}-k`, executionState: s.busy ? 'busy' : 'idle', lastActivityMs: s.last, connections: 1 })
  }
  return out
}
const ACTIVITY: NotebookActivity[] = [
  ...polls('nb-idle', 'vision', -420, 0, () => ({ busy: false, last: at(-480) })),
  ...polls('nb-hung', 'nlp', -120, 0, (t) => (t >= at(-100) ? { busy: true, last: t } : { busy: false, last: at(-120) })),
  ...polls('nb-active', 'vision', -420, 0, (t) => ({ busy: false, last: Math.min(t, at(-10)) })),
]
const action = (name: string, ns: string, act: string, minutes: number): ActionRecord => ({
  tsMs: at(minutes), id: `${name}-${act}-${minutes}`, action: act, cluster: 'c1', namespace: ns, workloadKind: 'Job', workloadName: name,
  decision: act, dryRun: false, acted: true, reason: 'idle', evidence: {}, actor: 'test',
})
const ACTIONS: ActionRecord[] = [action('train-warned', 'nlp', 'warn', -120), action('train-idle', 'nlp', 'warn', -400)]

let ts: TestStore
let app: TestApp
let base: string

const testAuth = teamHeaderAuth({ role: 'viewer', name: 'viewer' })

const get = (path: string, headers: Record<string, string> = {}) => getFrom(base, path, headers)

beforeAll(async () => {
  ts = await openTestStore()
  const s = ts.writers.sinks
  const written = Promise.all([s.workloadIntervals.write(PODS.map(interval)), s.gpuSamples.write(SAMPLES), s.notebookActivity.write(ACTIVITY), s.actions.write(ACTIONS)])
  await ts.writers.flush()
  await written
  app = await startTestApp(ts, { now: () => NOW, auth: testAuth })
  base = app.base
})

afterAll(async () => {
  await app?.close()
  await ts?.close()
})

const names = (body: any): string[] => body.data.workloads.map((w: any) => w.name)
const find = (body: any, name: string) => body.data.workloads.find((w: any) => w.name === name)

describe('GET /api/v1/idle', () => {
  it('lists every running GPU workload with its verdict, state, idle since and wasted GPU-hours, most wasteful first', async () => {
    const { status, body } = await get('/api/v1/idle')
    expect(status).toBe(200)
    expect(body.warnings).toEqual([])
    const got = body.data.workloads.map((w: any) => [w.name, w.verdict, w.state, w.idleSinceMs === null ? null : (w.idleSinceMs - T0) / MIN, Math.round(w.wastedGpuHours * 1e9) / 1e9])
    expect(got).toEqual([
      ['nb-idle', 'idle', 'idle', -480, 8], // active until 8 h ago (from the hourly history), kernels quiet since then
      ['train-warned', 'idle', 'warned', -180, 6], // 2 GPUs x 3 h; warned 2 h ago
      ['train-stuck', 'stuck', 'idle', -45, 3], // 4 GPUs at zero since its start 45 min ago
      ['train-long', 'idle', 'idle', -150, 2.5], // 1 GPU x 2.5 h
      ['nb-hung', 'hung', 'idle', -120, 2], // kernel busy for 100 min, GPU at zero for 2 h
      ['train-idle', 'idle', 'idle', -90, 1.5], // the warning 400 min ago belongs to an earlier episode
      ['mig-idle', 'idle', 'idle', -120, Math.round((2 / 7) * 1e9) / 1e9], // a 1g.10gb slice, 2 h
      ['train-busy', 'active', 'active', null, 0],
      ['svc-unknown', 'unknown', 'unknown', null, 0], // no samples: unknown, never idle
      ['nb-active', 'active', 'active', null, 0], // GPU idle 45 min but kernel activity 10 min ago
    ])
    expect(body.data.totals).toMatchObject({ workloads: 10, byState: { idle: 6, warned: 1, active: 2, unknown: 1 } })
    expect(body.data.totals.gpus).toBeCloseTo(14 + 1 / 7, 9)
    expect(body.data.totals.idleGpus).toBeCloseTo(10 + 1 / 7, 9)
    expect(body.data.totals.wastedGpuHours).toBeCloseTo(23 + 2 / 7, 9)
    expect(body.data.window).toEqual({ fromMs: at(-360), toMs: T0, stepMs: 5 * MIN })
  })

  it('shows the evidence: metric, series over the window, memory, kernel, actions and the next step', async () => {
    const { body } = await get('/api/v1/idle')
    const idle = find(body, 'train-idle')
    expect(idle).toMatchObject({ kind: 'Job', cluster: 'c1', namespace: 'nlp', owner: { team: 'nlp', project: 'nlp-proj', user: 'ana' }, gpus: 1, pods: ['train-idle-0'], nodes: ['n1'], idleSinceExact: true })
    expect(idle.evidence).toMatchObject({ windowMs: HOUR, metric: 'DCGM_FI_DEV_GPU_UTIL', coverageRatio: 1, maxUtilRatio: 0, lastGpuActivityMs: at(-90), fbUsedMaxBytes: 10 * GiB, kernel: null })
    expect(idle.evidence.series).toHaveLength(72)
    expect(idle.evidence.series[0]).toMatchObject({ tsMs: at(-360), utilRatio: null, maxUtilRatio: null }) // before its start: no samples, not zero
    expect(idle.evidence.series[71]).toMatchObject({ tsMs: at(-5), utilRatio: 0, maxUtilRatio: 0 })
    expect(idle.nextAction).toEqual({ action: 'warn', atMs: at(-30) })
    const warned = find(body, 'train-warned')
    expect(warned).toMatchObject({ warnedAtMs: at(-120), nextAction: { action: 'stop', atMs: at(0) } })
    expect(warned.signals.map((s: any) => s.name)).toEqual(['devices', 'metric', 'maxUtilRatio', 'lastGpuActivityMs', 'belowThresholdForMs', 'coverage', 'warnedAtMs', 'wastedGpuHours'])
    const hung = find(body, 'nb-hung')
    expect(hung.evidence.kernel).toEqual({ busyNow: true, lastActivityMs: at(-5), latestPollMs: at(-5) })
    expect(hung.signals.find((s: any) => s.name === 'hung')).toMatchObject({ value: true })
    expect(find(body, 'nb-idle').evidence.kernel).toEqual({ busyNow: false, lastActivityMs: at(-480), latestPollMs: at(-5) })
    expect(find(body, 'svc-unknown').signals.find((s: any) => s.name === 'samples')).toMatchObject({ value: 'missing' })
    expect(find(body, 'train-busy').evidence).toMatchObject({ metric: 'DCGM_FI_PROF_GR_ENGINE_ACTIVE', coverageRatio: 1, lastGpuActivityMs: T0 }) // active: covered, last active in the newest minute (not later)
  })

  it.each(['30m', '1h', '24h'])('gives the same verdicts, idle since and waste whatever the evidence window (%s)', async (window) => {
    const facts = (body: any) => body.data.workloads.map((w: any) => [w.name, w.verdict, w.state, w.idleSinceMs, w.idleSinceExact, w.wastedGpuHours, w.evidence.coverageRatio, w.evidence.lastGpuActivityMs])
    const [base, other] = await Promise.all([get('/api/v1/idle'), get(`/api/v1/idle?window=${window}`)])
    expect(other.status).toBe(200)
    expect(facts(other.body)).toEqual(facts(base.body))
    expect(find(other.body, 'train-long')).toMatchObject({ idleSinceMs: at(-150), idleSinceExact: true, wastedGpuHours: 2.5 })
  })

  it('draws the series of a window longer than the lookback from the samples before it', async () => {
    const { body } = await get('/api/v1/idle?window=24h&team=lab')
    expect(body.data.window).toEqual({ fromMs: T0 - 24 * HOUR, toMs: T0, stepMs: 15 * MIN })
    const series = find(body, 'train-long').evidence.series
    expect(series).toHaveLength(96)
    expect(series.find((p: any) => p.tsMs === at(-600))).toMatchObject({ utilRatio: 0.5, maxUtilRatio: 0.5 }) // 10 h ago, before the 7-h lookback
    expect(series.find((p: any) => p.tsMs === at(-615))).toMatchObject({ utilRatio: null }) // before its start
  })

  it.each([
    { q: 'state=idle', want: ['nb-idle', 'train-stuck', 'train-long', 'nb-hung', 'train-idle', 'mig-idle'] },
    { q: 'state=stuck,hung', want: ['train-stuck', 'nb-hung'] },
    { q: 'state=warned', want: ['train-warned'] },
    { q: 'state=unknown', want: ['svc-unknown'] },
    { q: 'kind=notebook', want: ['nb-idle', 'nb-hung', 'nb-active'] },
    { q: 'minGpus=2', want: ['train-warned', 'train-stuck', 'train-busy'] },
    { q: 'team=vision&state=idle', want: ['nb-idle', 'mig-idle'] },
  ])('filters by $q', async ({ q, want }) => {
    const { status, body } = await get(`/api/v1/idle?${q}`)
    expect(status).toBe(200)
    expect(names(body)).toEqual(want)
  })

  it('shows a team-scoped token only its own team', async () => {
    const { body } = await get('/api/v1/idle', { 'x-team': 'nlp' })
    expect(names(body)).toEqual(['train-warned', 'train-stuck', 'nb-hung', 'train-idle'])
    expect((await get('/api/v1/idle?team=nlp', { 'x-team': 'nlp' })).status).toBe(200)
  })

  it('answers CSV with one line per workload', async () => {
    const { status, type, body } = await get('/api/v1/idle?format=csv&state=warned')
    expect(status).toBe(200)
    expect(type).toContain('text/csv')
    const lines = (body as string).trim().split('\n')
    expect(lines[0]).toBe('cluster,namespace,kind,name,team,project,user,gpus,state,verdict,idleSince,idleSinceExact,wastedGpuHours,metric,maxUtilRatio,coverageRatio,fbUsedMaxBytes,lastGpuActivity,lastKernelActivity,nextAction,signals')
    expect(lines).toHaveLength(2)
    expect(lines[1]).toContain(`c1,nlp,Job,train-warned,nlp,nlp-proj,ana,2,warned,idle,${new Date(at(-180)).toISOString()},true,6,DCGM_FI_PROF_GR_ENGINE_ACTIVE,0,1,${10 * GiB},${new Date(at(-180)).toISOString()},,stop at ${new Date(T0).toISOString()},`)
  })

  it.each([
    { q: 'window=abc', msg: "bad query: window: bad duration 'abc': expected a number and unit like 30s, 5m, 1h, 1d or 1w, or a composite like 1h30m" },
    { q: 'window=2d', msg: 'bad query: window: must be at most 24h' },
    { q: 'state=sleepy', msg: "bad query: state: unknown state 'sleepy': expected one of unknown, active, suspect, idle, stuck, hung, warned, stopped" },
    { q: 'minGpus=-1', msg: 'bad query: minGpus: Too small: expected number to be >=0' },
    { q: 'minGpus=many', msg: 'bad query: minGpus: Invalid input: expected number, received NaN' },
    { q: 'minGpus=', msg: 'bad query: minGpus: Invalid input: expected number, received NaN' },
    { q: 'owner=ana', msg: "bad query: unknown parameter(s) 'owner'" },
  ])('400 for $q', async ({ q, msg }) => {
    const { status, body } = await get(`/api/v1/idle?${q}`)
    expect(status).toBe(400)
    expect(body).toEqual({ status: 'error', error: { type: 'bad_input', message: msg } })
  })

  it('403 when a team-scoped token asks for another team', async () => {
    const { status, body } = await get('/api/v1/idle?team=vision', { 'x-team': 'nlp' })
    expect(status).toBe(403)
    expect(body).toEqual({ status: 'error', error: { type: 'forbidden', message: "a token of team 'nlp' may not see team 'vision'" } })
  })

  it('documents its parameters in the OpenAPI document', async () => {
    const { body } = await get('/api/v1/openapi.json')
    const params = body.paths['/api/v1/idle'].get.parameters.map((p: any) => p.name)
    expect(params).toEqual(['window', 'kind', 'team', 'state', 'minGpus', 'format'])
    expect(body.paths['/api/v1/insights'].get.parameters.map((p: any) => p.name)).toEqual(['window', 'team', 'format'])
  })
})
