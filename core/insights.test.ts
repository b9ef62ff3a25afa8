import { describe, expect, it } from 'vitest'
import { idleSchema } from '../config/idle'
import { cullNotebooks, defaultInsightsPolicy, evidenceSummary, findInsights, lowMemory, rightSize, teamEfficiency, type DeviceUsage, type Finding, type NotebookIdle, type PodUsage } from './insights'

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
    { name: 'device means are weighted by sampled hours: (0.1 x 30 + 0.5 x 10) / 40 = 0.2', pods: [pod({ gpuHours: 60, gpus: 2, devices: [dev('g0', 0.1, 0.1, { hours: 30 }), dev('g1', 0.5, 0.5, { hours: 10 })] })], want: { efficiency: 0.2, impact: 32 } },
    { name: 'less than minGpuHours (1) sampled is not worth a line', pods: [pod({ gpuHours: 0.5, devices: [dev('g0', 0)] })], want: undefined },
    { name: '2 GPUs held 48 h (96 GPU-h), sampled only the last 24 h at 0.1: 48 sampled, 4.8 used, 43.2 unused', pods: [pod({ gpus: 2, gpuHours: 96, devices: [dev('g0', 0.1, 0.1, { hours: 24 }), dev('g1', 0.1, 0.1, { hours: 24 })] })], want: { efficiency: 0.1, impact: 43.2, sampled: 48 } },
    { name: 'a 2-GPU pod with one GPU reporting: only its 10 GPU-hours are sampled', pods: [pod({ gpus: 2, gpuHours: 20, devices: [dev('g0', 0.1)] })], want: { efficiency: 0.1, impact: 9, sampled: 10 } },
    { name: 'hourly buckets beyond the allocation are clipped to it: 1.5 h held, 2 buckets', pods: [pod({ gpuHours: 1.5, devices: [dev('g0', 0.1, 0.1, { hours: 2 })] })], want: { efficiency: 0.1, impact: 1.35, sampled: 1.5 } },
    { name: 'a MIG slice (1/7 GPU) sampled 14 h counts 2 GPU-hours', pods: [pod({ gpus: 1 / 7, gpuHours: 2, devices: [dev('g0', 0.1, 0.1, { hours: 14 })] })], want: { efficiency: 0.1, impact: 1.8, sampled: 2 } },
  ])('$name', ({ pods, want }) => {
    const [f, ...rest] = teamEfficiency(pods, policy)
    expect(rest).toEqual([])
    if (!want) return expect(f).toBeUndefined()
    expect(f?.type).toBe('team-efficiency')
    expect(round(f?.evidence.efficiencyRatio as number)).toBe(want.efficiency)
    expect(round(f?.impactGpuHours ?? NaN)).toBe(want.impact)
    if ('sampled' in want) expect(round(f?.evidence.sampledGpuHours as number)).toBe(want.sampled)
  })

  it('says how many of the allocated GPU-hours were sampled', () => {
    const [f] = teamEfficiency([pod({ team: 'research', gpus: 2, gpuHours: 96, devices: [dev('g0', 0.1, 0.1, { hours: 24 }), dev('g1', 0.1, 0.1, { hours: 24 })] })], policy)
    expect(f?.message).toBe('team research used 10% of the 48 sampled GPU-hours it held (of 96 allocated; threshold 30%); impact = sampled GPU-hours unused')
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

describe('low memory: a busy job whose busy GPUs peak below 25% of their memory', () => {
  it.each([
    { name: '8 of 80 GiB (10%) while busy: larger batch, impact = idle share of 10 GPU-hours', devices: [dev('g0', 0.6, 0.7, { fbUsedMaxBytes: 8 * GiB })], want: { peak: 0.1, impact: 4 } },
    { name: '1 of 4 GPUs busy at 0.7 with 10 of 80 GiB: only the busy GPU counts (mean 0.7, impact 10 x 0.3)', devices: [dev('g0', 0.7, 0.7, { fbUsedMaxBytes: 10 * GiB }), ...['g1', 'g2', 'g3'].map((g) => dev(g, 0, 0, { fbUsedMaxBytes: 10 * GiB }))], want: { peak: 0.125, impact: 3, mean: 0.7 } },
    { name: 'an idle GPU holding 50% of its memory does not hide a busy one at 10%', devices: [dev('g0', 0.6, 0.7, { fbUsedMaxBytes: 8 * GiB }), dev('g1', 0, 0, { fbUsedMaxBytes: 40 * GiB })], want: { peak: 0.1, impact: 4, mean: 0.6 } },
    { name: 'exactly 25%: no finding', devices: [dev('g0', 0.6, 0.7, { fbUsedMaxBytes: 20 * GiB })], want: undefined },
    { name: 'idle (mean 0.01): that is idle work, not a batch size', devices: [dev('g0', 0.01, 0.01, { fbUsedMaxBytes: 8 * GiB })], want: undefined },
    { name: 'one GPU of two with unknown memory size (MIG): no finding', devices: [dev('g0', 0.6, 0.7, { fbUsedMaxBytes: 8 * GiB }), dev('g1', 0.6, 0.7, { fbUsedMaxBytes: GiB, fbTotalBytes: null })], want: undefined },
    { name: 'the highest GPU decides: 10% and 30% is no finding', devices: [dev('g0', 0.6, 0.7, { fbUsedMaxBytes: 8 * GiB }), dev('g1', 0.6, 0.7, { fbUsedMaxBytes: 24 * GiB })], want: undefined },
  ])('$name', ({ devices, want }) => {
    const f = lowMemory([pod({ gpus: devices.length, gpuHours: 10 * devices.length, devices })], policy)
    if (!want) return expect(f).toBeUndefined()
    expect(f?.type).toBe('low-memory')
    expect(f?.evidence.peakMemoryRatio).toBe(want.peak)
    expect(round(f?.impactGpuHours ?? NaN)).toBe(want.impact)
    if ('mean' in want) expect(round(f?.evidence.meanUtilRatio as number)).toBe(want.mean)
  })

  it('is never given to a notebook (its batch is interactive)', () => {
    expect(lowMemory([pod({ kind: 'Notebook', devices: [dev('g0', 0.6, 0.7, { fbUsedMaxBytes: 8 * GiB })] })], policy)).toBeUndefined()
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
    const [f] = cullNotebooks([n], policy, NOW, NOW - 7 * 24 * HOUR)
    expect(f?.suggestion).toBe(want)
  })

  it.each([
    { name: 'idle 30 h, window 7 d: 30 GPU-hours', windowHours: 7 * 24, gpus: 1, want: 30 },
    { name: 'idle 30 h, window 1 h: only the hour in the window', windowHours: 1, gpus: 1, want: 1 },
    { name: 'idle 30 h on 2 GPUs, window 1 d: 48 GPU-hours', windowHours: 24, gpus: 2, want: 48 },
  ])('counts only the idle GPU-hours inside the window: $name', ({ windowHours, gpus, want }) => {
    const [f] = cullNotebooks([{ ...nb('idle', 30), gpus, wastedGpuHours: 30 * gpus }], policy, NOW, NOW - windowHours * HOUR)
    expect(round(f?.impactGpuHours ?? NaN)).toBe(want)
  })
})

const WEEK_AGO = NOW - 7 * 24 * HOUR
const byWorkload = (findings: readonly Finding[]) => {
  const out: Record<string, number> = {}
  for (const f of findings) if (f.type !== 'team-efficiency') out[f.subject] = round((out[f.subject] ?? 0) + f.impactGpuHours)
  return out
}

describe('findInsights', () => {
  it('orders findings by GPU-hours at stake', () => {
    const findings = findInsights({
      windowFromMs: WEEK_AGO,
      activeNow: new Set(['c1/ml/Job/ddp', 'c1/ml/Job/small']),
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

  const fourGpus = pod({ name: 'ddp', pod: 'ddp-0', gpus: 4, gpuHours: 96, devices: [dev('g0', 0.7, 0.7, { hours: 24, fbUsedMaxBytes: 10 * GiB }), ...['g1', 'g2', 'g3'].map((g) => dev(g, 0, 0, { hours: 24, fbUsedMaxBytes: 10 * GiB }))] })
  const nbPod = pod({ kind: 'Notebook', name: 'nb', pod: 'nb-0', team: 'nlp', gpus: 2, gpuHours: 80, devices: [dev('n0', 0.2, 0.4, { hours: 40, fbUsedMaxBytes: 8 * GiB }), dev('n1', 0, 0, { hours: 40, fbUsedMaxBytes: 8 * GiB })] })
  const nbIdle: NotebookIdle = { cluster: 'c1', namespace: 'ml', kind: 'Notebook', name: 'nb', team: 'nlp', project: 'p', user: 'ana', gpus: 2, verdict: 'idle', state: 'idle', idleSinceMs: NOW - 30 * HOUR, wastedGpuHours: 60, lastKernelActivityMs: NOW - 30 * HOUR }
  it.each([
    // 1 of 4 busy at 0.7 with 12.5% memory: right-size 3/4 x 96 = 72, low memory on the kept GPU 24 x 0.3 = 7.2 (not 96 x 0.825 = 79.2).
    { name: 'a 4-GPU job (96 GPU-h) with one GPU busy and low memory', pods: [fourGpus], notebooks: [], activeNow: ['c1/ml/Job/ddp'], want: { 'c1/ml/Job/ddp': 79.2 }, allocated: { 'c1/ml/Job/ddp': 96 } },
    { name: 'the same job idle now: no low-memory finding', pods: [fourGpus], notebooks: [], activeNow: [], want: { 'c1/ml/Job/ddp': 72 }, allocated: { 'c1/ml/Job/ddp': 96 } },
    // 2 GPUs held 40 h, idle for the last 30: cull 2 x 30 = 60, right-size 1/2 of the other 20 = 10; no low memory for a notebook.
    { name: 'a 2-GPU notebook to cull and to right-size', pods: [nbPod], notebooks: [nbIdle], activeNow: ['c1/ml/Notebook/nb'], want: { 'c1/ml/Notebook/nb': 70 }, allocated: { 'c1/ml/Notebook/nb': 80 } },
  ])("never claims more than a workload's allocated GPU-hours: $name", ({ pods, notebooks, activeNow, want, allocated }) => {
    const got = byWorkload(findInsights({ windowFromMs: WEEK_AGO, pods, notebooks, activeNow: new Set(activeNow) }, policy, NOW))
    expect(got).toEqual(want)
    for (const [subject, h] of Object.entries(got)) expect(h).toBeLessThanOrEqual(allocated[subject as keyof typeof allocated] as number)
  })

  it('summarises the scalar evidence of a finding in one line', () => {
    const [f] = teamEfficiency([pod({ gpus: 2, gpuHours: 96, devices: [dev('g0', 0.1, 0.1, { hours: 24 }), dev('g1', 0.1, 0.1, { hours: 24 })] })], policy)
    expect(evidenceSummary(f as Finding)).toBe('allocatedGpuHours=96; sampledGpuHours=48; usedGpuHours=4.8; efficiencyRatio=0.1')
  })

  it('keeps config/idle.ts insight defaults equal to defaultInsightsPolicy()', () => {
    const c = idleSchema.parse({})
    expect({ ...c.insights, utilBelow: c.utilBelow }).toEqual(defaultInsightsPolicy())
  })
})
