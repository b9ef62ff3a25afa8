import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeState, WorkloadInterval, WorkloadPhase } from '../core/model'
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
  // Pending 01:00-03:00 with 2 GPUs, then deleted unbound: 4 pending GPU-hours, no allocation.
  pod('never-bound', 'ops', 2, T(15, 1), undefined, T(15, 3), 'Failed'),
  // Pending 23:00-00:10 (before the window), allocated 00:10-06:00: 5.5 GPU-hours inside [00:30, 12:00).
  pod('bound-early', 'ops', 1, T(14, 23), T(15, 0, 10), T(15, 6), 'Succeeded'),
  // Running since the day before: 4 GPUs x 11.5 h inside the window.
  pod('long-run', 'ml', 4, T(14, 20), T(14, 20), undefined, 'Running'),
]
const WINDOW = `${iso(T(15, 0, 30))},${iso(NOW)}`

let ts: TestStore
let app: TestApp

beforeAll(async () => {
  ts = await openTestStore()
  const written = Promise.all([ts.writers.sinks.nodeState.write([NODE]), ts.writers.sinks.workloadIntervals.write(PODS)])
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
  it.each(['1h', '2h', '6h', '1d', '7d'])('step %s: the same hand-computed totals, and no point below zero', async (step) => {
    const { status, body } = await get(`/api/v1/usage?window=${WINDOW}&step=${step}&groupBy=team`)
    expect(status).toBe(200)
    const teams = byTeam(body)
    expect(teams.ops.totals.allocatedGpuHours).toBeCloseTo(5.5, 9)
    expect(teams.ops.totals.pendingGpuHours).toBeCloseTo(4, 9)
    expect(teams.ml.totals.allocatedGpuHours).toBeCloseTo(46, 9)
    expect(teams.ml.totals.pendingGpuHours).toBe(0)
    for (const s of body.data.series) {
      for (const p of s.points) {
        expect(p.allocatedGpuHours).toBeGreaterThanOrEqual(0)
        expect(p.pendingGpus).toBeGreaterThanOrEqual(0)
      }
    }
  })

  it('the fleet: capacity 8 GPUs x 11.5 h, allocation 51.5 GPU-hours whatever the step', async () => {
    for (const step of ['1h', '1d']) {
      const { body } = await get(`/api/v1/usage?window=${WINDOW}&step=${step}`)
      const [fleet] = body.data.series
      expect(fleet.totals.capacityGpuHours).toBeCloseTo(92, 9)
      expect(fleet.totals.allocatedGpuHours).toBeCloseTo(51.5, 9)
      expect(fleet.totals.pendingGpuHours).toBeCloseTo(4, 9)
    }
  })
})
