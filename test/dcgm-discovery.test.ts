import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ExporterDiscovery } from '../collector/dcgm/discovery'
import { dcgmSources } from '../collector/dcgm/index'
import { CollectorHealth } from '../collector/health'
import type { CollectorDeps, PollSource, Source } from '../collector/source'
import { dcgmSchema } from '../config/dcgm'
import { kubernetesSchema } from '../config/kubernetes'
import { ConfigError } from '../core/errors'
import type { GpuSample } from '../core/model'
import type { Sink } from '../core/ports'
import { readDcgmFixture, startFakeExporter, type FakeExporter } from './fakes/exporter'
import { endpointSlice, FakeEndpointsApi, serviceEndpoints, type ExporterEndpoint } from './fakes/kubeApi'

// dcgm-exporter discovery against a loopback Kubernetes API (EndpointSlices / Endpoints, list+watch)
// with loopback exporters serving real dcgm-exporter output.
const NS = 'gpu-operator'
const SVC = 'nvidia-dcgm-exporter'
const DISCOVERY = `dcgm-discovery/lab/${NS}/${SVC}`
const L4_UUID = 'GPU-c2f76b33-7953-256e-8f33-1343419b1a1c'
// The exporter ran without NODE_NAME: its Hostname label is its pod's name.
const L4_AS_POD = readDcgmFixture('kops-aws-L4-1gpu.prom').replaceAll('Hostname="i-030791dc5a37cd257"', 'Hostname="nvidia-dcgm-exporter-l4x7k"')
// A newer exporter built without any host label.
const H100_NO_HOST = readDcgmFixture('aicr-eks-p5-H100x8-sampled.prom').replaceAll(',Hostname="gpu-node-1"', '')

const logger = { info() {}, warn() {}, error() {}, debug() {} }
const noop: Sink<never> = { async write() {} }
let l4: FakeExporter
let h100: FakeExporter
let spare: FakeExporter
let api: FakeEndpointsApi
let apiUrl: string
let rows: GpuSample[]
let running: Source[] = []

const endpoint = (e: FakeExporter, nodeName: string, pod: string, ready = true): ExporterEndpoint => ({ ip: '127.0.0.1', nodeName, pod, ready })
const portOf = (e: FakeExporter) => ({ name: 'gpu-metrics', port: Number(e.hostPort.split(':')[1]) })
// One slice per exporter: the loopback exporters differ by port, and a slice has one port list.
const sliceFor = (name: string, e: FakeExporter, ep: ExporterEndpoint) => endpointSlice(NS, SVC, name, portOf(e), [ep])

async function startSources(extra: Record<string, unknown> = {}, waitForList = true) {
  const config = dcgmSchema.parse({ intervalMs: 10_000, timeoutMs: 2_000, discovery: { kubernetes: [{ cluster: 'lab', namespace: NS, service: SVC }] }, ...extra })
  const kube = kubernetesSchema.parse({ clusters: [{ name: 'lab', server: apiUrl, insecureSkipTlsVerify: true }], backoffBaseMs: 20, backoffMaxMs: 100 })
  const recorder: Sink<GpuSample> = { async write(batch) { rows.push(...batch) } }
  const deps: CollectorDeps = {
    sinks: { gpuSamples: recorder, workloadIntervals: noop, nodeState: noop, nodeSeen: noop, notebookActivity: noop, cloudInstances: noop, prices: noop, actions: noop },
    query: async () => [],
    logger,
    now: Date.now,
  }
  const sources = dcgmSources(config, deps, kube)
  running = sources
  const health = new CollectorHealth()
  const scrape = sources.find((s): s is PollSource => s.name === 'dcgm/lab' && s.kind === 'poll')
  const discovery = sources.find((s) => s.name === DISCOVERY) as ExporterDiscovery | undefined
  if (!scrape || !discovery) throw new Error(`sources: ${sources.map((s) => s.name).join(', ')}`)
  await discovery.start(health.register(discovery))
  let synced = false
  void discovery.synced.then(() => (synced = true))
  if (waitForList) await until('the first list of the exporter endpoints', () => synced)
  const poll = async () => {
    rows = []
    const result = await scrape.poll(Date.now(), new AbortController().signal)
    return { result, rows: [...rows] }
  }
  return { sources, scrape, discovery, health, poll }
}

