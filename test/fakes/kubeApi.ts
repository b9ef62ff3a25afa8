import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type Server, type ServerResponse } from 'node:http'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { KubeApiServer, type KubeObj, type KubeRequest, type KubeResource } from '../../collector/replay/live/kubeApi'

/**
 * The loopback Kubernetes API for tests: the replay's production server
 * (collector/replay/live/kubeApi.ts: list+watch, resourceVersions, paging,
 * 410) plus what only tests need: a log of every request, and faults —
 * park reconnecting watches, drop watches mid-stream, force 410 Gone, and
 * remove the Notebook CRD (404). Below it, objects built from the shared fixtures.
 */

export { KUBE_RESOURCES, type KubeObj, type KubeResource } from '../../collector/replay/live/kubeApi'

/** One request the fake answered. */
export type RequestRecord = KubeRequest

/** The fake API server: no periodic bookmarks, so a test sees only the events it caused. */
export class FakeKubeApi extends KubeApiServer {
  private holding = false
  private readonly parked: Array<() => void> = []
  /** Every request, in order. */
  readonly requests: RequestRecord[] = []
  /** When false, the Notebook collection answers 404 as if the CRD were not installed. */
  notebookCrd = true

  /** `token`: when set, requests must carry `Authorization: Bearer <token>` (else 401). */
  constructor(opts: { token?: string } = {}) {
    super({ ...opts, bookmarkIntervalMs: 0 })
  }

  /** Answers parked watches, then ends every watch and closes the server. */
  override async close(): Promise<void> {
    this.releaseWatches()
    await super.close()
  }

  /** Parks new watch requests (no answer) until releaseWatches: lets a test change things while clients are not watching. */
  holdWatches(): void {
    this.holding = true
  }

  /** Answers the parked watch requests and stops parking. */
  releaseWatches(): void {
    this.holding = false
    for (const answer of this.parked.splice(0)) answer()
  }

  /** Drops every open watch mid-stream (the TCP connection is destroyed, no clean end). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.socket?.destroy()
    this.watchers.clear()
  }

  /** Compacts history up to now: any watch from an older resourceVersion, and every open watch, gets a 410 Gone ERROR event. */
  forceGone(): void {
    this.compact()
    for (const w of this.watchers) this.sendGone(w.res, 'forced compaction')
    this.watchers.clear()
  }

  /** Requests of one resource, by kind. */
  requestsOf(resource: KubeResource, watch: boolean): RequestRecord[] {
    return this.requests.filter((r) => r.resource === resource && r.watch === watch)
  }

  protected override onRequest(request: RequestRecord): void {
    this.requests.push(request)
  }

  protected override serves(resource: KubeResource): boolean {
    return resource !== 'notebooks' || this.notebookCrd
  }

  protected override openWatch(resource: KubeResource, q: URLSearchParams, res: ServerResponse): void {
    if (this.holding) this.parked.push(() => this.openWatch(resource, q, res))
    else super.openWatch(resource, q, res)
  }
}

// ---- Objects built from the shared fixtures (../shared/fixtures beside the repository) ----

/** shared/fixtures, resolved from the repository root. */
export const SHARED_FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'fixtures')

/** Start of the Alibaba v2023 trace's clock (its times are seconds from an undisclosed start). */
export const ALIBABA_T0_MS = Date.UTC(2023, 0, 1)

const iso = (ms: number) => new Date(ms).toISOString()

/** The 1,213 GPU nodes of the Alibaba v2023 trace as Node objects, each made Ready (the YAML has no conditions). */
export function alibabaNodes(): KubeObj[] {
  const text = readFileSync(join(SHARED_FIXTURES, 'alibaba-pai-gpu-v2023', 'node_yaml', 'openb_node_list_gpu_node.yaml'), 'utf8')
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObj | null)
    .filter((n): n is KubeObj => n !== null && n.kind === 'Node')
    .map((n) => {
      const s = (n.status ?? {}) as Record<string, unknown>
      const conditions = [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastTransitionTime: iso(ALIBABA_T0_MS) }]
      return { ...n, metadata: { ...n.metadata, uid: `node-${n.metadata.name}`, creationTimestamp: iso(ALIBABA_T0_MS) }, status: { ...s, conditions } }
    })
}

/** One row of openb_pod_list_*.csv. */
export interface AlibabaPodRow {
  name: string
  cpuMilli: number
  memoryMib: number
  numGpu: number
  gpuMilli: number
  phase: string
  creationS: number
  deletionS: number | undefined
  scheduledS: number | undefined
}

