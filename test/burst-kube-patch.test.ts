import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { adapterFor, burstAdapters, fieldAt, kubePatchAdapter, quantityValue, sizeMergePatch, type ScaleContext } from '../alerts/burst/adapters'
import { BurstController } from '../alerts/burst/controller'
import type { ScaleChange } from '../alerts/burst/policy'
import { kubeActuatorsFrom, type KubeObject } from '../alerts/enforcer/kube'
import type { AlertsDeps } from '../alerts/evaluate'
import { kubeStatus } from '../collector/replay/live/kubeApi'
import { alertsSchema, parseFieldPath, type BurstTargetConfig } from '../config/alerts'
import { configSchema, type Config } from '../config/schema'
import { ConflictError } from '../core/errors'
import { KubeRecorder } from './fakes/kubeRecorder'
import { dgxFleet, seedSaturatedPool } from './helpers/burstFleet'
import { openTestStore, silentLogger, type TestStore } from './helpers/store'

// The Kubernetes-patch burst adapter: config validation, the field-path parser, and the adapter
// against a loopback Kubernetes API (test/fakes/kubeRecorder.ts) reached through the enforcer's
// real writer (alerts/enforcer/kube.ts) with a bearer token, then end to end through the
// BurstController on a chDB store: 8 DGX nodes (64 GPUs) fully allocated, 16 GPUs pending.
const TOKEN = 'kube-bearer-token-do-not-leak'
const NODEPOOL = '/apis/karpenter.sh/v1/nodepools/gpu-spot'
const MACHINE_DEPLOYMENT = '/apis/cluster.x-k8s.io/v1beta1/namespaces/fleet/machinedeployments/gpu-burst'
const GPU_LIMIT = 'spec.limits.nvidia\\.com/gpu'
const karpenter = { type: 'kubernetes-patch', apiPath: NODEPOOL, field: GPU_LIMIT, value: 'gpus', format: 'string' }
const capi = { type: 'kubernetes-patch', apiPath: MACHINE_DEPLOYMENT, field: 'spec.replicas', value: 'nodes' }
const targetWith = (adapter: Record<string, unknown>) => ({ name: 'karpenter-spot', provider: 'aws', pool: 'gpu-spot', gpusPerNode: 8, maxNodes: 4, usdPerGpuHour: 1.5, adapter })
const poolWith = (adapter: Record<string, unknown>) => ({ cluster: 'c1', pool: 'dgx', minPendingGpus: 4, forMs: 10 * 60_000, maxBurstGpus: 32, monthlyBudgetUsd: 10_000, targets: [targetWith(adapter)] })

const issues = (adapter: Record<string, unknown>): string[] => {
  const r = alertsSchema.safeParse({ burst: { pools: [poolWith(adapter)] } })
  return r.success ? [] : r.error.issues.map((i) => `${i.path.slice(5).join('.')}: ${i.message}`)
}
const parsedTarget = (adapter: Record<string, unknown>): BurstTargetConfig => {
  const t = alertsSchema.parse({ burst: { pools: [poolWith(adapter)] } }).burst.pools[0]?.targets[0]
  if (!t) throw new Error('no target')
  return t
}

