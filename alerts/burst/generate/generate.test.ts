import { describe, expect, it } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import { configSchema } from '../../../config/schema'
import { InputError } from '../../../core/errors'
import {
  karpenterObjects, kueueObjects, priorityExpanderObjects, renderYaml,
  type AutoscalerOptions, type CommonOptions, type KarpenterOptions, type KubeObject, type KueueOptions,
} from './index'
import { crdErrors, priorityExpanderErrors } from '../../../test/helpers/upstreamCheck'

const webhook = { type: 'webhook', webhookUrl: 'http://127.0.0.1:9/scale' }
const asg = (name: string) => ({ type: 'aws-asg', region: 'us-east-1', autoScalingGroupName: name })

/** Two pools in c1 (dgx lists on-demand first on purpose; hgx has one spot target) and one in c2. */
function burst(pools?: unknown[]) {
  return configSchema.parse({
    alerts: {
      burst: {
        pools: pools ?? [
          {
            cluster: 'c1', pool: 'dgx', maxBurstGpus: 24, monthlyBudgetUsd: 5000,
            targets: [
              { name: 'aws-od', provider: 'aws', lifecycle: 'on-demand', pool: 'aws-burst', gpusPerNode: 8, maxNodes: 1, usdPerGpuHour: 4, adapter: asg('gpu-burst-od') },
              { name: 'gcp-spot', provider: 'gcp', lifecycle: 'spot', pool: 'gcp-burst', gpusPerNode: 8, maxNodes: 2, usdPerGpuHour: 1.2, adapter: webhook },
              { name: 'aws-spot', provider: 'aws', lifecycle: 'spot', pool: 'aws-burst', gpusPerNode: 8, maxNodes: 4, usdPerGpuHour: 1.5, adapter: asg('gpu-burst-spot') },
            ],
          },
          {
            cluster: 'c1', pool: 'hgx', maxBurstGpus: 64, monthlyBudgetUsd: 5000, scaleInAfterMs: 600_000,
            targets: [{ name: 'hgx-spot', provider: 'aws', pool: 'hgx-burst', gpusPerNode: 4, maxNodes: 2, usdPerGpuHour: 2, adapter: asg('hgx-burst-spot') }],
          },
          {
            cluster: 'c2', pool: 'a100', maxBurstGpus: 8, monthlyBudgetUsd: 100,
            targets: [{ name: 'spot', provider: 'aws', pool: 'c2-burst', gpusPerNode: 8, maxNodes: 1, usdPerGpuHour: 1, adapter: webhook }],
          },
        ],
      },
    },
  }).alerts.burst
}

const toleration = { key: 'gpuscope.io/burst', operator: 'Exists' as const, value: '', effect: 'NoSchedule' as const }
const common: CommonOptions = { cluster: 'c1', poolLabel: 'gpuscope.io/pool', gpuResource: 'nvidia.com/gpu', capacityTypeLabel: 'karpenter.sh/capacity-type', burstToleration: toleration }
const kueueOpts: KueueOptions = { ...common, onpremGpus: { dgx: 64, hgx: 32 }, perGpu: {}, namespaceSelector: {} }
const autoscalerOpts: AutoscalerOptions = { ...common, namespace: 'kube-system', nodeGroups: {} }
const karpenterOpts: KarpenterOptions = { ...common, nodeClass: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'gpu' }, instanceTypes: { '*': ['p4d.24xlarge'] } }

const byKind = (objs: KubeObject[], kind: string) => objs.filter((o) => o.kind === kind)
const named = (objs: KubeObject[], name: string, kind?: string) => objs.find((o) => (o.metadata as { name: string }).name === name && (kind === undefined || o.kind === kind)) as any
const clone = <T>(x: T): T => structuredClone(x)