/** The pods of the Alibaba v2023 trace (openb_pod_list_default.csv). */
export function alibabaPodRows(): AlibabaPodRow[] {
  const text = readFileSync(join(SHARED_FIXTURES, 'alibaba-pai-gpu-v2023', 'csv', 'openb_pod_list_default.csv'), 'utf8')
  const [header, ...lines] = text.trim().split('\n')
  const cols = (header ?? '').split(',')
  const at = (name: string) => cols.indexOf(name)
  const opt = (s: string | undefined) => (s === undefined || s === '' ? undefined : Number(s))
  return lines.map((line) => {
    const f = line.split(',')
    return {
      name: f[at('name')] ?? '', cpuMilli: Number(f[at('cpu_milli')]), memoryMib: Number(f[at('memory_mib')]),
      numGpu: Number(f[at('num_gpu')]), gpuMilli: Number(f[at('gpu_milli')]), phase: f[at('pod_phase')] ?? 'Pending',
      creationS: Number(f[at('creation_time')]), deletionS: opt(f[at('deletion_time')]), scheduledS: opt(f[at('scheduled_time')]),
    }
  })
}

/**
 * A trace row as a Pod: GPUs requested as `alibabacloud.com/gpu-count` (num_gpu)
 * with `alibabacloud.com/gpu-milli` (gpu_milli per GPU); scheduled pods are
 * bound to `node` at scheduled_time, pending ones carry PodScheduled=False
 * (Unschedulable), finished ones a container terminated at deletion_time.
 */
export function alibabaPod(row: AlibabaPodRow, node: string, namespace = 'openb'): KubeObj {
  const t = (s: number) => iso(ALIBABA_T0_MS + s * 1000)
  const resources: Record<string, string> = { cpu: `${row.cpuMilli}m`, memory: `${row.memoryMib}Mi` }
  if (row.numGpu > 0) Object.assign(resources, { 'alibabacloud.com/gpu-count': String(row.numGpu), 'alibabacloud.com/gpu-milli': String(row.gpuMilli) })
  const scheduled = row.phase !== 'Pending' && row.scheduledS !== undefined
  const finished = row.phase === 'Succeeded' || row.phase === 'Failed'
  const state = finished
    ? { terminated: { exitCode: row.phase === 'Failed' ? 1 : 0, startedAt: t(row.scheduledS ?? row.creationS), finishedAt: t(row.deletionS ?? row.creationS) } }
    : scheduled ? { running: { startedAt: t(row.scheduledS ?? row.creationS) } } : { waiting: { reason: 'ContainerCreating' } }
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: row.name, namespace, uid: `uid-${row.name}`, creationTimestamp: t(row.creationS), labels: { app: row.name } },
    spec: { ...(scheduled ? { nodeName: node } : {}), containers: [{ name: 'main', image: 'pai/worker', resources: { requests: resources, limits: resources } }] },
    status: {
      phase: row.phase,
      conditions: scheduled
        ? [{ type: 'PodScheduled', status: 'True', lastTransitionTime: t(row.scheduledS ?? row.creationS) }]
        : [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1213 nodes are available: insufficient GPU.', lastTransitionTime: t(row.creationS) }],
      ...(scheduled ? { containerStatuses: [{ name: 'main', state }] } : {}),
    },
  }
}

/** The Kubeflow Notebook CRs of shared/fixtures/jupyter-kubeflow (a namespace is given to the sample that has none). */
export function kubeflowNotebooks(defaultNamespace = 'kubeflow-user-example-com'): KubeObj[] {
  return ['kubeflow_v1_notebook_sample.yaml', 'rhoai_workbench_notebook_cr_trimmed.yaml'].map((file) => {
    const nb = parseAllDocuments(readFileSync(join(SHARED_FIXTURES, 'jupyter-kubeflow', file), 'utf8'))[0]?.toJS() as KubeObj
    nb.metadata.namespace ??= defaultNamespace
    return nb
  })
}

/**
 * The StatefulSet and pod the notebook controller makes for a Notebook
 * (owner chain Pod -> StatefulSet -> Notebook, label `notebook-name`), with the
 * notebook container's resources given GPU `limits`.
 */
export function notebookWorkload(notebook: KubeObj, gpuLimits: Record<string, string>, node: string): { statefulSet: KubeObj; pod: KubeObj } {
  const { name, namespace, uid } = notebook.metadata
  const ns = namespace ?? ''
  const template = structuredClone((notebook.spec as { template: { spec: { containers: Array<Record<string, unknown>> } } }).template.spec)
  const first = template.containers[0] ?? {}
  const resources = (first.resources ?? {}) as { limits?: Record<string, string> }
  first.resources = { ...resources, limits: { ...resources.limits, ...gpuLimits } }
  const owner = (kind: string, n: string, u: string | undefined) => [{ apiVersion: kind === 'Notebook' ? 'kubeflow.org/v1' : 'apps/v1', kind, name: n, uid: u, controller: true }]
  const stsUid = randomUUID()
  const statefulSet = { metadata: { name, namespace: ns, uid: stsUid, ownerReferences: owner('Notebook', name, uid) }, spec: { replicas: 1 } }
  const pod = {
    metadata: { name: `${name}-0`, namespace: ns, labels: { 'notebook-name': name, statefulset: name }, ownerReferences: owner('StatefulSet', name, stsUid) },
    spec: { ...template, nodeName: node },
    status: { phase: 'Running', conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: new Date().toISOString() }] },
  }
  return { statefulSet, pod }
}

