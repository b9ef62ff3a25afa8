import { describe, expect, it } from 'vitest'
import { idleSchema } from '../config/idle'
import { cullNotebooks, defaultInsightsPolicy, findInsights, lowMemory, rightSize, teamEfficiency, type DeviceUsage, type NotebookIdle, type PodUsage } from './insights'

const HOUR = 3_600_000
const GiB = 1024 ** 3
const NOW = Date.UTC(2026, 2, 2, 12)
const policy = defaultInsightsPolicy()

const dev = (device: string, meanUtil: number, p95Util = meanUtil, over: Partial<DeviceUsage> = {}): DeviceUsage => ({ device, hours: 10, meanUtil, p95Util, fbUsedMaxBytes: 40 * GiB, fbTotalBytes: 80 * GiB, ...over })
const pod = (over: Partial<PodUsage>): PodUsage => ({
  cluster: 'c1', namespace: 'ml', kind: 'Job', name: 'train', team: 'vision', project: 'p', user: 'ana', pod: 'train-0', gpus: 1, gpuHours: 10, devices: [dev('g0', 0.5)], ...over,
})
const round = (x: number) => Math.round(x * 1e9) / 1e9

describe('team efficiency: used / sampled GPU-hours over the window', () => {
  it.each([
    { name: '0.2 < 0.3 is a finding; impact is the unused GPU-hours', pods: [pod({ gpuHours: 10, devices: [dev('g0', 0.2)] })], want: { efficiency: 0.2, impact: 8 } },
    { name: 'exactly 0.3 is not', pods: [pod({ gpuHours: 10, devices: [dev('g0', 0.3)] })], want: undefined },
    { name: 'an unsampled pod counts in allocation only (0.5 over the sampled half)', pods: [pod({ gpuHours: 10, devices: [] }), pod({ pod: 'b', gpuHours: 10, devices: [dev('g1', 0.5)] })], want: undefined },
    { name: 'device means are weighted by sampled hours: (0.1 x 30 + 0.5 x 10) / 40 = 0.2', pods: [pod({ gpuHours: 20, gpus: 2, devices: [dev('g0', 0.1, 0.1, { hours: 30 }), dev('g1', 0.5, 0.5, { hours: 10 })] })], want: { efficiency: 0.2, impact: 16 } },
    { name: 'less than minGpuHours (1) sampled is not worth a line', pods: [pod({ gpuHours: 0.5, devices: [dev('g0', 0)] })], want: undefined },
  ])('$name', ({ pods, want }) => {
    const [f, ...rest] = teamEfficiency(pods, policy)
    expect(rest).toEqual([])
    if (!want) return expect(f).toBeUndefined()
    expect(f?.type).toBe('team-efficiency')
    expect(round(f?.evidence.efficiencyRatio as number)).toBe(want.efficiency)
    expect(round(f?.impactGpuHours ?? NaN)).toBe(want.impact)
  })
})

describe('right-size: k of n GPUs busy at the p95 of their hourly activity', () => {
  const gpus = (busy: number[]) => busy.map((p95, i) => dev(`g${i}`, p95 / 2, p95))
  it.each([
    { name: '1 of 4 busy: request 1, 3/4 of 40 GPU-hours at stake', pods: [pod({ gpus: 4, gpuHours: 40, devices: gpus([0.7, 0, 0, 0]) })], want: { k: 1, impact: 30 } },
    { name: 'p95 exactly at 0.05 is busy, 0.049 is not: 2 of 8', pods: [pod({ gpus: 8, gpuHours: 80, devices: gpus([0.9, 0.05, 0.049, 0, 0, 0, 0, 0]) })], want: { k: 2, impact: 60 } },
    { name: 'two pods keeping 1 and 2 of 4 busy: request 2 per pod', pods: [pod({ gpus: 4, gpuHours: 40, devices: gpus([0.7, 0, 0, 0]) }), pod({ pod: 'train-1', gpus: 4, gpuHours: 20, devices: gpus([0.7, 0.6, 0, 0]) })], want: { k: 2, impact: 30 } },
    { name: 'all 4 busy: nothing to trim', pods: [pod({ gpus: 4, gpuHours: 40, devices: gpus([0.7, 0.6, 0.5, 0.4]) })], want: undefined },
    { name: 'none busy: idle work (see /idle), not a right-size', pods: [pod({ gpus: 4, gpuHours: 40, devices: gpus([0, 0, 0, 0]) })], want: undefined },
    { name: 'a GPU never sampled: unknown, no suggestion', pods: [pod({ gpus: 4, gpuHours: 40, devices: gpus([0.7, 0, 0]) })], want: undefined },
    { name: 'a single GPU cannot be trimmed', pods: [pod({ gpus: 1, devices: gpus([0.01]) })], want: undefined },
    { name: 'MIG slices and shares are not whole GPUs', pods: [pod({ gpus: 2 / 7, devices: gpus([0.5, 0]) })], want: undefined },
  ])('$name', ({ pods, want }) => {
    const f = rightSize(pods, policy)
    if (!want) return expect(f).toBeUndefined()
    expect(f).toMatchObject({ type: 'right-size', subject: 'c1/ml/Job/train', suggestion: `request ${want.k} GPU(s) per pod`, evidence: { suggestedGpus: want.k } })
    expect(round(f?.impactGpuHours ?? NaN)).toBe(want.impact)
  })
})