describe('Kueue generator', () => {
  const g = kueueObjects(burst(), kueueOpts)

  it('every ResourceFlavor and ClusterQueue passes the upstream CRD schema', () => {
    expect(byKind(g.objects, 'ResourceFlavor')).toHaveLength(6) // dgx + 3 dgx targets, hgx + 1 hgx target
    expect(byKind(g.objects, 'ClusterQueue')).toHaveLength(2)
    for (const o of g.objects) expect(crdErrors(o, o.kind as 'ResourceFlavor' | 'ClusterQueue'), `${o.kind} ${(o.metadata as any).name}`).toEqual([])
  })

  it('orders flavors on-prem -> cloud spot (config order) -> cloud on-demand, with TryNextFlavor', () => {
    const cq = named(g.objects, 'dgx', 'ClusterQueue')
    expect(cq.spec.flavorFungibility).toEqual({ whenCanBorrow: 'TryNextFlavor', whenCanPreempt: 'TryNextFlavor' })
    const flavors = cq.spec.resourceGroups[0].flavors
    expect(flavors.map((f: any) => f.name)).toEqual(['dgx', 'gcp-burst-spot', 'aws-burst-spot', 'aws-burst-on-demand'])
    expect(g.notes.join('\n')).toContain('try gcp-spot, aws-spot, aws-od in that order')
  })

  it('quotas: on-prem = its capacity, cloud = maxNodes x gpusPerNode capped by maxBurstGpus', () => {
    const cq = named(g.objects, 'dgx', 'ClusterQueue')
    expect(cq.spec.resourceGroups[0].flavors.map((f: any) => f.resources[0])).toEqual([
      { name: 'nvidia.com/gpu', nominalQuota: 64 },
      { name: 'nvidia.com/gpu', nominalQuota: 16 },
      { name: 'nvidia.com/gpu', nominalQuota: 24 }, // 4 x 8 = 32, capped at maxBurstGpus 24
      { name: 'nvidia.com/gpu', nominalQuota: 8 },
    ])
  })

  it('flavors select nodes by pool label (and capacity type for cloud); cloud flavors carry the burst toleration', () => {
    expect(named(g.objects, 'dgx', 'ResourceFlavor').spec).toEqual({ nodeLabels: { 'gpuscope.io/pool': 'dgx' } })
    expect(named(g.objects, 'aws-burst-on-demand').spec).toEqual({
      nodeLabels: { 'gpuscope.io/pool': 'aws-burst', 'karpenter.sh/capacity-type': 'on-demand' },
      tolerations: [{ key: 'gpuscope.io/burst', operator: 'Exists', effect: 'NoSchedule' }],
    })
  })

  it('--per-gpu adds covered resources scaled by each flavor GPUs, and still validates', () => {
    const h = kueueObjects(burst(), { ...kueueOpts, pool: 'dgx', perGpu: { cpu: '16', memory: '128Gi' }, namespaceSelector: { team: 'ml' }, cohort: 'gpu', queueName: 'dgx-burst' })
    const cq = byKind(h.objects, 'ClusterQueue')[0] as any
    expect(cq.metadata.name).toBe('dgx-burst')
    expect(cq.spec.namespaceSelector).toEqual({ matchLabels: { team: 'ml' } })
    expect(cq.spec.cohort).toBe('gpu')
    expect(cq.spec.resourceGroups[0].coveredResources).toEqual(['nvidia.com/gpu', 'cpu', 'memory'])
    expect(cq.spec.resourceGroups[0].flavors[0].resources).toEqual([
      { name: 'nvidia.com/gpu', nominalQuota: 64 }, { name: 'cpu', nominalQuota: '1024' }, { name: 'memory', nominalQuota: '8192Gi' },
    ])
    expect(h.notes.join('\n')).not.toContain('cover nvidia.com/gpu only')
    for (const o of h.objects) expect(crdErrors(o, o.kind as 'ClusterQueue')).toEqual([])
  })
})

describe('cluster-autoscaler priority expander', () => {
  const g = priorityExpanderObjects(burst(), autoscalerOpts)
  const cm = g.objects[0] as any

  it('is a valid ConfigMap named cluster-autoscaler-priority-expander whose priorities parse, compile and end in a lowest .* catch-all', () => {
    expect(g.objects).toHaveLength(1)
    expect(cm.metadata).toMatchObject({ name: 'cluster-autoscaler-priority-expander', namespace: 'kube-system' })
    expect(priorityExpanderErrors(cm)).toEqual([])
  })

  it('ranks spot above on-demand fleet-wide, config order within spot; ASG targets match their group exactly', () => {
    const priorities = parse(cm.data.priorities) as Record<string, string[]>
    expect(priorities).toEqual({
      100: ['.*gcp-burst.*', '^hgx-burst-spot$'], // first spot place of each pool
      90: ['^gpu-burst-spot$'],
      80: ['^gpu-burst-od$'],
      1: ['.*'],
    })
    expect(g.notes.join('\n')).toContain("node-group pattern '.*gcp-burst.*' is a guess")
  })

  it('--node-group overrides a guessed pattern', () => {
    const h = priorityExpanderObjects(burst(), { ...autoscalerOpts, pool: 'dgx', nodeGroups: { 'gcp-spot': '^gke-burst-a100-spot-.*$' } })
    const priorities = parse((h.objects[0] as any).data.priorities) as Record<string, string[]>
    expect(priorities[100]).toEqual(['^gke-burst-a100-spot-.*$'])
    expect(h.notes.join('\n')).not.toContain('is a guess')
  })
})

