import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'

/**
 * A loopback Kubernetes API server speaking the real list+watch wire format:
 * lists (`{kind: PodList, metadata: {resourceVersion, continue}, items}`, paged
 * with limit/continue over a consistent snapshot) and watches
 * (`?watch=true&resourceVersion=N`: a chunked stream of `{type, object}` JSON
 * lines, ADDED/MODIFIED/DELETED/BOOKMARK, and for a resourceVersion older than
 * the last compaction an ERROR event whose object is a Status with code 410).
 * Tests change objects while clients watch, drop watches mid-stream, hold
 * reconnecting watches, compact (force 410) and remove the Notebook CRD (404).
 */

/** The collections served, all cluster-wide. */
export const KUBE_RESOURCES = {
  nodes: { path: '/api/v1/nodes', apiVersion: 'v1', kind: 'Node' },
  pods: { path: '/api/v1/pods', apiVersion: 'v1', kind: 'Pod' },
  namespaces: { path: '/api/v1/namespaces', apiVersion: 'v1', kind: 'Namespace' },
  jobs: { path: '/apis/batch/v1/jobs', apiVersion: 'batch/v1', kind: 'Job' },
  replicasets: { path: '/apis/apps/v1/replicasets', apiVersion: 'apps/v1', kind: 'ReplicaSet' },
  statefulsets: { path: '/apis/apps/v1/statefulsets', apiVersion: 'apps/v1', kind: 'StatefulSet' },
  notebooks: { path: '/apis/kubeflow.org/v1/notebooks', apiVersion: 'kubeflow.org/v1', kind: 'Notebook' },
} as const

/** Short name of a served collection. */
export type KubeResource = keyof typeof KUBE_RESOURCES

/** A Kubernetes object as JSON. */
export interface KubeObj {
  apiVersion?: string
  kind?: string
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; creationTimestamp?: string; [k: string]: unknown }
  [k: string]: unknown
}

/** One request the fake answered. */
export interface RequestRecord {
  resource: KubeResource | undefined
  watch: boolean
  resourceVersion: string | undefined
  limit: string | undefined
  continue: string | undefined
  authorization: string | undefined
}

interface LoggedEvent {
  resource: KubeResource
  rv: number
  type: 'ADDED' | 'MODIFIED' | 'DELETED'
  object: KubeObj
}

interface Watcher {
  resource: KubeResource
  res: ServerResponse
}

