import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GpuSample, NodeState, WorkloadInterval } from '../core/model'
import { getFrom, startTestApp, teamHeaderAuth, type TestApp } from './helpers/app'
import { openTestStore, type TestStore } from './helpers/store'

// Six hours of one cluster: an on-prem node (8 GPUs) and a cloud burst node (4 GPUs, no price: the
// $2 default rate). On-prem: an idle job (4 GPUs at 1%), a busy one (2 GPUs at 90%), a dark one (2 GPUs, no
// samples: unknown, never idle). The cloud node runs a busy job. Every hour 4 cloud GPUs run while 4 on-prem
// GPUs sit allocated but idle: 24 cloud GPU-hours ($48), all of them reclaimable.
const HOUR = 3_600_000
const NOW = Math.floor(Date.now() / HOUR) * HOUR
const FROM = NOW - 6 * HOUR

const node = (name: string, provider: string, gpus: number): NodeState => ({
  tsMs: FROM - HOUR, cluster: 'c1', node: name, pool: provider === 'onprem' ? 'train' : 'burst', gpuModel: 'NVIDIA-A100-SXM4-80GB', provider,
  instanceType: provider === 'onprem' ? '' : 'p4d.24xlarge', spot: provider !== 'onprem', capacityGpus: gpus, allocatableGpus: gpus, ready: true, schedulable: true,
})
const job = (uid: string, nodeName: string, gpus: number): WorkloadInterval => ({
  cluster: 'c1', podUid: uid, namespace: 'ml', pod: `${uid}-0`, workloadKind: 'Job', workloadName: uid, team: 'ml', project: '', user: '', node: nodeName, gpus,
  gpuResource: 'nvidia.com/gpu', createdMs: FROM - HOUR, startMs: FROM - HOUR, endMs: undefined, lastSeenMs: NOW, phase: 'Running',
})
const samples = (pod: string, nodeName: string, gpus: number, ratio: number): GpuSample[] =>
  Array.from({ length: 6 * 12 * gpus }, (_, i) => ({
    tsMs: FROM + Math.floor(i / gpus) * 5 * 60_000 + 1_000, cluster: 'c1', node: nodeName, gpuUuid: `GPU-${nodeName}-${pod}-${i % gpus}`, gpuIndex: i % gpus,
    model: 'NVIDIA A100-SXM4-80GB', migProfile: '', namespace: 'ml', pod: `${pod}-0`, container: 'main', grEngineActiveRatio: ratio,
  }))

let ts: TestStore
let app: TestApp
const get = (path: string, headers: Record<string, string> = {}) => getFrom(app.base, path, headers)

beforeAll(async () => {
  ts = await openTestStore()
  const s = ts.writers.sinks
  const written = Promise.all([
    s.nodeState.write([node('op1', 'onprem', 8), node('cl1', 'aws', 4)]),
    s.workloadIntervals.write([job('idle', 'op1', 4), job('busy', 'op1', 2), job('dark', 'op1', 2), job('cloud', 'cl1', 4)]),
    s.gpuSamples.write([...samples('idle', 'op1', 4, 0.01), ...samples('busy', 'op1', 2, 0.9), ...samples('cloud', 'cl1', 4, 0.8)]),
  ])
  await ts.writers.flush()
  await written
  app = await startTestApp(ts, { now: () => NOW, auth: teamHeaderAuth({ role: 'admin', name: 'ops' }) })
})

afterAll(async () => {
  await app?.close()
  await ts?.close()
})

describe('GET /api/v1/burst/audit', () => {
  it('reports cloud GPU-hours and cost spent while on-prem GPUs sat allocated but idle, and what reclaiming would have saved', async () => {
    const { status, body } = await get(`/api/v1/burst/audit?period=${new Date(FROM).toISOString()},${new Date(NOW).toISOString()}`)
    expect(status).toBe(200)
    expect(body.data.totals).toEqual({
      cloudGpuHours: 24, cloudCostUsd: 48, cloudGpuHoursWhileOnpremIdle: 24, cloudCostWhileOnpremIdleUsd: 48,
      onpremIdleAllocatedGpuHours: 24, onpremUtilUnknownGpuHours: 12, reclaimableGpuHours: 24, reclaimSavingsUsd: 48,
    })
    expect(body.data.cloudUsdPerGpuHour).toBe(2)
    expect(body.data.steps).toHaveLength(6)
    expect(body.data.steps[0]).toMatchObject({ cluster: 'c1', cloudGpus: 4, onpremIdleGpus: 4, onpremUnknownGpus: 2, reclaimableGpus: 4 })
    // The dark job's GPUs are unknown, never idle: said so.
    expect(body.warnings.join(' ')).toMatch(/12\.0 on-prem allocated GPU-hours had no utilization sample/)
  })

  it('answers CSV per step, refuses a team token and a bad period', async () => {
    const csv = await get(`/api/v1/burst/audit?period=${new Date(FROM).toISOString()},${new Date(NOW).toISOString()}&format=csv`)
    expect((csv.body as string).trim().split('\n')[0]).toBe('ts,cluster,cloudGpus,onpremIdleGpus,onpremUnknownGpus,reclaimableGpus')
    expect((await get('/api/v1/burst/audit', { 'x-team': 'ml' })).status).toBe(403)
    expect((await get('/api/v1/burst/audit?period=yesterdayish')).status).toBe(400)
  })
})
