import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GpuSample, NodeState, WorkloadInterval, WorkloadPhase } from '../core/model'
import { openTestStore, type TestStore } from './helpers/store'
import { getFrom, startTestApp, teamHeaderAuth, type TestApp } from './helpers/app'

// Spans that clipping leaves empty: a pod that ended without ever being bound (no allocated
// time) and a pod bound before the window starts (no pending time in it). Clipped, their
// ends come before their starts; they must add nothing, whatever the step and however the
// window meets the step's grid. Hand-computed; NOW is noon on the 15th of this UTC month.
const HOUR = 3_600_000
const today = new Date()
const T = (d: number, h = 0, m = 0) => Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), d, h, m)
const NOW = T(15, 12)
const iso = (ms: number) => new Date(ms).toISOString()

const NODE: NodeState = {
  tsMs: T(1), cluster: 'c1', node: 'n1', pool: 'train', gpuModel: 'NVIDIA-H100-80GB-HBM3', provider: 'onprem', instanceType: '', spot: false,
  capacityGpus: 8, allocatableGpus: 8, ready: true, schedulable: true,
}
const pod = (uid: string, team: string, gpus: number, createdMs: number, startMs: number | undefined, endMs: number | undefined, phase: WorkloadPhase): WorkloadInterval => ({
  cluster: 'c1', podUid: uid, namespace: team, pod: `${uid}-0`, workloadKind: 'Job', workloadName: uid, team, project: '', user: '',
  node: startMs === undefined ? '' : 'n1', gpus, gpuResource: 'nvidia.com/gpu', createdMs, startMs, endMs, lastSeenMs: endMs ?? NOW, phase,
})
const PODS = [
  // Pending 01:00-03:00 on the 14th with 2 GPUs, then deleted unbound: 4 pending GPU-hours, no allocation.
  pod('never-bound', 'ops', 2, T(14, 1), undefined, T(14, 3), 'Failed'),
  // Pending 23:00-00:10 (before the window), allocated 00:10-06:00: 5.5 GPU-hours inside the window.
  pod('bound-early', 'ops', 1, T(13, 23), T(14, 0, 10), T(14, 6), 'Succeeded'),
  // Running since before the window: 4 GPUs x 35.5 h inside it.
  pod('long-run', 'ml', 4, T(13, 20), T(13, 20), undefined, 'Running'),
]
// [00:30 on the 14th, noon on the 15th): 35.5 h, starting off every step's grid.
const WINDOW = `${iso(T(14, 0, 30))},${iso(NOW)}`
// long-run's 4 GPUs are sampled (0.5) only from 06:30 on the 15th, once an hour: collection began mid-day.
const SAMPLES: GpuSample[] = [6, 7, 8, 9, 10, 11].flatMap((h) =>
  [0, 1, 2, 3].map((g) => ({
    tsMs: T(15, h, 30), cluster: 'c1', node: 'n1', gpuUuid: `GPU-n1-${g}`, gpuIndex: g, model: 'NVIDIA H100 80GB HBM3', migProfile: '',
    namespace: 'ml', pod: 'long-run-0', container: 'main', grEngineActiveRatio: 0.5,
  })),
)

let ts: TestStore
let app: TestApp

beforeAll(async () => {
  ts = await openTestStore()
  const sinks = ts.writers.sinks
  const written = Promise.all([sinks.nodeState.write([NODE]), sinks.workloadIntervals.write(PODS), sinks.gpuSamples.write(SAMPLES)])
  await ts.writers.flush()
  await written
  app = await startTestApp(ts, { now: () => NOW, auth: teamHeaderAuth({ role: 'viewer', name: 'viewer' }) })
})

afterAll(async () => {
  await app?.close()
  await ts?.close()
})

const get = (path: string) => getFrom(app.base, path)
const byTeam = (body: any) => Object.fromEntries(body.data.series.map((s: any) => [s.group.team, s]))

describe('GET /api/v1/usage: spans left empty by clipping', () => {
  it.each(['1h', '2h', '6h', '1d'])('step %s: the same hand-computed totals, and no point below zero', async (step) => {
    const { status, body } = await get(`/api/v1/usage?window=${WINDOW}&step=${step}&groupBy=team`)
    expect(status).toBe(200)
    const teams = byTeam(body)
    expect(teams.ops.totals.allocatedGpuHours).toBeCloseTo(5.5, 9)
    expect(teams.ops.totals.pendingGpuHours).toBeCloseTo(4, 9)
    expect(teams.ml.totals.allocatedGpuHours).toBeCloseTo(142, 9)
    expect(teams.ml.totals.pendingGpuHours).toBe(0)
    for (const s of body.data.series) {
      for (const p of s.points) {
        expect(p.allocatedGpuHours).toBeGreaterThanOrEqual(0)
        expect(p.pendingGpus).toBeGreaterThanOrEqual(0)
      }
    }
  })

  it('the fleet: capacity 8 GPUs x 35.5 h, allocation 147.5 GPU-hours whatever the step', async () => {
    for (const step of ['1h', '1d']) {
      const { body } = await get(`/api/v1/usage?window=${WINDOW}&step=${step}`)
      const [fleet] = body.data.series
      expect(fleet.totals.capacityGpuHours).toBeCloseTo(284, 9)
      expect(fleet.totals.allocatedGpuHours).toBeCloseTo(147.5, 9)
      expect(fleet.totals.pendingGpuHours).toBeCloseTo(4, 9)
    }
  })
})

describe('GET /api/v1/usage: utilization of a step sampled only in part', () => {
  it.each(['1h', '6h', '1d'])('step %s: the hours before the first sample are unknown, not used at the later hours\' rate', async (step) => {
    const { body } = await get(`/api/v1/usage?window=${WINDOW}&step=${step}&groupBy=team`)
    const ml = byTeam(body).ml
    // 4 GPUs x 6 h sampled at 0.5 = 12 used; the other 29.5 h x 4 GPUs are unknown.
    expect(ml.totals.usedGpuHours).toBeCloseTo(12, 4)
    expect(ml.totals.utilUnknownGpuHours).toBeCloseTo(118, 9)
    expect(ml.totals.wasteGpuHours).toBeCloseTo(12, 4)
    expect(ml.totals.utilRatio).toBeCloseTo(0.5, 6)
  })

  it('says how much of a daily point is unknown', async () => {
    const { body } = await get(`/api/v1/usage?window=${WINDOW}&step=1d&groupBy=team`)
    const [day14, day15] = byTeam(body).ml.points
    expect(day14).toMatchObject({ usedGpuHours: null, utilRatio: null })
    expect(day14.utilUnknownGpuHours).toBeCloseTo(94, 9)
    expect(day15.allocatedGpuHours).toBeCloseTo(48, 9)
    expect(day15.usedGpuHours).toBeCloseTo(12, 4)
    expect(day15.utilUnknownGpuHours).toBeCloseTo(24, 9)
    expect(day15.utilizedGpus).toBeCloseTo(1, 4)
  })
})