describe('field paths', () => {
  it.each([
    { name: 'plain keys', path: 'spec.replicas', want: ['spec', 'replicas'] },
    { name: 'an escaped dot inside a key', path: 'spec.limits.nvidia\\.com/gpu', want: ['spec', 'limits', 'nvidia.com/gpu'] },
    { name: 'several escaped dots', path: 'metadata.annotations.cluster\\.x-k8s\\.io/max-size', want: ['metadata', 'annotations', 'cluster.x-k8s.io/max-size'] },
    { name: 'an escaped backslash', path: 'spec.a\\\\b', want: ['spec', 'a\\b'] },
    { name: 'an escaped backslash before a separator', path: 'spec.a\\\\.b', want: ['spec', 'a\\', 'b'] },
    { name: 'a slash (no escape needed)', path: 'spec.limits.amd.com/gpu', want: ['spec', 'limits', 'amd', 'com/gpu'] },
  ])('parses $name', ({ path, want }) => {
    expect(parseFieldPath(path)).toEqual(want)
  })

  it.each([
    { name: 'an empty key', path: 'spec..replicas', error: 'has an empty key' },
    { name: 'a leading dot', path: '.spec', error: 'has an empty key' },
    { name: 'a trailing dot', path: 'spec.', error: 'has an empty key' },
    { name: 'a lone trailing backslash', path: 'spec.x\\', error: 'ends with a lone \\' },
    { name: 'an unknown escape', path: 'spec.x\\n', error: 'unknown escape \\n (only \\. and \\\\)' },
    { name: 'a __proto__ key', path: 'spec.__proto__.x', error: 'has a __proto__ key' },
  ])('rejects $name', ({ path, error }) => {
    expect(() => parseFieldPath(path)).toThrow(error)
  })

  it.each([
    { name: 'a JSON number', v: 16, want: 16 },
    { name: 'a plain quantity', v: '16', want: 16 },
    { name: 'a decimal SI quantity', v: '1.5k', want: 1500 },
    { name: 'a milli quantity', v: '500m', want: 0.5 },
    { name: 'an exponent', v: '1e3', want: 1000 },
    { name: 'a binary quantity', v: '2Ki', want: 2048 },
    { name: 'an unset field', v: undefined, want: undefined },
    { name: 'a word', v: 'sixteen', want: undefined },
    { name: 'an object', v: { gpu: 1 }, want: undefined },
  ])('reads $name as a size', ({ v, want }) => {
    expect(quantityValue(v)).toBe(want)
  })

  it('builds a merge patch that sets only the field and pins the resourceVersion read', () => {
    expect(sizeMergePatch(['spec', 'limits', 'nvidia.com/gpu'], '24', '1007')).toEqual({ spec: { limits: { 'nvidia.com/gpu': '24' } }, metadata: { resourceVersion: '1007' } })
    expect(sizeMergePatch(['metadata', 'annotations', 'x.io/max'], '3', '9')).toEqual({ metadata: { annotations: { 'x.io/max': '3' }, resourceVersion: '9' } })
    expect(fieldAt({ spec: { limits: { 'nvidia.com/gpu': '8' } } }, ['spec', 'limits', 'nvidia.com/gpu'])).toBe('8')
    expect(fieldAt({ spec: {} }, ['spec', 'toString'])).toBeUndefined()
  })
})

describe('kubernetes-patch adapter config', () => {
  it('parses a Karpenter NodePool limit and a Cluster API MachineDeployment with safe defaults', () => {
    expect(parsedTarget(karpenter).adapter).toEqual({ ...karpenter, cluster: '', patchType: 'merge' })
    expect(parsedTarget(capi).adapter).toEqual({ ...capi, cluster: '', patchType: 'merge', format: 'number' })
    expect(parsedTarget({ ...capi, apiPath: `${MACHINE_DEPLOYMENT}/scale`, cluster: 'edge-1' }).adapter).toMatchObject({ apiPath: `${MACHINE_DEPLOYMENT}/scale`, cluster: 'edge-1' })
    expect(parsedTarget({ ...capi, field: 'metadata.annotations.cluster\\.x-k8s\\.io/cluster-api-autoscaler-node-group-max-size', format: 'string' }).adapter).toMatchObject({ format: 'string' })
    expect(parsedTarget({ ...capi, apiPath: '/api/v1/namespaces/burst/replicationcontrollers/gpu' }).adapter).toMatchObject({ apiPath: '/api/v1/namespaces/burst/replicationcontrollers/gpu' })
  })

  const badPath = 'apiPath: must be an object path such as /apis/karpenter.sh/v1/nodepools/gpu-spot or /apis/<group>/<version>/namespaces/<ns>/<resource>/<name>'
  const badField = 'field: must be a field under spec (spec.replicas), or metadata.annotations.<key> / metadata.labels.<key>'
  it.each([
    { name: 'a relative apiPath', adapter: { ...karpenter, apiPath: 'apis/karpenter.sh/v1/nodepools/gpu-spot' }, want: [badPath] },
    { name: 'a full URL as apiPath', adapter: { ...karpenter, apiPath: 'https://k8s.example/apis/karpenter.sh/v1/nodepools/gpu-spot' }, want: [badPath] },
    { name: 'an apiPath with a query', adapter: { ...karpenter, apiPath: `${NODEPOOL}?dryRun=All` }, want: [badPath] },
    { name: 'an apiPath climbing out with ..', adapter: { ...karpenter, apiPath: '/apis/karpenter.sh/v1/nodepools/../../../api/v1/secrets/x' }, want: [badPath] },
    { name: 'an apiPath without a version', adapter: { ...karpenter, apiPath: '/apis/karpenter.sh/nodepools/gpu-spot' }, want: [badPath] },
    { name: 'an apiPath naming a collection', adapter: { ...karpenter, apiPath: '/apis/karpenter.sh/v1/nodepools' }, want: [badPath] },
    { name: 'an unknown patchType', adapter: { ...karpenter, patchType: 'strategic' }, want: ["patchType: must be 'merge' (JSON merge patch); JSON patch is not supported"] },
    { name: 'a JSON patch', adapter: { ...karpenter, patchType: 'json' }, want: ["patchType: must be 'merge' (JSON merge patch); JSON patch is not supported"] },
    { name: 'a status field', adapter: { ...capi, field: 'status.replicas' }, want: [badField] },
    { name: 'the whole spec', adapter: { ...capi, field: 'spec' }, want: [badField] },
    { name: 'the resourceVersion', adapter: { ...capi, field: 'metadata.resourceVersion' }, want: [badField] },
    { name: 'a broken escape', adapter: { ...capi, field: 'spec.limits.nvidia\\com/gpu' }, want: ['field: not a field path: unknown escape \\c (only \\. and \\\\)'] },
    { name: 'an unknown value', adapter: { ...capi, value: 'replicas' }, want: ['value: Invalid option: expected one of "gpus"|"nodes"'] },
    { name: 'a missing value', adapter: { type: 'kubernetes-patch', apiPath: NODEPOOL, field: GPU_LIMIT }, want: ['value: Invalid option: expected one of "gpus"|"nodes"'] },
    { name: 'an unknown format', adapter: { ...capi, format: 'quantity' }, want: ['format: Invalid option: expected one of "number"|"string"'] },
    { name: 'a cluster that is not a name', adapter: { ...capi, cluster: 'Edge 1' }, want: ['cluster: must be a cluster name (a DNS label) or empty'] },
    { name: 'a number for an annotation', adapter: { ...capi, field: 'metadata.annotations.cluster\\.x-k8s\\.io/cluster-api-autoscaler-node-group-max-size' }, want: ["format: annotations and labels hold strings: use format 'string'"] },
    { name: 'a typo', adapter: { ...capi, feild: 'spec.replicas' }, want: ['adapter: Unrecognized key: "feild"'] },
  ])('rejects $name, naming the field', ({ adapter, want }) => {
    expect(issues(adapter).map((i) => i.replace(/^adapter\./, ''))).toEqual(want)
  })
})