describe('low memory: a busy job whose GPUs peak below 25% of their memory', () => {
  it.each([
    { name: '8 of 80 GiB (10%) while busy: larger batch, impact = idle share of 10 GPU-hours', devices: [dev('g0', 0.6, 0.7, { fbUsedMaxBytes: 8 * GiB })], want: { peak: 0.1, impact: 4 } },
    { name: 'exactly 25%: no finding', devices: [dev('g0', 0.6, 0.7, { fbUsedMaxBytes: 20 * GiB })], want: undefined },
    { name: 'idle (mean 0.01): that is idle work, not a batch size', devices: [dev('g0', 0.01, 0.01, { fbUsedMaxBytes: 8 * GiB })], want: undefined },
    { name: 'one GPU of two with unknown memory size (MIG): no finding', devices: [dev('g0', 0.6, 0.7, { fbUsedMaxBytes: 8 * GiB }), dev('g1', 0.6, 0.7, { fbUsedMaxBytes: GiB, fbTotalBytes: null })], want: undefined },
    { name: 'the highest GPU decides: 10% and 30% is no finding', devices: [dev('g0', 0.6, 0.7, { fbUsedMaxBytes: 8 * GiB }), dev('g1', 0.6, 0.7, { fbUsedMaxBytes: 24 * GiB })], want: undefined },
  ])('$name', ({ devices, want }) => {
    const f = lowMemory([pod({ gpus: devices.length, devices })], policy)
    if (!want) return expect(f).toBeUndefined()
    expect(f?.type).toBe('low-memory')
    expect(f?.evidence.peakMemoryRatio).toBe(want.peak)
    expect(round(f?.impactGpuHours ?? NaN)).toBe(want.impact)
  })
})

describe('notebooks to cull: idle or hung for at least cullAfter (24 h)', () => {
  const nb = (verdict: NotebookIdle['verdict'], idleHours: number | undefined): NotebookIdle => ({
    cluster: 'c1', namespace: 'ml', kind: 'Notebook', name: 'nb', team: 'nlp', project: '', user: 'eli', gpus: 1, verdict, state: verdict === 'active' ? 'active' : 'idle',
    idleSinceMs: idleHours === undefined ? undefined : NOW - idleHours * HOUR, wastedGpuHours: idleHours ?? 0, lastKernelActivityMs: null,
  })
  it.each([
    { name: 'idle 25 h: cull', n: nb('idle', 25), want: 'stop it (Kubeflow annotation kubeflow-resource-stopped); its volume keeps the work' },
    { name: 'idle exactly 24 h: cull', n: nb('idle', 24), want: 'stop it (Kubeflow annotation kubeflow-resource-stopped); its volume keeps the work' },
    { name: 'idle 23 h: not yet', n: nb('idle', 23), want: undefined },
    { name: 'hung 30 h: check the kernel first', n: nb('hung', 30), want: 'check for a hung cell: interrupt or restart the kernel, or stop the notebook' },
    { name: 'suspect for 30 h cannot be (suspect is shorter than the window): no', n: nb('suspect', 30), want: undefined },
    { name: 'unknown: never culled', n: nb('unknown', undefined), want: undefined },
  ])('$name', ({ n, want }) => {
    const [f] = cullNotebooks([n], policy, NOW)
    expect(f?.suggestion).toBe(want)
  })
})

describe('findInsights', () => {
  it('orders findings by GPU-hours at stake', () => {
    const findings = findInsights({
      pods: [
        pod({ name: 'ddp', pod: 'ddp-0', gpus: 4, gpuHours: 40, devices: ['0.7', '0', '0', '0'].map((u, i) => dev(`g${i}`, Number(u))) }),
        pod({ name: 'small', pod: 'small-0', team: 'speech', gpuHours: 10, devices: [dev('s0', 0.6, 0.7, { fbUsedMaxBytes: 8 * GiB })] }),
      ],
      notebooks: [],
    }, policy, NOW)
    expect(findings.map((f) => [f.type, f.subject, round(f.impactGpuHours)])).toEqual([
      ['team-efficiency', 'vision', 33], // 40 GPU-h at 0.175
      ['right-size', 'c1/ml/Job/ddp', 30],
      ['low-memory', 'c1/ml/Job/small', 4],
    ])
  })

  it('keeps config/idle.ts insight defaults equal to defaultInsightsPolicy()', () => {
    const c = idleSchema.parse({})
    expect({ ...c.insights, utilBelow: c.utilBelow }).toEqual(defaultInsightsPolicy())
  })
})