describe('Karpenter generator', () => {
  const g = karpenterObjects(burst(), karpenterOpts)

  it('every NodePool passes the upstream karpenter.sh/v1 CRD schema', () => {
    expect(g.objects.map((o) => (o.metadata as any).name)).toEqual(['gcp-burst-spot', 'aws-burst-spot', 'aws-burst-on-demand', 'hgx-burst-spot'])
    for (const o of g.objects) expect(crdErrors(o, 'NodePool'), (o.metadata as any).name).toEqual([])
  })

  it('weights put every spot NodePool above every on-demand one', () => {
    const weight = (name: string) => named(g.objects, name).spec.weight as number
    expect(weight('gcp-burst-spot')).toBeGreaterThan(weight('aws-burst-spot'))
    expect(weight('aws-burst-spot')).toBeGreaterThan(weight('aws-burst-on-demand'))
    expect(weight('hgx-burst-spot')).toBeGreaterThan(weight('aws-burst-on-demand'))
  })

  it('pins capacity type and instance types, labels the pool, taints burst nodes, limits GPUs, consolidates only empty nodes', () => {
    expect(named(g.objects, 'aws-burst-spot').spec).toEqual({
      weight: 90,
      limits: { 'nvidia.com/gpu': 24 },
      disruption: { consolidationPolicy: 'WhenEmpty', consolidateAfter: '30m' },
      template: {
        metadata: { labels: { 'gpuscope.io/pool': 'aws-burst' } },
        spec: {
          nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'gpu' },
          requirements: [
            { key: 'karpenter.sh/capacity-type', operator: 'In', values: ['spot'] },
            { key: 'node.kubernetes.io/instance-type', operator: 'In', values: ['p4d.24xlarge'] },
          ],
          taints: [{ key: 'gpuscope.io/burst', effect: 'NoSchedule' }],
        },
      },
    })
    expect(named(g.objects, 'hgx-burst-spot').spec.disruption.consolidateAfter).toBe('10m')
  })

  it('--provider keeps one cloud; mixed providers without it get a note', () => {
    expect(g.notes.join('\n')).toContain('span providers aws, gcp')
    const aws = karpenterObjects(burst(), { ...karpenterOpts, provider: 'aws' })
    expect(aws.objects.map((o) => (o.metadata as any).name)).toEqual(['aws-burst-spot', 'aws-burst-on-demand', 'hgx-burst-spot'])
  })
})

describe('the validators are not vacuous: broken objects fail', () => {
  const kueue = kueueObjects(burst(), kueueOpts)
  const cq = byKind(kueue.objects, 'ClusterQueue')[0] as any
  const rf = byKind(kueue.objects, 'ResourceFlavor')[1] as any
  const np = karpenterObjects(burst(), karpenterOpts).objects[0] as any
  const cm = priorityExpanderObjects(burst(), autoscalerOpts).objects[0] as any

  it.each([
    { name: 'ClusterQueue flavor without nominalQuota', kind: 'ClusterQueue', obj: cq, mutate: (o: any) => delete o.spec.resourceGroups[0].flavors[1].resources[0].nominalQuota, want: /nominalQuota/ },
    { name: 'ClusterQueue with an unknown whenCanBorrow', kind: 'ClusterQueue', obj: cq, mutate: (o: any) => (o.spec.flavorFungibility.whenCanBorrow = 'Maybe'), want: /allowed values/ },
    { name: 'ClusterQueue with a misspelled field', kind: 'ClusterQueue', obj: cq, mutate: (o: any) => (o.spec.flavorFungability = {}), want: /flavorFungability/ },
    { name: 'ClusterQueue flavor name that is not a DNS subdomain', kind: 'ClusterQueue', obj: cq, mutate: (o: any) => (o.spec.resourceGroups[0].flavors[0].name = 'On_Prem'), want: /pattern/ },
    { name: 'ResourceFlavor with a non-string node label value', kind: 'ResourceFlavor', obj: rf, mutate: (o: any) => (o.spec.nodeLabels['gpuscope.io/pool'] = 7), want: /must be string/ },
    { name: 'ResourceFlavor taint without its required key', kind: 'ResourceFlavor', obj: rf, mutate: (o: any) => (o.spec.nodeTaints = [{ effect: 'NoSchedule' }]), want: /key/ },
    { name: 'NodePool without nodeClassRef', kind: 'NodePool', obj: np, mutate: (o: any) => delete o.spec.template.spec.nodeClassRef, want: /nodeClassRef/ },
    { name: 'NodePool with weight 0', kind: 'NodePool', obj: np, mutate: (o: any) => (o.spec.weight = 0), want: /must be >= 1/ },
    { name: 'NodePool of the old v1beta1 API', kind: 'NodePool', obj: np, mutate: (o: any) => (o.apiVersion = 'karpenter.sh/v1beta1'), want: /apiVersion must be karpenter.sh\/v1/ },
  ])('$name', ({ kind, obj, mutate, want }) => {
    const broken = clone(obj)
    mutate(broken)
    const errors = crdErrors(broken, kind as 'NodePool')
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.join('\n')).toMatch(want)
  })

  it.each([
    { name: 'no catch-all', priorities: '100:\n  - ^a$\n', want: /no '\.\*' catch-all/ },
    { name: 'catch-all above a target', priorities: '10:\n  - ^a$\n50:\n  - .*\n', want: /lowest priority/ },
    { name: 'an invalid regex', priorities: '100:\n  - "(unclosed"\n1:\n  - .*\n', want: /not a valid regex/ },
    { name: 'a non-integer priority', priorities: 'high:\n  - ^a$\n1:\n  - .*\n', want: /not an integer/ },
  ])('priority expander with $name fails', ({ priorities, want }) => {
    const broken = clone(cm)
    broken.data.priorities = priorities
    expect(priorityExpanderErrors(broken).join('\n')).toMatch(want)
  })

  it('a ConfigMap whose data value is not a string fails the Kubernetes model', () => {
    const broken = clone(cm)
    broken.data.priorities = { 100: ['.*'] }
    expect(priorityExpanderErrors(broken).join('\n')).toMatch(/ConfigMap: .*data/)
  })
})

