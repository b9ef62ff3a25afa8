import { describe, expect, it } from 'vitest'
import { kubernetesSchema } from '../../config/kubernetes'
import type { NodeState } from '../../core/model'
import { goneNodeState, isGone, isGpuNode, isSpot, nodeState, providerOf, sameNodeState, type NodeContext } from './nodeState'
import type { Node } from './types'

const k8s = kubernetesSchema.parse({})
const ctx: NodeContext = { cluster: 'c1', gpuResources: k8s.gpuResources, labels: k8s.labels, defaultProvider: 'onprem', defaultGpuModel: '' }

const node = (over: { labels?: Record<string, string>; providerID?: string; unschedulable?: boolean; ready?: string; capacity?: Record<string, string>; allocatable?: Record<string, string> } = {}): Node => ({
  metadata: { name: 'n1', labels: over.labels ?? {} },
  spec: { providerID: over.providerID, unschedulable: over.unschedulable },
  status: {
    capacity: over.capacity ?? { 'nvidia.com/gpu': '8' },
    allocatable: over.allocatable ?? over.capacity ?? { 'nvidia.com/gpu': '8' },
    conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: over.ready ?? 'True' }],
  },
})

describe('providerOf', () => {
  it.each([
    { id: 'aws:///us-east-1a/i-0123456789abcdef0', want: 'aws' },
    { id: 'gce://my-project/us-central1-a/gke-pool-1', want: 'gcp' },
    { id: 'azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss/virtualMachines/0', want: 'azure' },
    { id: 'kind://docker/kind/kind-control-plane', want: 'kind' },
    { id: '', want: 'onprem' },
    { id: undefined, want: 'onprem' },
  ])('$id -> $want', ({ id, want }) => {
    expect(providerOf(id, 'onprem')).toBe(want)
  })
})

describe('isSpot', () => {
  it.each<{ labels: Record<string, string>; want: boolean }>([
    { labels: { 'eks.amazonaws.com/capacityType': 'SPOT' }, want: true },
    { labels: { 'eks.amazonaws.com/capacityType': 'ON_DEMAND' }, want: false },
    { labels: { 'karpenter.sh/capacity-type': 'spot' }, want: true },
    { labels: { 'cloud.google.com/gke-spot': 'true' }, want: true },
    { labels: { 'cloud.google.com/gke-preemptible': 'true' }, want: true },
    { labels: { 'kubernetes.azure.com/scalesetpriority': 'spot' }, want: true },
    { labels: {}, want: false },
  ])('$labels -> $want', ({ labels, want }) => {
    expect(isSpot(labels)).toBe(want)
  })
})

describe('nodeState maps a node', () => {
  it.each<{ name: string; node: Node; ctx?: Partial<NodeContext>; want: Partial<NodeState> }>([
    {
      name: 'an EKS spot p5 node with GPU feature discovery',
      node: node({
        providerID: 'aws:///us-east-1a/i-0abc',
        labels: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3', 'node.kubernetes.io/instance-type': 'p5.48xlarge', 'eks.amazonaws.com/capacityType': 'SPOT' },
      }),
      want: { provider: 'aws', instanceType: 'p5.48xlarge', spot: true, gpuModel: 'NVIDIA-H100-80GB-HBM3', pool: 'p5.48xlarge', capacityGpus: 8, allocatableGpus: 8, ready: true, schedulable: true },
    },
    {
      name: 'an on-prem DGX with a pool label, cordoned and NotReady',
      node: node({ labels: { 'gpuscope.io/pool': 'dgx-a', 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB' }, unschedulable: true, ready: 'False' }),
      want: { provider: 'onprem', pool: 'dgx-a', instanceType: '', spot: false, ready: false, schedulable: false },
    },
    {
      name: 'allocatable below capacity (a GPU marked unhealthy)',
      node: node({ capacity: { 'nvidia.com/gpu': '8' }, allocatable: { 'nvidia.com/gpu': '7' } }),
      want: { capacityGpus: 8, allocatableGpus: 7 },
    },
    {
      name: 'an Alibaba node: model from alibabacloud.com/gpu-card-model, GPUs from gpu-count',
      node: node({ labels: { 'alibabacloud.com/gpu-card-model': 'V100M16' }, capacity: { 'alibabacloud.com/gpu-count': '8', 'alibabacloud.com/gpu-milli': '8000' } }),
      want: { gpuModel: 'V100M16', capacityGpus: 8, allocatableGpus: 8 },
    },
    { name: 'the configured model when labels name none', node: node(), ctx: { defaultGpuModel: 'NVIDIA A100-SXM4-80GB' }, want: { gpuModel: 'NVIDIA A100-SXM4-80GB' } },
    { name: 'the beta instance-type label', node: node({ labels: { 'beta.kubernetes.io/instance-type': 'g5.xlarge' } }), want: { instanceType: 'g5.xlarge' } },
  ])('$name', ({ node: n, ctx: over, want }) => {
    expect(nodeState(n, { ...ctx, ...over }, 1_000)).toMatchObject({ tsMs: 1_000, cluster: 'c1', node: 'n1', ...want })
  })
})

describe('node rows', () => {
  it('counts a node as a GPU node by capacity, or by a GPU model label while its device plugin is down', () => {
    const plain = node({ capacity: { cpu: '8' } })
    expect(isGpuNode(plain, nodeState(plain, ctx, 0), ctx)).toBe(false)
    const starting = node({ capacity: { cpu: '8' }, labels: { 'nvidia.com/gpu.product': 'NVIDIA-L4' } })
    expect(isGpuNode(starting, nodeState(starting, ctx, 0), ctx)).toBe(true)
    expect(isGpuNode(node(), nodeState(node(), ctx, 0), ctx)).toBe(true)
  })

  it('compares states without their timestamps, and marks a departed node as gone', () => {
    const a = nodeState(node(), ctx, 1)
    expect(sameNodeState(a, nodeState(node(), ctx, 2))).toBe(true)
    expect(sameNodeState(a, nodeState(node({ unschedulable: true }), ctx, 2))).toBe(false)
    const gone = goneNodeState(a, 5)
    expect(gone).toMatchObject({ tsMs: 5, capacityGpus: 0, allocatableGpus: 0, ready: false, schedulable: false, gpuModel: a.gpuModel })
    expect(isGone(gone)).toBe(true)
    expect(isGone(a)).toBe(false)
  })
})