const nodePool = (gpuLimit: string | undefined): KubeObject => ({
  apiVersion: 'karpenter.sh/v1', kind: 'NodePool', metadata: { name: 'gpu-spot' },
  spec: { limits: { cpu: '1000', ...(gpuLimit === undefined ? {} : { 'nvidia.com/gpu': gpuLimit }) }, template: { spec: { nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'default' } } } },
})
const machineDeployment = (replicas: number): KubeObject => ({
  apiVersion: 'cluster.x-k8s.io/v1beta1', kind: 'MachineDeployment', metadata: { name: 'gpu-burst', namespace: 'fleet' }, spec: { clusterName: 'c1', replicas },
})
const change = (fromNodes: number, toNodes: number): ScaleChange => ({ target: 'karpenter-spot', fromNodes, toNodes, fromGpus: fromNodes * 8, toGpus: toNodes * 8 })
const ctx: ScaleContext = { cluster: 'c1', pool: 'dgx', action: 'scale-out', reasons: [], atMs: 0 }

describe('kubernetes-patch adapter against a loopback Kubernetes API', () => {
  const kube = new KubeRecorder()
  let actuators: ReturnType<typeof kubeActuatorsFrom>
  const adapter = (a: Record<string, unknown>) => kubePatchAdapter(parsedTarget(a).adapter as Extract<BurstTargetConfig['adapter'], { type: 'kubernetes-patch' }>, parsedTarget(a), actuators)
  const notLeaking = (text: string) => expect(text).not.toContain(TOKEN)

  beforeAll(async () => {
    const url = await kube.start()
    const clusters = configSchema.parse({ collector: { kubernetes: { clusters: [{ name: 'c1', server: url, token: TOKEN, insecureSkipTlsVerify: true }] } } }).collector.kubernetes.clusters
    actuators = kubeActuatorsFrom(clusters, 5_000)
  })
  afterAll(async () => {
    await kube.close()
  })
  beforeEach(() => {
    kube.requests.length = 0
    kube.onRequest = undefined
    kube.clearResponses()
  })

  it.each([
    {
      name: 'a Karpenter NodePool GPU limit: scale-out writes the GPU count as a quantity string', path: NODEPOOL, obj: nodePool('8'), config: karpenter, change: change(1, 3),
      patch: { spec: { limits: { 'nvidia.com/gpu': '24' } } }, field: ['spec', 'limits', 'nvidia.com/gpu'], stored: '24', note: `patched ${NODEPOOL} on cluster c1: ${GPU_LIMIT} "8" -> "24"`,
    },
    {
      name: 'a Karpenter NodePool GPU limit: scale-in to zero', path: NODEPOOL, obj: nodePool('16'), config: karpenter, change: change(2, 0),
      patch: { spec: { limits: { 'nvidia.com/gpu': '0' } } }, field: ['spec', 'limits', 'nvidia.com/gpu'], stored: '0', note: `patched ${NODEPOOL} on cluster c1: ${GPU_LIMIT} "16" -> "0"`,
    },
    {
      name: 'a Cluster API MachineDeployment: scale-out writes the node count as a number', path: MACHINE_DEPLOYMENT, obj: machineDeployment(0), config: capi, change: change(0, 2),
      patch: { spec: { replicas: 2 } }, field: ['spec', 'replicas'], stored: 2, note: `patched ${MACHINE_DEPLOYMENT} on cluster c1: spec.replicas 0 -> 2`,
    },
    {
      name: 'a generic CRD size field written as GPUs in a number', path: '/apis/burst.example.com/v1alpha1/namespaces/ops/gpugroups/spot', config: { ...capi, apiPath: '/apis/burst.example.com/v1alpha1/namespaces/ops/gpugroups/spot', field: 'spec.scaling.desiredSize', value: 'gpus' },
      obj: { apiVersion: 'burst.example.com/v1alpha1', kind: 'GpuGroup', metadata: { name: 'spot', namespace: 'ops' }, spec: { scaling: { desiredSize: 8, maxSize: 64 } } }, change: change(1, 2),
      patch: { spec: { scaling: { desiredSize: 16 } } }, field: ['spec', 'scaling', 'desiredSize'], stored: 16, note: 'patched /apis/burst.example.com/v1alpha1/namespaces/ops/gpugroups/spot on cluster c1: spec.scaling.desiredSize 8 -> 16',
    },
  ])('$name', async ({ path, obj, config, change: c, patch, field, stored, note }) => {
    kube.put(path, obj)
    const before = kube.get(path)
    await expect(adapter(config)(c, ctx)).resolves.toBe(note)
    expect(kube.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${path}`, `PATCH ${path}`])
    const [, sent] = kube.requests
    expect(sent?.contentType).toBe('application/merge-patch+json')
    expect(sent?.body).toEqual({ ...patch, metadata: { resourceVersion: before?.metadata.resourceVersion } })
    expect(kube.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true)
    const after = kube.get(path)
    expect(fieldAt(after, field)).toStrictEqual(stored)
    // Nothing but the field changed.
    const strip = (o: unknown) => ({ ...(o as KubeObject), metadata: { ...(o as KubeObject).metadata, resourceVersion: '' } })
    expect(strip(after)).toEqual(strip(mergeInto(before, field, stored)))
  })

  it('refuses, and writes nothing, when the field differs from the size the decision starts from (someone changed it)', async () => {
    kube.put(NODEPOOL, nodePool('16'))
    const err = await adapter(karpenter)(change(1, 3), ctx).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConflictError)
    expect((err as Error).message).toBe(`kubernetes-patch for karpenter-spot: refused, ${NODEPOOL} on cluster c1 has ${GPU_LIMIT} = "16" but the decision starts from 8 gpus (changed outside gpuscope?); nothing written`)
    expect(kube.mutations()).toEqual([])
    expect(fieldAt(kube.get(NODEPOOL), ['spec', 'limits', 'nvidia.com/gpu'])).toBe('16')
  })

  it('refuses an unset field (an unlimited NodePool is not gpuscope\'s to size)', async () => {
    kube.put(NODEPOOL, nodePool(undefined))
    await expect(adapter(karpenter)(change(0, 1), ctx)).rejects.toThrow(`${GPU_LIMIT} = (unset) but the decision starts from 0 gpus`)
    expect(kube.mutations()).toEqual([])
  })

  it('is idempotent: a field already at the new size is done without a patch', async () => {
    kube.put(MACHINE_DEPLOYMENT, machineDeployment(3))
    await expect(adapter(capi)(change(1, 3), ctx)).resolves.toBe(`${MACHINE_DEPLOYMENT} on cluster c1: spec.replicas is already 3, not patched`)
    expect(kube.requests.map((r) => r.method)).toEqual(['GET'])
  })

  it('fails with a clear note on a missing object (404)', async () => {
    const missing = '/apis/karpenter.sh/v1/nodepools/no-such-pool'
    await expect(adapter({ ...karpenter, apiPath: missing })(change(1, 3), ctx)).rejects.toThrow(`kubernetes-patch for karpenter-spot: ${missing} on cluster c1 does not exist (HTTP 404)`)
    expect(kube.mutations()).toEqual([])
  })

  it.each([
    { name: 'a forbidden GET (403)', method: 'GET', status: 403, body: kubeStatus(403, 'Forbidden', 'nodepools.karpenter.sh "gpu-spot" is forbidden: User "system:serviceaccount:gpuscope:gpuscope" cannot get resource "nodepools"'),
      want: `kubernetes-patch for karpenter-spot: GET ${NODEPOOL} on cluster c1 failed: GET ${NODEPOOL}: HTTP 403: nodepools.karpenter.sh "gpu-spot" is forbidden: User "system:serviceaccount:gpuscope:gpuscope" cannot get resource "nodepools" (gpuscope's service account needs get and patch on it)` },
    { name: 'a forbidden PATCH (403)', method: 'PATCH', status: 403, body: kubeStatus(403, 'Forbidden', 'cannot patch resource "nodepools"'),
      want: `kubernetes-patch for karpenter-spot: PATCH ${NODEPOOL} on cluster c1 failed: PATCH ${NODEPOOL}: HTTP 403: cannot patch resource "nodepools" (gpuscope's service account needs get and patch on it)` },
    { name: 'a server error (500) echoing the request headers', method: 'PATCH', status: 500, body: `upstream proxy error; request had Authorization: Bearer ${TOKEN}`,
      want: `kubernetes-patch for karpenter-spot: PATCH ${NODEPOOL} on cluster c1 failed: PATCH ${NODEPOOL}: HTTP 500: upstream proxy error; request had Authorization: Bearer <redacted>` },
    { name: 'an unavailable API server (503)', method: 'GET', status: 503, body: kubeStatus(503, 'ServiceUnavailable', 'the server is currently unable to handle the request'),
      want: `kubernetes-patch for karpenter-spot: GET ${NODEPOOL} on cluster c1 failed: GET ${NODEPOOL}: HTTP 503: the server is currently unable to handle the request` },
  ])('fails with a clean note on $name', async ({ method, status, body, want }) => {
    kube.put(NODEPOOL, nodePool('8'))
    kube.respondWith(method, NODEPOOL, status, body)
    const err = (await adapter(karpenter)(change(1, 3), ctx).catch((e: unknown) => e)) as Error
    expect(err.message).toBe(want)
    notLeaking(err.message)
    expect(fieldAt(kube.get(NODEPOOL), ['spec', 'limits', 'nvidia.com/gpu'])).toBe('8')
  })

  it('does not overwrite a change made between its read and its patch (the resourceVersion answers 409)', async () => {
    kube.put(NODEPOOL, nodePool('8'))
    // A human raises the limit after gpuscope read it, just before its patch arrives.
    kube.onRequest = (r) => { if (r.method === 'PATCH') kube.put(NODEPOOL, nodePool('40')) }
    await expect(adapter(karpenter)(change(1, 3), ctx)).rejects.toThrow(/PATCH .* HTTP 409: the object has been modified.*\(the object changed after it was read; the next evaluation retries\)$/)
    expect(fieldAt(kube.get(NODEPOOL), ['spec', 'limits', 'nvidia.com/gpu'])).toBe('40')
  })

  it('fails when the API server did not keep the field (a structural CRD prunes an unknown field)', async () => {
    kube.put(NODEPOOL, nodePool('8'))
    kube.respondWith('PATCH', NODEPOOL, 200, nodePool('8'))
    await expect(adapter(karpenter)(change(1, 3), ctx)).rejects.toThrow(`PATCH ${NODEPOOL} on cluster c1 answered without ${GPU_LIMIT} = "24" (now "8"): is the field in the object's schema?`)
  })

  it('patches the configured cluster, and fails clearly for a cluster it has no credentials for', async () => {
    await expect(adapter({ ...karpenter, cluster: 'c9' })(change(1, 3), ctx)).rejects.toThrow('kubernetes-patch for karpenter-spot: no credentials for cluster c9 (collector.kubernetes.clusters)')
    expect(kube.requests).toEqual([])
    await expect(Promise.resolve().then(() => adapterFor(parsedTarget(karpenter))(change(1, 3), ctx))).rejects.toThrow('no Kubernetes writers were given')
  })
})

/** `base` with the value at the key path replaced (what a merge patch of one field leaves). */
function mergeInto(base: unknown, keys: readonly string[], value: unknown): unknown {
  const [k, ...rest] = keys
  if (k === undefined) return value
  const obj = (typeof base === 'object' && base !== null ? base : {}) as Record<string, unknown>
  return { ...obj, [k]: mergeInto(obj[k], rest, value) }
}

// End to end: the burst controller decides a scale-out and the adapter raises the Karpenter limit.
const MIN = 60_000
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000
const at = (m: number) => T0 + m * MIN + 30_000

describe('burst controller with a kubernetes-patch target', () => {
  const kube = new KubeRecorder()
  let ts: TestStore
  let server: string

  function config(dryRun: boolean): Config {
    return {
      ...configSchema.parse({
        alerts: { enabled: true, dryRun, burst: { enabled: true, dryRun, pools: [poolWith(karpenter)] } },
        collector: { kubernetes: { clusters: [{ name: 'c1', server, token: TOKEN, insecureSkipTlsVerify: true }] } },
      }),
      store: ts.config.store,
    }
  }
  const deps = (cfg: Config, clock: { now: number }): AlertsDeps => ({
    config: cfg, query: ts.store.query, logger: silentLogger, now: () => clock.now,
    sinks: { actions: { write: async (rows) => { const p = ts.writers.sinks.actions.write(rows); await ts.writers.flush(); await p } } },
  })
  async function stepMinutes(d: AlertsDeps, clock: { now: number }, fromMin: number, toMin: number) {
    const c = new BurstController(d, burstAdapters(d))
    const out = []
    for (let m = fromMin; m <= toMin; m++) {
      clock.now = at(m)
      out.push(...(await c.step()))
    }
    return out
  }
  const scaleOuts = () => ts.store.query<{ decision: string; acted: boolean | number; dry_run: boolean | number; evidence: string }>(
    "SELECT decision, acted, dry_run, evidence FROM actions FINAL WHERE action = 'burst-scale-out' ORDER BY ts, dry_run DESC")

  beforeAll(async () => {
    server = await kube.start()
    kube.put(NODEPOOL, nodePool('0'))
    ts = await openTestStore()
    await seedSaturatedPool(ts, dgxFleet(T0))
  })
  afterAll(async () => {
    await kube.close()
    await ts?.close()
  })

  it('in dry-run decides the scale-out and audits it, but sends nothing to the API server', async () => {
    const clock = { now: 0 }
    const ds = await stepMinutes(deps(config(true), clock), clock, 0, 10)
    expect(ds.map((d) => d.code)).toEqual([...Array(10).fill('waiting'), 'scale-out'])
    expect(kube.requests).toEqual([])
    expect((await scaleOuts()).map((r) => [r.decision, Boolean(r.acted), Boolean(r.dry_run)])).toEqual([['dry-run', false, true]])
  })

  it('live, patches the NodePool GPU limit once (0 -> 16 for 16 pending GPUs) and audits it as scaled', async () => {
    const clock = { now: 0 }
    const ds = await stepMinutes(deps(config(false), clock), clock, 0, 20)
    expect(ds.map((d) => d.code)).toEqual([...Array(10).fill('waiting'), 'scale-out', ...Array(10).fill('cooldown')])
    expect(kube.mutations().map((r) => [r.method, r.path, r.body])).toEqual([['PATCH', NODEPOOL, { spec: { limits: { 'nvidia.com/gpu': '16' } }, metadata: { resourceVersion: expect.any(String) } }]])
    expect(fieldAt(kube.get(NODEPOOL), ['spec', 'limits', 'nvidia.com/gpu'])).toBe('16')
    const live = (await scaleOuts()).filter((r) => !r.dry_run)
    expect(live.map((r) => [r.decision, Boolean(r.acted)])).toEqual([['scaled', true]])
    const evidence = JSON.parse(live[0]?.evidence ?? '{}')
    expect(evidence.sizes).toEqual({ 'karpenter-spot': 16 })
    expect(evidence.changes).toEqual([{ target: 'karpenter-spot', fromGpus: 0, toGpus: 16, fromNodes: 0, toNodes: 2, ok: true, note: `patched ${NODEPOOL} on cluster c1: ${GPU_LIMIT} "0" -> "16"` }])
    expect(live[0]?.evidence).not.toContain(TOKEN)
  })
})
