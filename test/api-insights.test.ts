import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GpuSample, NotebookActivity, WorkloadInterval } from '../core/model'
import { openTestStore, type TestStore } from './helpers/store'
import { getFrom, startTestApp, teamHeaderAuth, type TestApp } from './helpers/app'

// A fleet with one finding of each kind, computed by hand below. Samples every 5 minutes
// (the staleness: every minute is covered). NOW is a recent whole hour.
const MIN = 60_000
const HOUR = 60 * MIN
const NOW = Math.floor(Date.now() / HOUR) * HOUR - HOUR
const ago = (hours: number) => NOW - hours * HOUR
const GiB = 1024 ** 3

const interval = (name: string, team: string, kind: string, gpus: number, start: number, end?: number): WorkloadInterval => ({
  cluster: 'c1', podUid: `uid-${name}`, namespace: team, pod: `${name}-0`, workloadKind: kind, workloadName: name, team, project: '', user: 'ana', node: 'n1', gpus,
  gpuResource: 'nvidia.com/gpu', createdMs: start, startMs: start, endMs: end, lastSeenMs: end ?? NOW, phase: end ? 'Succeeded' : 'Running',
})
const PODS = [
  interval('ddp-overask', 'vision', 'Job', 4, ago(24)),
  interval('small-batch', 'speech', 'Job', 1, ago(24)),
  interval('nb-forgotten', 'nlp', 'Notebook', 1, ago(40)),
  interval('old-job', 'nlp', 'Job', 8, ago(24 * 9), ago(24 * 8)), // ended before the 7-day window
  interval('half-seen', 'research', 'Job', 2, ago(48)), // 96 GPU-h held, sampled only the last 24 h
]

/** A sample every 5 minutes (15 s in) over [from, NOW) for one GPU of a pod. */
function every5m(pod: string, ns: string, uuid: string, from: number, gr: (t: number) => number, fbUsedGiB: number): GpuSample[] {
  const out: GpuSample[] = []
  for (let t = from; t < NOW; t += 5 * MIN) {
    out.push({
      tsMs: t + 15_000, cluster: 'c1', node: 'n1', gpuUuid: uuid, gpuIndex: 0, model: 'NVIDIA H100 80GB HBM3', migProfile: '', namespace: ns, pod: `${pod}-0`, container: 'main',
      grEngineActiveRatio: gr(t), gpuUtilRatio: gr(t), fbUsedBytes: fbUsedGiB * GiB, fbFreeBytes: (80 - fbUsedGiB) * GiB,
    })
  }
  return out
}
const SAMPLES: GpuSample[] = [
  // 4 GPUs, only the first ever busy: right-size to 1; 40 GiB of 80 on it, so memory is not low.
  ...every5m('ddp-overask', 'vision', 'GPU-d0', ago(24), () => 0.7, 40),
  ...['GPU-d1', 'GPU-d2', 'GPU-d3'].flatMap((g) => every5m('ddp-overask', 'vision', g, ago(24), () => 0, 0.5)),
  // Busy at 0.6 with 4 GiB of 80 GiB: a larger batch.
  ...every5m('small-batch', 'speech', 'GPU-s0', ago(24), () => 0.6, 4),
  // A notebook used for its first 10 hours, then forgotten for 30.
  ...every5m('nb-forgotten', 'nlp', 'GPU-n0', ago(40), (t) => (t < ago(30) ? 0.4 : 0), 30),
  // Both GPUs at 0.1 with 40 GiB, samples only from 24 h ago: 48 sampled GPU-hours, not 96.
  ...['GPU-p0', 'GPU-p1'].flatMap((g) => every5m('half-seen', 'research', g, ago(24), () => 0.1, 40)),
]
const ACTIVITY: NotebookActivity[] = []
for (let t = ago(7); t < NOW; t += 5 * MIN) {
  ACTIVITY.push({ tsMs: t, cluster: 'c1', namespace: 'nlp', notebook: 'nb-forgotten', kernelId: 'k1', executionState: 'idle', lastActivityMs: ago(30), connections: 0 })
}

let ts: TestStore
let app: TestApp
let base: string