describe('bad input is a clear InputError', () => {
  it.each([
    { name: 'no burst pools', run: () => kueueObjects(burst([]), kueueOpts), want: /no burst pools are configured \(alerts\.burst\.pools is empty\)/ },
    { name: 'unknown pool', run: () => karpenterObjects(burst(), { ...karpenterOpts, pool: 'nope' }), want: /unknown burst pool 'nope' in cluster 'c1' \(configured: c1\/dgx, c1\/hgx, c2\/a100\)/ },
    { name: 'unknown cluster', run: () => karpenterObjects(burst(), { ...karpenterOpts, cluster: 'c9' }), want: /no burst pool in cluster 'c9'/ },
    { name: 'pools in several clusters and no --cluster', run: () => priorityExpanderObjects(burst(), { ...autoscalerOpts, cluster: undefined }), want: /span clusters c1, c2: pass --cluster/ },
    { name: 'no on-prem capacity', run: () => kueueObjects(burst(), { ...kueueOpts, onpremGpus: { dgx: 64 } }), want: /no on-prem GPU capacity for pool 'hgx'/ },
    { name: 'a --node-group for an unknown target', run: () => priorityExpanderObjects(burst(), { ...autoscalerOpts, nodeGroups: { ghost: '.*' } }), want: /unknown target 'ghost'/ },
    { name: 'an invalid --node-group regex', run: () => priorityExpanderObjects(burst(), { ...autoscalerOpts, nodeGroups: { 'gcp-spot': '(' } }), want: /not a valid regular expression/ },
    { name: 'a malformed --per-gpu quantity', run: () => kueueObjects(burst(), { ...kueueOpts, perGpu: { memory: 'lots' } }), want: /not a Kubernetes quantity/ },
    { name: 'an invalid pool label key', run: () => kueueObjects(burst(), { ...kueueOpts, poolLabel: 'bad key!' }), want: /not a valid Kubernetes label key/ },
    { name: '--queue-name with two pools', run: () => kueueObjects(burst(), { ...kueueOpts, queueName: 'q' }), want: /--queue-name needs a single pool/ },
    { name: 'a --cohort that is not a Kubernetes name', run: () => kueueObjects(burst(), { ...kueueOpts, cohort: 'GPU Cohort' }), want: /--cohort 'GPU Cohort' is not a valid Kubernetes name/ },
    { name: 'an unknown --provider', run: () => karpenterObjects(burst(), { ...karpenterOpts, provider: 'azure' }), want: /no burst target of provider 'azure'/ },
  ])('$name', ({ run, want }) => {
    let caught: unknown
    try {
      run()
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(InputError)
    expect((caught as Error).message).toMatch(want)
  })
})

describe('renderYaml', () => {
  it('writes a generated header with the notes, then one YAML document per object that parses back to it', () => {
    const g = kueueObjects(burst(), kueueOpts)
    const text = renderYaml('kueue', g)
    expect(text.split('\n')[0]).toMatch(/^# Generated by `gpuscope generate kueue` .*do not edit by hand/)
    expect(text).toContain('# NOTE: pool c1/dgx: the config lists an on-demand target before a spot one')
    const docs = parseAllDocuments(text)
    expect(docs.map((d) => d.toJS())).toEqual(g.objects)
  })
})
