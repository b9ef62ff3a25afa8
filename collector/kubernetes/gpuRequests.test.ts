import { describe, expect, it } from 'vitest'
import { kubernetesSchema, type GpuResourceConfig } from '../../config/kubernetes'
import { nodeGpus, parseQuantity, podGpuRequest, podRequests } from './gpuRequests'
import type { Container, PodSpec } from './types'

const defaults = kubernetesSchema.parse({}).gpuResources
const gpu = (n: number | string, extra: Partial<Container> = {}): Container => ({ name: 'c', resources: { requests: { 'nvidia.com/gpu': String(n) } }, ...extra })
const isGpu = (name: string) => name === 'nvidia.com/gpu'

describe('parseQuantity', () => {
  it.each([
    { q: '2', want: 2 },
    { q: 3, want: 3 },
    { q: '500m', want: 0.5 },
    { q: '460m', want: 0.46 },
    { q: '1k', want: 1000 },
    { q: '16Gi', want: 16 * 2 ** 30 },
    { q: '1e3', want: 1000 },
    { q: '1.5', want: 1.5 },
    { q: 'two', want: undefined },
    { q: '', want: undefined },
  ])('$q -> $want', ({ q, want }) => {
    expect(parseQuantity(q)).toBe(want)
  })
})

describe('podRequests follows the Kubernetes rule: max(largest init container (+ earlier sidecars), app containers + sidecars) + overhead', () => {
  it.each<{ name: string; spec: PodSpec; want: number | undefined }>([
    { name: 'app containers add up', spec: { containers: [gpu(1), gpu(2)] }, want: 3 },
    { name: 'a larger init container wins', spec: { initContainers: [gpu(4)], containers: [gpu(1)] }, want: 4 },
    { name: 'a smaller init container does not count', spec: { initContainers: [gpu(1)], containers: [gpu(2)] }, want: 2 },
    { name: 'init containers run one at a time: the largest counts, not the sum', spec: { initContainers: [gpu(3), gpu(2)], containers: [gpu(1)] }, want: 3 },
    {
      name: 'a native sidecar runs beside the app containers',
      spec: { initContainers: [gpu(1, { restartPolicy: 'Always' })], containers: [gpu(1)] },
      want: 2,
    },
    {
      name: 'an init container after a sidecar runs beside it',
      spec: { initContainers: [gpu(1, { restartPolicy: 'Always' }), gpu(2)], containers: [gpu(1)] },
      want: 3,
    },
    {
      name: 'an init container before a sidecar runs alone',
      spec: { initContainers: [gpu(2), gpu(1, { restartPolicy: 'Always' })], containers: [gpu(1)] },
      want: 2,
    },
    { name: 'a limit without a request is the request', spec: { containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '2' } } }] }, want: 2 },
    {
      name: 'a request wins over its limit',
      spec: { containers: [{ name: 'c', resources: { requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '2' } } }] },
      want: 1,
    },
    { name: 'pod overhead is added', spec: { containers: [gpu(1)], overhead: { 'nvidia.com/gpu': '1' } }, want: 2 },
    { name: 'no containers, no request', spec: {}, want: undefined },
  ])('$name', ({ spec, want }) => {
    expect(podRequests(spec, isGpu).get('nvidia.com/gpu')).toBe(want)
  })

  it('ignores resources that are not wanted', () => {
    expect([...podRequests({ containers: [{ name: 'c', resources: { requests: { cpu: '2', 'nvidia.com/gpu': '1' } } }] }, isGpu).keys()]).toEqual(['nvidia.com/gpu'])
  })
})

const custom: GpuResourceConfig[] = [
  { name: 'example.com/gpu-milli', kind: 'milli', perGpuShareUnits: 1000 },
  { name: 'nvidia.com/gpu.shared', kind: 'shares', sharesPerGpu: 4, perGpuShareUnits: 1000 },
]
const req = (resources: Record<string, string>): PodSpec => ({ containers: [{ name: 'c', resources: { requests: resources } }] })