// ---- Service endpoints (discovery.k8s.io/v1 EndpointSlices, core/v1 Endpoints), for dcgm-exporter discovery ----

/** The two endpoint collections FakeEndpointsApi serves. */
export type EndpointsResource = 'endpointslices' | 'endpoints'

/** One request FakeEndpointsApi saw: the path, the query, and whether it was a watch. */
export interface EndpointsRequest {
  path: string
  query: Record<string, string>
  watch: boolean
}

interface EndpointsWatcher {
  resource: EndpointsResource
  namespace: string
  matches: (o: KubeObj) => boolean
  res: ServerResponse
}

const ENDPOINT_KINDS: Readonly<Record<EndpointsResource, { apiVersion: string; kind: string }>> = {
  endpointslices: { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' },
  endpoints: { apiVersion: 'v1', kind: 'Endpoints' },
}

const SLICES_PATH = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/
const ENDPOINTS_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/endpoints$/

/**
 * A loopback API server for Service endpoints as dcgm-exporter discovery
 * reads them: the discovery.k8s.io/v1 group document, and namespaced
 * list+watch of EndpointSlices (equality `labelSelector`) and Endpoints
 * (`fieldSelector=metadata.name=`), with resourceVersions and resumable
 * watches. Faults: stop serving EndpointSlices (an old API server: 404 on the
 * group and the collection), or answer every request with an error status.
 * (The replay's KubeApiServer serves only cluster-wide collections without
 * selectors, so this one stands beside it.)
 */
export class FakeEndpointsApi {
  private rv = 1000
  private readonly objects: Record<EndpointsResource, Map<string, KubeObj>> = { endpointslices: new Map(), endpoints: new Map() }
  private readonly history: Array<{ rv: number; resource: EndpointsResource; type: string; object: KubeObj }> = []
  private readonly watchers = new Set<EndpointsWatcher>()
  private server: Server | undefined
  /** Every request, in order. */
  readonly requests: EndpointsRequest[] = []
  /** When false, the server behaves like one without discovery.k8s.io/v1 (404). */
  endpointSlicesServed = true
  /** When set, every request is answered with this HTTP status and a Status body. */
  failStatus: number | undefined

  /** Listens on 127.0.0.1 with a free port; returns the base URL. */
  async start(): Promise<string> {
    const server = createServer((req, res) => this.handle(req.url ?? '/', res))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    this.server = server
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`
  }

  /** Ends every watch and closes the server. */
  async close(): Promise<void> {
    this.dropWatches()
    const server = this.server
    this.server = undefined
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
  }

  /** Creates or replaces an object (kind, apiVersion, uid filled in); watchers see ADDED or MODIFIED. */
  put(resource: EndpointsResource, obj: KubeObj): void {
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`
    const old = this.objects[resource].get(key)
    const o: KubeObj = { ...ENDPOINT_KINDS[resource], ...structuredClone(obj) }
    o.metadata.uid ??= old?.metadata.uid ?? randomUUID()
    this.commit(resource, old ? 'MODIFIED' : 'ADDED', o)
  }

  /** Deletes an object; watchers see DELETED. */
  remove(resource: EndpointsResource, namespace: string, name: string): void {
    const o = this.objects[resource].get(`${namespace}/${name}`)
    if (!o) throw new Error(`no ${resource} ${namespace}/${name}`)
    this.commit(resource, 'DELETED', structuredClone(o))
  }

  /** Drops every open watch mid-stream. */
  dropWatches(): void {
    for (const w of this.watchers) w.res.socket?.destroy()
    this.watchers.clear()
  }

  /** Watches open now. */
  openWatches(): number {
    return this.watchers.size
  }

  private commit(resource: EndpointsResource, type: string, o: KubeObj): void {
    o.metadata.resourceVersion = String(++this.rv)
    const key = `${o.metadata.namespace ?? ''}/${o.metadata.name}`
    if (type === 'DELETED') this.objects[resource].delete(key)
    else this.objects[resource].set(key, o)
    this.history.push({ rv: this.rv, resource, type, object: o })
    for (const w of this.watchers) {
      if (w.resource === resource && w.namespace === o.metadata.namespace && w.matches(o)) w.res.write(`${JSON.stringify({ type, object: o })}\n`)
    }
  }

  private handle(rawUrl: string, res: ServerResponse): void {
    const url = new URL(rawUrl, 'http://127.0.0.1')
    const q = url.searchParams
    const watch = q.get('watch') === 'true'
    this.requests.push({ path: url.pathname, query: Object.fromEntries(q), watch })
    const json = (code: number, body: unknown): void => void res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    const status = (code: number, reason: string, message: string): void => json(code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code })
    if (this.failStatus !== undefined) return status(this.failStatus, 'InternalError', 'injected failure')
    const notFound = (): void => status(404, 'NotFound', 'the server could not find the requested resource')
    if (url.pathname === '/apis/discovery.k8s.io/v1') {
      if (!this.endpointSlicesServed) return notFound()
      return json(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'discovery.k8s.io/v1', resources: [{ name: 'endpointslices', namespaced: true, kind: 'EndpointSlice', verbs: ['get', 'list', 'watch'] }] })
    }
    const slices = SLICES_PATH.exec(url.pathname)
    const endpoints = ENDPOINTS_PATH.exec(url.pathname)
    const resource: EndpointsResource | undefined = slices && this.endpointSlicesServed ? 'endpointslices' : endpoints ? 'endpoints' : undefined
    const namespace = decodeURIComponent((slices ?? endpoints)?.[1] ?? '')
    if (!resource) return notFound()
    const matches = selectorOf(q)
    if (!watch) {
      const items = [...this.objects[resource].values()].filter((o) => o.metadata.namespace === namespace && matches(o))
      return json(200, { kind: `${ENDPOINT_KINDS[resource].kind}List`, apiVersion: ENDPOINT_KINDS[resource].apiVersion, metadata: { resourceVersion: String(this.rv) }, items })
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
    res.flushHeaders()
    const from = Number(q.get('resourceVersion') || '0')
    for (const e of this.history) {
      if (e.rv > from && e.resource === resource && e.object.metadata.namespace === namespace && matches(e.object)) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`)
    }
    const w: EndpointsWatcher = { resource, namespace, matches, res }
    this.watchers.add(w)
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? '0')
    const timer = timeoutSeconds > 0 ? setTimeout(() => res.end(), timeoutSeconds * 1000) : undefined
    timer?.unref()
    res.on('close', () => {
      clearTimeout(timer)
      this.watchers.delete(w)
    })
  }
}

/** Equality label selectors (`a=b,c=d`) and the `metadata.name=` field selector; anything else matches everything. */
function selectorOf(q: URLSearchParams): (o: KubeObj) => boolean {
  const labels = (q.get('labelSelector') ?? '').split(',').filter(Boolean).map((s) => s.split('=') as [string, string])
  const name = /^metadata\.name=(.*)$/.exec(q.get('fieldSelector') ?? '')?.[1]
  return (o) => {
    const have = (o.metadata.labels ?? {}) as Record<string, string>
    return labels.every(([k, v]) => have[k] === v) && (name === undefined || o.metadata.name === name)
  }
}

/** One exporter endpoint as a test describes it. */
export interface ExporterEndpoint {
  ip: string
  nodeName: string
  pod: string
  ready?: boolean
}

/**
 * An EndpointSlice of a Service as the EndpointSlice controller writes it:
 * label `kubernetes.io/service-name`, one port list, endpoints with
 * conditions, nodeName and a Pod targetRef.
 */
export function endpointSlice(namespace: string, service: string, name: string, port: { name: string; port: number }, endpoints: ExporterEndpoint[]): KubeObj {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: false },
      nodeName: e.nodeName,
      targetRef: { kind: 'Pod', namespace, name: e.pod, uid: randomUUID() },
    })),
    ports: [{ name: port.name, port: port.port, protocol: 'TCP' }],
  }
}

/** The core/v1 Endpoints of a Service: one subset per port, ready endpoints in `addresses`, the others in `notReadyAddresses`. */
export function serviceEndpoints(namespace: string, service: string, subsets: Array<{ port: { name: string; port: number }; endpoints: ExporterEndpoint[] }>): KubeObj {
  const address = (e: ExporterEndpoint) => ({ ip: e.ip, nodeName: e.nodeName, targetRef: { kind: 'Pod', namespace, name: e.pod } })
  return {
    apiVersion: 'v1', kind: 'Endpoints',
    metadata: { name: service, namespace },
    subsets: subsets.map((s) => ({
      addresses: s.endpoints.filter((e) => e.ready !== false).map(address),
      notReadyAddresses: s.endpoints.filter((e) => e.ready === false).map(address),
      ports: [{ name: s.port.name, port: s.port.port, protocol: 'TCP' }],
    })),
  }
}