/** Waits (bounded) until the condition holds; the watch delivers changes asynchronously. */
async function until(what: string, cond: () => boolean, maxMs = 10_000): Promise<void> {
  for (let waited = 0; !cond(); waited += 20) {
    if (waited > maxMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const nodesOf = (batch: GpuSample[]) => [...new Set(batch.map((r) => r.node))].sort()

beforeAll(async () => {
  l4 = await startFakeExporter({ kind: 'text', body: L4_AS_POD })
  h100 = await startFakeExporter({ kind: 'text', body: H100_NO_HOST })
  spare = await startFakeExporter({ kind: 'fixture', file: 'kops-aws-L4-1gpu.prom' })
})
afterAll(async () => {
  await Promise.all([l4, h100, spare].map((e) => e?.close()))
})
beforeEach(async () => {
  rows = []
  api = new FakeEndpointsApi()
  apiUrl = await api.start()
  api.put('endpointslices', sliceFor('dcgm-l4', l4, endpoint(l4, 'gpu-l4-node', 'nvidia-dcgm-exporter-l4x7k')))
  api.put('endpointslices', sliceFor('dcgm-h100', h100, endpoint(h100, 'gpu-h100-node', 'nvidia-dcgm-exporter-h1q2w')))
  // Another Service's slice in the same namespace: must not be picked up.
  api.put('endpointslices', endpointSlice(NS, 'node-exporter', 'node-exporter-abc', portOf(spare), [endpoint(spare, 'gpu-l4-node', 'node-exporter-1')]))
})
afterEach(async () => {
  await Promise.all(running.map((s) => (s.kind === 'stream' ? s.stop() : undefined)))
  running = []
  await api.close()
})

describe('dcgm-exporter discovery through Kubernetes EndpointSlices', () => {
  it('scrapes every exporter endpoint of the Service, each GPU on its endpoint node (Hostname = pod name, or no host label)', async () => {
    const spareBefore = spare.requests
    const { poll, discovery, sources } = await startSources()
    expect(sources.map((s) => s.name)).toEqual(['dcgm/lab', DISCOVERY])
    expect(discovery.mode).toBe('endpointslices')
    const { result, rows: got } = await poll()
    expect(result).toEqual({ rows: 9 })
    expect(nodesOf(got)).toEqual(['gpu-h100-node', 'gpu-l4-node'])
    expect(got.find((r) => r.gpuUuid === L4_UUID)?.node).toBe('gpu-l4-node')
    expect(got.filter((r) => r.node === 'gpu-h100-node')).toHaveLength(8)
    expect(spare.requests).toBe(spareBefore)
    const lists = api.requests.filter((r) => r.path.endsWith('/endpointslices'))
    expect(lists.length).toBeGreaterThan(0)
    for (const r of lists) {
      expect(r.path).toBe(`/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`)
      expect(r.query.labelSelector).toBe(`kubernetes.io/service-name=${SVC}`)
    }
  })

  it('lets the first poll after start wait for the first list, so it scrapes the exporters about to be found', async () => {
    const { poll } = await startSources({}, false)
    expect(await poll()).toMatchObject({ result: { rows: 9 } })
  })

  it('stops scraping an exporter whose endpoint left the Service (watch), and its GPUs get no rows', async () => {
    const { poll, discovery } = await startSources()
    expect((await poll()).result.rows).toBe(9)
    api.remove('endpointslices', NS, 'dcgm-h100')
    await until('the h100 target to go', () => discovery.targets().length === 1)
    const before = h100.requests
    const { result, rows: got } = await poll()
    expect(result).toEqual({ rows: 1 })
    expect(nodesOf(got)).toEqual(['gpu-l4-node'])
    expect(h100.requests).toBe(before)
  })

  it('does not scrape a not-ready endpoint, and scrapes it once it turns ready', async () => {
    api.put('endpointslices', sliceFor('dcgm-spare', spare, endpoint(spare, 'gpu-spare-node', 'nvidia-dcgm-exporter-s9d8f', false)))
    const spareBefore = spare.requests
    const { poll, discovery } = await startSources()
    expect((await poll()).result.rows).toBe(9)
    expect(spare.requests).toBe(spareBefore)
    api.put('endpointslices', sliceFor('dcgm-spare', spare, endpoint(spare, 'gpu-spare-node', 'nvidia-dcgm-exporter-s9d8f', true)))
    await until('the spare target to be ready', () => discovery.targets().length === 3)
    const { result, rows: got } = await poll()
    expect(result).toEqual({ rows: 10 })
    expect(spare.requests).toBe(spareBefore + 1)
    // The spare exporter labels its real host, which wins over the endpoint's nodeName.
    expect(nodesOf(got)).toEqual(['gpu-h100-node', 'gpu-l4-node', 'i-030791dc5a37cd257'])
  })

  it('keeps scraping the last known exporters while the API fails, shows the failure in collector health, and recovers', async () => {
    const { poll, health, discovery } = await startSources()
    const discoveryHealth = () => health.snapshot().find((h) => h.source === DISCOVERY)
    expect(discoveryHealth()).toMatchObject({ errors: 0 })
    api.failStatus = 500
    api.dropWatches()
    // The dropped watch is reported first ('Premature close'), then every retry's HTTP 500.
    await until('the API failure to reach health', () => /HTTP 500|Internal Server Error/.test(discoveryHealth()?.lastError ?? ''))
    expect(discoveryHealth()?.errors).toBeGreaterThan(0)
    expect(discovery.targets()).toHaveLength(2)
    const { result, rows: got } = await poll()
    expect(result).toEqual({ rows: 9 })
    expect(nodesOf(got)).toEqual(['gpu-h100-node', 'gpu-l4-node'])
    // Once the API answers again, a change made meanwhile arrives.
    api.remove('endpointslices', NS, 'dcgm-l4')
    const successes = discoveryHealth()?.lastSuccessMs
    api.failStatus = undefined
    await until('the removal to arrive after recovery', () => discovery.targets().length === 1)
    expect(discovery.targets()[0]?.node).toBe('gpu-h100-node')
    expect(discoveryHealth()?.lastSuccessMs).not.toBe(successes)
  })

  it('joins static targets of the cluster into the same source; a discovered duplicate of a static target is scraped once', async () => {
    api.put('endpointslices', sliceFor('dcgm-spare', spare, endpoint(spare, 'gpu-spare-node', 'nvidia-dcgm-exporter-s9d8f')))
    const { poll, sources } = await startSources({ targets: [{ cluster: 'lab', url: spare.url, node: 'static-node' }] })
    expect(sources.filter((s) => s.kind === 'poll').map((s) => s.name)).toEqual(['dcgm/lab'])
    const before = spare.requests
    const { result } = await poll()
    expect(result).toEqual({ rows: 10 })
    expect(spare.requests).toBe(before + 1)
  })
})

describe('dcgm-exporter discovery on an API server without EndpointSlices', () => {
  it('falls back to core/v1 Endpoints (the discovery.k8s.io/v1 group answers 404); not-ready addresses are not scraped', async () => {
    api.endpointSlicesServed = false
    api.put('endpoints', serviceEndpoints(NS, SVC, [
      { port: portOf(l4), endpoints: [endpoint(l4, 'gpu-l4-node', 'nvidia-dcgm-exporter-l4x7k')] },
      { port: portOf(h100), endpoints: [endpoint(h100, 'gpu-h100-node', 'nvidia-dcgm-exporter-h1q2w')] },
      { port: portOf(spare), endpoints: [endpoint(spare, 'gpu-spare-node', 'nvidia-dcgm-exporter-s9d8f', false)] },
    ]))
    const spareBefore = spare.requests
    const { poll, discovery } = await startSources()
    expect(discovery.mode).toBe('endpoints')
    const { result, rows: got } = await poll()
    expect(result).toEqual({ rows: 9 })
    expect(nodesOf(got)).toEqual(['gpu-h100-node', 'gpu-l4-node'])
    expect(spare.requests).toBe(spareBefore)
    const lists = api.requests.filter((r) => r.path.endsWith('/endpoints'))
    expect(lists.length).toBeGreaterThan(0)
    for (const r of lists) expect(r.query.fieldSelector).toBe(`metadata.name=${SVC}`)
  })
})

describe('dcgm discovery wiring', () => {
  it('refuses a discovery whose cluster is not a configured Kubernetes cluster, naming the field', () => {
    const config = dcgmSchema.parse({ discovery: { kubernetes: [{ cluster: 'other' }] } })
    const deps = { sinks: {}, query: async () => [], logger, now: Date.now } as unknown as CollectorDeps
    const build = () => dcgmSources(config, deps, kubernetesSchema.parse({ clusters: [{ name: 'lab', server: 'https://k8s.example:6443' }] }))
    expect(build).toThrow(ConfigError)
    expect(build).toThrow(/collector\.dcgm\.discovery\.kubernetes\.0\.cluster: no collector\.kubernetes cluster named 'other'/)
  })
})
