import { describe, expect, it } from 'vitest'
import { kubernetesSchema } from '../../config/kubernetes'
import { deploymentOfReplicaSet, resolveWorkload, type OwnerLookup } from './owners'
import { kubeflowNotebooks, notebookWorkload } from '../../test/fakes/kubeApi'
import { attribution, podImages, podLifecycle, podToInterval, sameInterval, toWorkloadInterval, type PodContext, type PodLifecycle } from './podInterval'
import type { KubeObject, OwnerReference, Pod } from './types'

const T = (s: number) => new Date(Date.UTC(2024, 0, 1) + s * 1000).toISOString()
const ms = (s: number) => Date.UTC(2024, 0, 1) + s * 1000
const NOW = ms(1000)

const pod = (over: { phase?: string; node?: string; scheduled?: string; conds?: Pod['status'] extends infer S ? S extends { conditions?: infer C } ? C : never : never; statuses?: NonNullable<Pod['status']>['containerStatuses']; startTime?: string } = {}): Pod => ({
  metadata: { name: 'p', namespace: 'ml', uid: 'u1', creationTimestamp: T(0) },
  spec: { nodeName: over.node, containers: [{ name: 'c' }] },
  status: {
    phase: over.phase,
    startTime: over.startTime,
    conditions: over.conds ?? (over.scheduled ? [{ type: 'PodScheduled', status: 'True', lastTransitionTime: over.scheduled }] : []),
    containerStatuses: over.statuses,
  },
})
const terminated = (s: number) => [{ name: 'c', state: { terminated: { finishedAt: T(s), exitCode: 0 } } }]