const byPath = new Map<string, KubeResource>(Object.entries(KUBE_RESOURCES).map(([name, r]) => [r.path, name as KubeResource]))
const keyOf = (o: KubeObj) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`
const status = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code })

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

/** The fake API server. */
export class FakeKubeApi {
  private rv = 100
  private compactedBelow = 0
  private holding = false
  private readonly objects = new Map<KubeResource, Map<string, KubeObj>>()
  private readonly log: LoggedEvent[] = []
  private readonly watchers = new Set<Watcher>()
  private readonly parked: Array<() => void> = []
  private readonly pages = new Map<string, { rv: number; items: KubeObj[]; offset: number }>()
  private server: Server | undefined
  /** Every request, in order. */
  readonly requests: RequestRecord[] = []
  /** When false, the Notebook collection answers 404 as if the CRD were not installed. */
  notebookCrd = true

  /** `token`: when set, requests must carry `Authorization: Bearer <token>` (else 401). */
  constructor(private readonly opts: { token?: string } = {}) {}

  /** Listens on 127.0.0.1 (a free port) and returns the base URL. */
  async start(): Promise<string> {
    const server = createServer((req, res) => this.handle(req, res))
    this.server = server
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  /** Ends every watch and closes the server. */
  async close(): Promise<void> {
    this.releaseWatches()
    for (const w of this.watchers) w.res.destroy()
    this.watchers.clear()
    const server = this.server
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
  }

  /** Creates an object (uid, resourceVersion and creationTimestamp filled in when missing); watchers see ADDED. */
  add(resource: KubeResource, obj: KubeObj): KubeObj {
    const o = structuredClone(obj)
    o.apiVersion ??= KUBE_RESOURCES[resource].apiVersion
    o.kind ??= KUBE_RESOURCES[resource].kind
    o.metadata.uid ??= randomUUID()
    o.metadata.creationTimestamp ??= new Date().toISOString()
    if (this.collection(resource).has(keyOf(o))) throw new Error(`${resource} ${keyOf(o)} exists`)
    return this.commit(resource, 'ADDED', o)
  }

  /** Changes an object in place; watchers see MODIFIED. */
  update(resource: KubeResource, namespace: string, name: string, mutate: (o: KubeObj) => void): KubeObj {
    const o = structuredClone(this.must(resource, namespace, name))
    mutate(o)
    return this.commit(resource, 'MODIFIED', o)
  }

  /** Deletes an object; watchers see DELETED with its last state. */
  remove(resource: KubeResource, namespace: string, name: string): KubeObj {
    return this.commit(resource, 'DELETED', structuredClone(this.must(resource, namespace, name)))
  }

  /** The stored object, or undefined. */
  get(resource: KubeResource, namespace: string, name: string): KubeObj | undefined {
    return this.collection(resource).get(`${namespace}/${name}`)
  }

  /** The current resourceVersion (of the last change to anything). */
  get resourceVersion(): number {
    return this.rv
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
    this.compactedBelow = this.rv
    for (const w of this.watchers) this.sendGone(w.res, 'forced compaction')
    this.watchers.clear()
  }

  /** Sends a BOOKMARK with the current resourceVersion on every open watch. */
  bookmark(): void {
    for (const w of this.watchers) {
      const { apiVersion, kind } = KUBE_RESOURCES[w.resource]
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { apiVersion, kind, metadata: { resourceVersion: String(this.rv) } } })}\n`)
    }
  }

  /** Requests of one resource, by kind. */
  requestsOf(resource: KubeResource, watch: boolean): RequestRecord[] {
    return this.requests.filter((r) => r.resource === resource && r.watch === watch)
  }

  /** Watches open now (optionally of one resource). */
  openWatches(resource?: KubeResource): number {
    return [...this.watchers].filter((w) => resource === undefined || w.resource === resource).length
  }

  private collection(resource: KubeResource): Map<string, KubeObj> {
    let c = this.objects.get(resource)
    if (!c) this.objects.set(resource, (c = new Map()))
    return c
  }

  private must(resource: KubeResource, namespace: string, name: string): KubeObj {
    const o = this.get(resource, namespace, name)
    if (!o) throw new Error(`no ${resource} ${namespace}/${name}`)
    return o
  }

  private commit(resource: KubeResource, type: LoggedEvent['type'], o: KubeObj): KubeObj {
    o.metadata.resourceVersion = String(++this.rv)
    if (type === 'DELETED') this.collection(resource).delete(keyOf(o))
    else this.collection(resource).set(keyOf(o), o)
    const event: LoggedEvent = { resource, rv: this.rv, type, object: structuredClone(o) }
    this.log.push(event)
    for (const w of this.watchers) if (w.resource === resource) w.res.write(`${JSON.stringify({ type, object: event.object })}\n`)
    return structuredClone(o)
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const resource = byPath.get(url.pathname)
    const q = url.searchParams
    const watch = q.get('watch') === 'true' || q.get('watch') === '1'
    const authorization = req.headers.authorization
    this.requests.push({ resource, watch, resourceVersion: q.get('resourceVersion') ?? undefined, limit: q.get('limit') ?? undefined, continue: q.get('continue') ?? undefined, authorization })
    if (this.opts.token && authorization !== `Bearer ${this.opts.token}`) return sendJson(res, 401, status(401, 'Unauthorized', 'Unauthorized'))
    if (!resource || (resource === 'notebooks' && !this.notebookCrd)) {
      return sendJson(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'))
    }
    if (req.method !== 'GET') return sendJson(res, 405, status(405, 'MethodNotAllowed', 'only GET is served'))
    if (watch) this.watch(resource, q, res)
    else this.list(resource, q, res)
  }

  private list(resource: KubeResource, q: URLSearchParams, res: ServerResponse): void {
    const limit = Number(q.get('limit') ?? '0')
    const token = q.get('continue')
    let page = token ? this.pages.get(token) : undefined
    if (token && !page) return sendJson(res, 410, status(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.'))
    if (token) this.pages.delete(token)
    page ??= { rv: this.rv, items: [...this.collection(resource).values()].sort((a, b) => keyOf(a).localeCompare(keyOf(b))).map((o) => structuredClone(o)), offset: 0 }
    const end = limit > 0 ? page.offset + limit : page.items.length
    const metadata: Record<string, unknown> = { resourceVersion: String(page.rv) }
    if (end < page.items.length) {
      const next = randomUUID()
      this.pages.set(next, { ...page, offset: end })
      metadata.continue = next
      metadata.remainingItemCount = page.items.length - end
    }
    const { apiVersion, kind } = KUBE_RESOURCES[resource]
    sendJson(res, 200, { kind: `${kind}List`, apiVersion, metadata, items: page.items.slice(page.offset, end) })
  }

  private watch(resource: KubeResource, q: URLSearchParams, res: ServerResponse): void {
    if (this.holding) {
      this.parked.push(() => this.watch(resource, q, res))
      return
    }
    if (res.destroyed) return
    const param = q.get('resourceVersion') ?? ''
    const from = param === '' || param === '0' ? undefined : Number(param)
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
    res.flushHeaders()
    if (from !== undefined && from < this.compactedBelow) return this.sendGone(res, `too old resource version: ${from} (${this.compactedBelow})`)
    if (from === undefined) {
      for (const o of this.collection(resource).values()) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`)
    } else {
      for (const e of this.log) if (e.resource === resource && e.rv > from) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`)
    }
    const w: Watcher = { resource, res }
    this.watchers.add(w)
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? '0')
    const timer = timeoutSeconds > 0 ? setTimeout(() => res.end(), timeoutSeconds * 1000) : undefined
    timer?.unref()
    res.on('close', () => {
      clearTimeout(timer)
      this.watchers.delete(w)
    })
  }

  private sendGone(res: ServerResponse, message: string): void {
    res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', message) })}\n`)
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