const testAuth = teamHeaderAuth({ role: 'admin', name: 'admin' })

const get = (path: string, headers: Record<string, string> = {}) => getFrom(base, path, headers)

beforeAll(async () => {
  ts = await openTestStore()
  const s = ts.writers.sinks
  const written = Promise.all([s.workloadIntervals.write(PODS), s.gpuSamples.write(SAMPLES), s.notebookActivity.write(ACTIVITY)])
  await ts.writers.flush()
  await written
  app = await startTestApp(ts, { now: () => NOW, auth: testAuth })
  base = app.base
})

afterAll(async () => {
  await app?.close()
  await ts?.close()
})

const summary = (body: any) => body.data.findings.map((f: any) => [f.type, f.subject, Math.round(f.impactGpuHours * 1000) / 1000])

describe('GET /api/v1/insights', () => {
  it('finds a low-efficiency team, a job to right-size, a notebook to cull and a job with low GPU memory, largest impact first', async () => {
    const { status, body } = await get('/api/v1/insights')
    expect(status).toBe(200)
    expect(body.warnings).toEqual([])
    expect(summary(body)).toEqual([
      ['team-efficiency', 'vision', 79.2], // 96 GPU-h at 0.7 x 1/4 = 0.175: 16.8 used
      ['right-size', 'c1/vision/Job/ddp-overask', 72], // 3 of 4 GPUs never busy over 96 GPU-h
      ['team-efficiency', 'research', 43.2], // 48 sampled GPU-h (of 96 held) at 0.1: 4.8 used
      ['team-efficiency', 'nlp', 36], // 40 GPU-h at 0.4 for 10 h of 40: 4 used
      ['cull-notebook', 'c1/nlp/Notebook/nb-forgotten', 30], // idle (kernels and GPU) for 30 h
      ['low-memory', 'c1/speech/Job/small-batch', 9.6], // 24 GPU-h x (1 - 0.6); 4 of 80 GiB
    ])
    expect(body.data.counts).toEqual({ 'team-efficiency': 3, 'right-size': 1, 'cull-notebook': 1, 'low-memory': 1 })
    expect(body.data.window).toEqual({ fromMs: NOW - 7 * 24 * HOUR, toMs: NOW })
  })

  it('keeps the evidence behind each finding', async () => {
    const { body } = await get('/api/v1/insights')
    const byType = (t: string) => body.data.findings.find((f: any) => f.type === t)
    const rs = byType('right-size')
    expect(rs).toMatchObject({ team: 'vision', suggestion: 'request 1 GPU(s) per pod', evidence: { requestedGpus: 4, busyGpus: 1, suggestedGpus: 1 } })
    expect(rs.evidence.pods[0].devices.map((d: any) => [d.device, Math.round(d.p95UtilRatio * 100) / 100])).toEqual([
      ['ddp-overask-0/GPU-d0', 0.7], ['ddp-overask-0/GPU-d1', 0], ['ddp-overask-0/GPU-d2', 0], ['ddp-overask-0/GPU-d3', 0],
    ])
    const mem = byType('low-memory')
    expect(mem.evidence).toMatchObject({ peakMemoryRatio: 0.05, devices: [{ device: 'small-batch-0/GPU-s0', fbUsedMaxBytes: 4 * GiB, fbTotalBytes: 80 * GiB }] })
    expect(byType('cull-notebook').evidence).toMatchObject({ verdict: 'idle', state: 'idle', idleSinceMs: ago(30), lastKernelActivityMs: ago(30) })
    const nlp = body.data.findings.find((f: any) => f.subject === 'nlp')
    expect(nlp.evidence.allocatedGpuHours).toBe(40)
    expect(nlp.evidence.efficiencyRatio).toBeCloseTo(0.1, 6)
    const research = body.data.findings.find((f: any) => f.subject === 'research')
    expect(research.message).toBe('team research used 10% of the 48 sampled GPU-hours it held (of 96 allocated; threshold 30%); impact = sampled GPU-hours unused')
    expect(research.evidence).toMatchObject({ allocatedGpuHours: 96, sampledGpuHours: 48 })
  })

  it("never claims more GPU-hours for one workload than it was allocated in the window", async () => {
    // GPUs held and hours running before NOW, per workload: allocated GPU-hours in a window of h hours = gpus x min(h, running).
    const held: Record<string, [number, number]> = { 'c1/vision/Job/ddp-overask': [4, 24], 'c1/speech/Job/small-batch': [1, 24], 'c1/nlp/Notebook/nb-forgotten': [1, 40], 'c1/research/Job/half-seen': [2, 48] }
    for (const [window, hours] of [['7d', 168], ['1d', 24], ['1h', 1]] as const) {
      const { body } = await get(`/api/v1/insights?window=${window}`)
      const sums: Record<string, number> = {}
      for (const f of body.data.findings.filter((x: any) => x.type !== 'team-efficiency')) sums[f.subject] = (sums[f.subject] ?? 0) + f.impactGpuHours
      expect(Object.keys(sums).length, window).toBeGreaterThan(0)
      for (const [subject, h] of Object.entries(sums)) {
        const [gpus, running] = held[subject] as [number, number]
        expect(h, `${subject} over ${window}`).toBeLessThanOrEqual(gpus * Math.min(hours, running) + 1e-9)
      }
    }
  })

  it('counts only the idle hours inside the window for a notebook to cull (1 h of its 30)', async () => {
    const { body } = await get('/api/v1/insights?window=1h')
    expect(summary(body).find((f: any) => f[0] === 'cull-notebook')).toEqual(['cull-notebook', 'c1/nlp/Notebook/nb-forgotten', 1])
  })

  it('reads only the window: over 1 day the notebook used nothing (24 GPU-h unused)', async () => {
    const { body } = await get('/api/v1/insights?window=1d')
    expect(summary(body).find((f: any) => f[1] === 'nlp')).toEqual(['team-efficiency', 'nlp', 24])
  })

  it('shows a team-scoped token only its own team', async () => {
    const { body } = await get('/api/v1/insights', { 'x-team': 'speech' })
    expect(summary(body)).toEqual([['low-memory', 'c1/speech/Job/small-batch', 9.6]])
  })

  it('answers CSV with one line per finding', async () => {
    const { status, type, body } = await get('/api/v1/insights?format=csv')
    expect(status).toBe(200)
    expect(type).toContain('text/csv')
    const lines = (body as string).trim().split('\n')
    expect(lines[0]).toBe('type,team,subject,impactGpuHours,message,suggestion,evidence')
    expect(lines).toHaveLength(7)
    expect(lines[2]).toMatch(/^right-size,vision,c1\/vision\/Job\/ddp-overask,72,Job ddp-overask requests 4 GPU\(s\) per pod but at most 1 reach 0.05 activity/)
    expect(lines[2]).toMatch(/,requestedGpus=4; busyGpus=1; suggestedGpus=1; allocatedGpuHours=96; culledGpuHours=0$/)
    expect(lines[3]).toMatch(/,allocatedGpuHours=96; sampledGpuHours=48; usedGpuHours=4.8; efficiencyRatio=0.1$/)
  })

  it.each([
    { q: 'window=31d', msg: 'bad query: window: must be at most 30d' },
    { q: 'window=2026-Q3', msg: "bad query: window: bad duration '2026-Q3': expected a number and unit like 30s, 5m, 1h, 1d or 1w, or a composite like 1h30m" },
    { q: 'kind=Job', msg: "bad query: unknown parameter(s) 'kind'" },
  ])('400 for $q', async ({ q, msg }) => {
    const { status, body } = await get(`/api/v1/insights?${q}`)
    expect(status).toBe(400)
    expect(body).toEqual({ status: 'error', error: { type: 'bad_input', message: msg } })
  })

  it('403 when a team-scoped token asks for another team', async () => {
    const { status, body } = await get('/api/v1/insights?team=nlp', { 'x-team': 'speech' })
    expect(status).toBe(403)
    expect(body).toEqual({ status: 'error', error: { type: 'forbidden', message: "a token of team 'speech' may not see team 'nlp'" } })
  })
})