describe('podGpuRequest counts GPUs by resource kind', () => {
  it.each<{ name: string; spec: PodSpec; model?: string; rules?: GpuResourceConfig[]; want: { gpus: number; resource: string } }>([
    { name: 'full GPUs', spec: req({ 'nvidia.com/gpu': '2' }), want: { gpus: 2, resource: 'nvidia.com/gpu' } },
    { name: 'a MIG slice on an A100-80GB is 1/7', spec: req({ 'nvidia.com/mig-1g.10gb': '1' }), want: { gpus: 1 / 7, resource: 'nvidia.com/mig-1g.10gb' } },
    { name: 'two 3g slices are 6/7', spec: req({ 'nvidia.com/mig-3g.40gb': '2' }), want: { gpus: 6 / 7, resource: 'nvidia.com/mig-3g.40gb' } },
    { name: 'a 1g.6gb slice on an A30 is 1/4', spec: req({ 'nvidia.com/mig-1g.6gb': '1' }), model: 'NVIDIA A30', want: { gpus: 1 / 4, resource: 'nvidia.com/mig-1g.6gb' } },
    { name: 'an impossible MIG profile is no GPU', spec: req({ 'nvidia.com/mig-5g.40gb': '1' }), want: { gpus: 0, resource: '' } },
    {
      name: 'MIG single strategy: nvidia.com/gpu on a node of 1g.5gb slices is 1/7',
      spec: req({ 'nvidia.com/gpu': '1' }),
      model: 'A100-SXM4-40GB-MIG-1g.5gb',
      want: { gpus: 1 / 7, resource: 'nvidia.com/gpu' },
    },
    {
      name: 'Alibaba gpu-count 1 with gpu-milli 460 is 0.46 GPU',
      spec: req({ 'alibabacloud.com/gpu-count': '1', 'alibabacloud.com/gpu-milli': '460' }),
      want: { gpus: 0.46, resource: 'alibabacloud.com/gpu-count' },
    },
    {
      name: 'Alibaba gpu-count 8 with gpu-milli 1000 is 8 GPUs',
      spec: req({ 'alibabacloud.com/gpu-count': '8', 'alibabacloud.com/gpu-milli': '1000' }),
      want: { gpus: 8, resource: 'alibabacloud.com/gpu-count' },
    },
    { name: 'Alibaba gpu-count without a share is whole GPUs', spec: req({ 'alibabacloud.com/gpu-count': '2' }), want: { gpus: 2, resource: 'alibabacloud.com/gpu-count' } },
    { name: 'a gpu-milli share alone is no GPU count', spec: req({ 'alibabacloud.com/gpu-milli': '500' }), want: { gpus: 0, resource: '' } },
    { name: 'milli kind: 250 is a quarter GPU', spec: req({ 'example.com/gpu-milli': '250' }), rules: custom, want: { gpus: 0.25, resource: 'example.com/gpu-milli' } },
    { name: 'shares kind: 1 of 4 shares', spec: req({ 'nvidia.com/gpu.shared': '1' }), rules: custom, want: { gpus: 0.25, resource: 'nvidia.com/gpu.shared' } },
    {
      name: 'mixed resources add up, named by the largest',
      spec: { containers: [{ name: 'a', resources: { requests: { 'nvidia.com/gpu': '1' } } }, { name: 'b', resources: { requests: { 'nvidia.com/mig-1g.10gb': '1' } } }] },
      want: { gpus: 1 + 1 / 7, resource: 'nvidia.com/gpu' },
    },
    { name: 'a CPU-only pod requests no GPU', spec: req({ cpu: '4', memory: '16Gi' }), want: { gpus: 0, resource: '' } },
  ])('$name', ({ spec, model, rules, want }) => {
    expect(podGpuRequest(spec, rules ?? defaults, model)).toEqual(want)
  })
})

describe('nodeGpus counts a node capacity', () => {
  it.each<{ name: string; list: Record<string, string>; model?: string; want: number }>([
    { name: 'full GPUs', list: { 'nvidia.com/gpu': '8', cpu: '96' }, want: 8 },
    { name: 'Alibaba: gpu-count, not gpu-milli', list: { 'alibabacloud.com/gpu-count': '8', 'alibabacloud.com/gpu-milli': '8000' }, want: 8 },
    { name: 'MIG mixed strategy: full GPUs plus slices', list: { 'nvidia.com/gpu': '4', 'nvidia.com/mig-1g.10gb': '7' }, model: 'NVIDIA A100-SXM4-80GB', want: 5 },
    { name: 'MIG single strategy: 14 slices of 1g.5gb are 2 GPUs', list: { 'nvidia.com/gpu': '14' }, model: 'A100-SXM4-40GB-MIG-1g.5gb', want: 2 },
    { name: 'no GPU resources', list: { cpu: '4' }, want: 0 },
  ])('$name', ({ list, model, want }) => {
    expect(nodeGpus(list, defaults, model)).toBeCloseTo(want, 12)
  })
})