describe('podLifecycle', () => {
  it.each<{ name: string; pod: Pod; deleted?: boolean; want: PodLifecycle }>([
    {
      name: 'an unschedulable pod is pending demand: no node, no start',
      pod: pod({ phase: 'Pending', conds: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', lastTransitionTime: T(1) }] }),
      want: { node: '', phase: 'Pending', startMs: undefined, endMs: undefined },
    },
    {
      name: 'a running pod starts when it was scheduled',
      pod: pod({ phase: 'Running', node: 'n1', scheduled: T(5), startTime: T(6) }),
      want: { node: 'n1', phase: 'Running', startMs: ms(5), endMs: undefined },
    },
    {
      name: 'a bound pod still pulling its image holds its GPUs',
      pod: pod({ phase: 'Pending', node: 'n1', scheduled: T(5) }),
      want: { node: 'n1', phase: 'Pending', startMs: ms(5), endMs: undefined },
    },
    {
      name: 'a bound pod without a PodScheduled condition starts at its start time',
      pod: pod({ phase: 'Running', node: 'n1', startTime: T(7) }),
      want: { node: 'n1', phase: 'Running', startMs: ms(7), endMs: undefined },
    },
    {
      name: 'a succeeded pod ends when its last container finished',
      pod: pod({ phase: 'Succeeded', node: 'n1', scheduled: T(5), statuses: [...terminated(50), { name: 'd', state: { terminated: { finishedAt: T(60) } } }] }),
      want: { node: 'n1', phase: 'Succeeded', startMs: ms(5), endMs: ms(60) },
    },
    {
      name: 'a failed pod without finish times ends now',
      pod: pod({ phase: 'Failed', node: 'n1', scheduled: T(5) }),
      want: { node: 'n1', phase: 'Failed', startMs: ms(5), endMs: NOW },
    },
    {
      name: 'a running pod deleted ends now, phase Deleted',
      pod: pod({ phase: 'Running', node: 'n1', scheduled: T(5) }),
      deleted: true,
      want: { node: 'n1', phase: 'Deleted', startMs: ms(5), endMs: NOW },
    },
    {
      name: 'a deleted pod whose containers all terminated ends at their finish',
      pod: pod({ phase: 'Running', node: 'n1', scheduled: T(5), statuses: terminated(90) }),
      deleted: true,
      want: { node: 'n1', phase: 'Deleted', startMs: ms(5), endMs: ms(90) },
    },
    {
      name: 'a succeeded pod keeps its phase when deleted',
      pod: pod({ phase: 'Succeeded', node: 'n1', scheduled: T(5), statuses: terminated(50) }),
      deleted: true,
      want: { node: 'n1', phase: 'Succeeded', startMs: ms(5), endMs: ms(50) },
    },
    {
      name: 'a pending pod deleted never started',
      pod: pod({ phase: 'Pending' }),
      deleted: true,
      want: { node: '', phase: 'Deleted', startMs: undefined, endMs: NOW },
    },
    { name: 'an unknown phase is Unknown', pod: pod({ phase: 'Weird', node: 'n1', scheduled: T(5) }), want: { node: 'n1', phase: 'Unknown', startMs: ms(5), endMs: undefined } },
    {
      name: 'an end before the start (clock skew) is clamped to the start',
      pod: pod({ phase: 'Failed', node: 'n1', scheduled: T(20), statuses: terminated(10) }),
      want: { node: 'n1', phase: 'Failed', startMs: ms(20), endMs: ms(20) },
    },
  ])('$name', ({ pod: p, deleted, want }) => {
    expect(podLifecycle(p, NOW, deleted ?? false)).toEqual(want)
  })
})

const ref = (kind: string, name: string, uid?: string): OwnerReference => ({ apiVersion: 'v1', kind, name, uid, controller: true })
const obj = (kind: string, name: string, owners: OwnerReference[] = [], labels: Record<string, string> = {}, uid?: string): KubeObject => ({
  kind,
  metadata: { name, namespace: 'ml', uid: uid ?? `${kind}-${name}`, ownerReferences: owners, labels },
})
const podOwned = (owners: OwnerReference[], labels: Record<string, string> = {}): KubeObject => obj('Pod', 'p-0', owners, labels)

describe('resolveWorkload walks ownerReferences through the caches', () => {
  const cached = [
    obj('ReplicaSet', 'web-5d8f7c9b4', [ref('Deployment', 'web', 'Deployment-web')]),
    obj('ReplicaSet', 'bare-rs', []),
    obj('Job', 'nightly-28462800', [ref('CronJob', 'nightly', 'CronJob-nightly')]),
    obj('Job', 'train', []),
    obj('StatefulSet', 'nb', [ref('Notebook', 'nb', 'Notebook-nb')]),
    obj('Notebook', 'nb', []),
    obj('Job', 'reused', [], {}, 'new-uid'),
  ]
  const lookup: OwnerLookup = (kind, ns, name) => cached.find((o) => o.kind === kind && o.metadata.namespace === ns && o.metadata.name === name)

  it.each<{ name: string; pod: KubeObject; want: [string, string, number] }>([
    { name: 'Pod -> ReplicaSet -> Deployment', pod: podOwned([ref('ReplicaSet', 'web-5d8f7c9b4', 'ReplicaSet-web-5d8f7c9b4')]), want: ['Deployment', 'web', 1] },
    { name: 'a ReplicaSet without owner is the workload', pod: podOwned([ref('ReplicaSet', 'bare-rs', 'ReplicaSet-bare-rs')]), want: ['ReplicaSet', 'bare-rs', 1] },
    {
      name: 'an uncached ReplicaSet is taken as its Deployment (pod-template-hash stripped)',
      pod: podOwned([ref('ReplicaSet', 'api-7c6b9d8f5', 'x')], { 'pod-template-hash': '7c6b9d8f5' }),
      want: ['Deployment', 'api', 0],
    },
    { name: 'Pod -> Job -> CronJob', pod: podOwned([ref('Job', 'nightly-28462800', 'Job-nightly-28462800')]), want: ['CronJob', 'nightly', 1] },
    { name: 'Pod -> Job', pod: podOwned([ref('Job', 'train', 'Job-train')]), want: ['Job', 'train', 1] },
    { name: 'Pod -> StatefulSet -> Notebook', pod: podOwned([ref('StatefulSet', 'nb', 'StatefulSet-nb')]), want: ['Notebook', 'nb', 2] },
    { name: 'a PyTorchJob (not cached) by its reference', pod: podOwned([ref('PyTorchJob', 'bert', 'pt-1')]), want: ['PyTorchJob', 'bert', 0] },
    { name: 'a bare pod is its own workload', pod: podOwned([]), want: ['Pod', 'p-0', 0] },
    { name: 'a cached namesake with another uid is not followed', pod: podOwned([ref('Job', 'reused', 'old-uid')]), want: ['Job', 'reused', 0] },
    {
      name: 'the controller reference wins over other owners',
      pod: podOwned([{ kind: 'ConfigMap', name: 'x' }, ref('Job', 'train', 'Job-train')]),
      want: ['Job', 'train', 1],
    },
  ])('$name', ({ pod: p, want }) => {
    const w = resolveWorkload(p, lookup)
    expect([w.kind, w.name, w.chain.length]).toEqual(want)
  })

  it.each([
    { rs: 'web-5d8f7c9b4', hash: '5d8f7c9b4', want: 'web' },
    { rs: 'web-5d8f7c9b4', hash: 'other', want: undefined },
    { rs: 'my-app-6b7c8d9f5', hash: undefined, want: 'my-app' },
    { rs: 'plain', hash: undefined, want: undefined },
  ])('deploymentOfReplicaSet($rs, $hash) = $want', ({ rs, hash, want }) => {
    expect(deploymentOfReplicaSet(rs, hash)).toBe(want)
  })
})

describe('attribution', () => {
  const keys = kubernetesSchema.parse({}).labels
  it.each<{ name: string; sources: KubeObject[]; want: { team: string; project: string; user: string } }>([
    {
      name: 'pod labels first',
      sources: [obj('Pod', 'p', [], { team: 'vision', project: 'p1', user: 'ana' }), obj('Namespace', 'ml', [], { team: 'other' })],
      want: { team: 'vision', project: 'p1', user: 'ana' },
    },
    {
      name: 'the namespace fills what the pod lacks',
      sources: [obj('Pod', 'p', [], { team: 'vision' }), obj('Namespace', 'ml', [], { team: 'other', project: 'research' })],
      want: { team: 'vision', project: 'research', user: '' },
    },
    {
      name: 'an owner annotation (Kubeflow creator) before the namespace',
      sources: [
        obj('Pod', 'p'),
        { kind: 'Notebook', metadata: { name: 'nb', annotations: { 'notebooks.kubeflow.org/creator': 'bo@example.com' } } },
        { kind: 'Namespace', metadata: { name: 'ml', annotations: { owner: 'ns-owner@example.com' } } },
      ],
      want: { team: '', project: '', user: 'bo@example.com' },
    },
    {
      name: 'the Kubeflow profile owner annotation on the namespace',
      sources: [obj('Pod', 'p'), { kind: 'Namespace', metadata: { name: 'ml', annotations: { owner: 'ns-owner@example.com' } } }],
      want: { team: '', project: '', user: 'ns-owner@example.com' },
    },
    {
      name: 'keys in configured order: gpuscope.io/team before team',
      sources: [obj('Pod', 'p', [], { team: 'generic', 'gpuscope.io/team': 'specific' })],
      want: { team: 'specific', project: '', user: '' },
    },
  ])('$name', ({ sources, want }) => {
    expect(attribution(sources, keys)).toEqual(want)
  })
})

describe('toWorkloadInterval', () => {
  it('builds the row, and sameInterval ignores only last_seen', () => {
    const p = pod({ phase: 'Running', node: 'n1', scheduled: T(5) })
    const facts = { cluster: 'c1', request: { gpus: 1 / 7, resource: 'nvidia.com/mig-1g.10gb' }, workload: { kind: 'Job', name: 'train' }, who: { team: 't', project: 'p', user: 'u' }, nowMs: NOW, deleted: false }
    const row = toWorkloadInterval(p, facts)
    expect(row).toEqual({
      cluster: 'c1', podUid: 'u1', namespace: 'ml', pod: 'p', workloadKind: 'Job', workloadName: 'train', team: 't', project: 'p', user: 'u', node: 'n1',
      gpus: 1 / 7, gpuResource: 'nvidia.com/mig-1g.10gb', createdMs: ms(0), startMs: ms(5), endMs: undefined, lastSeenMs: NOW, phase: 'Running', images: [],
    })
    expect(sameInterval(row, toWorkloadInterval(p, { ...facts, nowMs: NOW + 60_000 }))).toBe(true)
    expect(sameInterval(row, toWorkloadInterval(p, { ...facts, deleted: true }))).toBe(false)
  })

  it('sees an image changed on the running pod (kubectl set image) as a change to write', () => {
    const p = pod({ phase: 'Running', node: 'n1', scheduled: T(5) })
    const facts = { cluster: 'c1', request: { gpus: 1, resource: 'nvidia.com/gpu' }, workload: { kind: 'Job', name: 'train' }, who: { team: '', project: '', user: '' }, nowMs: NOW, deleted: false }
    const image = (tag: string): Pod => ({ ...p, spec: { ...p.spec, containers: [{ name: 'c', image: `nvcr.io/nvidia/pytorch:${tag}` }] } })
    const before = toWorkloadInterval(image('24.03-py3'), facts)
    expect(sameInterval(before, toWorkloadInterval(image('24.03-py3'), { ...facts, nowMs: NOW + 1 }))).toBe(true)
    expect(sameInterval(before, toWorkloadInterval(image('24.05-py3'), facts))).toBe(false)
  })
})

describe('podImages', () => {
  const withSpec = (spec: Pod['spec']): Pod => ({ metadata: { name: 'p' }, spec })
  it.each<{ name: string; spec: Pod['spec']; want: string[] }>([
    {
      name: 'app containers in spec order',
      spec: { containers: [{ name: 'trainer', image: 'nvcr.io/nvidia/pytorch:24.05-py3' }, { name: 'metrics', image: 'quay.io/prometheus/node-exporter:v1.8.1' }] },
      want: ['nvcr.io/nvidia/pytorch:24.05-py3', 'quay.io/prometheus/node-exporter:v1.8.1'],
    },
    {
      name: 'an image two containers share, once',
      spec: { containers: [{ name: 'a', image: 'nvcr.io/nvidia/tritonserver:24.05-py3' }, { name: 'b', image: 'nvcr.io/nvidia/tritonserver:24.05-py3' }] },
      want: ['nvcr.io/nvidia/tritonserver:24.05-py3'],
    },
    {
      name: 'init containers and native sidecars left out',
      spec: {
        initContainers: [{ name: 'fetch', image: 'docker.io/library/busybox:1.36' }, { name: 'proxy', image: 'docker.io/istio/proxyv2:1.22.1', restartPolicy: 'Always' }],
        containers: [{ name: 'main', image: 'nvcr.io/nvidia/pytorch:24.05-py3' }],
      },
      want: ['nvcr.io/nvidia/pytorch:24.05-py3'],
    },
    { name: 'no spec: unknown', spec: undefined, want: [] },
  ])('$name', ({ spec, want }) => {
    expect(podImages(withSpec(spec))).toEqual(want)
  })
})

describe('podToInterval', () => {
  const ctx: PodContext = {
    cluster: 'c1',
    config: kubernetesSchema.parse({}),
    owners: (kind, _ns, name) => (kind === 'Job' && name === 'train' ? obj('Job', 'train', [], { team: 'owner-team' }) : undefined),
    namespace: (name) => (name === 'ml' ? obj('Namespace', 'ml', [], { project: 'ns-project' }) : undefined),
    nodeModel: (node) => (node === 'a30-1' ? 'NVIDIA A30' : undefined),
  }
  const withResources = (resources: Record<string, string>): Pod => ({
    ...pod({ phase: 'Running', node: 'a30-1', scheduled: T(5) }),
    metadata: { name: 'p', namespace: 'ml', uid: 'u1', creationTimestamp: T(0), ownerReferences: [ref('Job', 'train', 'Job-train')] },
    spec: { nodeName: 'a30-1', containers: [{ name: 'c', resources: { limits: resources } }] },
  })

  it("maps a GPU pod with its node's MIG fraction, owner and attribution", () => {
    expect(podToInterval(withResources({ 'nvidia.com/mig-2g.12gb': '1' }), ctx, NOW, false)).toMatchObject({
      gpus: 2 / 4, gpuResource: 'nvidia.com/mig-2g.12gb', workloadKind: 'Job', workloadName: 'train', team: 'owner-team', project: 'ns-project', node: 'a30-1',
    })
  })

  it("records the image of a real notebook's pod (the RHOAI workbench CR's container, as the notebook controller copies it)", () => {
    const rhoai = kubeflowNotebooks().find((n) => n.metadata.name === 'my-workbench')
    if (!rhoai) throw new Error('fixture my-workbench missing')
    const { pod: nbPod } = notebookWorkload(rhoai, { 'nvidia.com/gpu': '1' }, 'n1')
    expect(podToInterval(nbPod as Pod, ctx, NOW, false)).toMatchObject({
      pod: 'my-workbench-0', gpus: 1, images: ['image-registry.openshift-image-registry.svc:5000/redhat-ods-applications/s2i-minimal-notebook:2024.1'],
    })
  })

  it('maps a pod without GPU requests to nothing', () => {
    expect(podToInterval(withResources({ cpu: '4' }), ctx, NOW, false)).toBeUndefined()
  })
})
