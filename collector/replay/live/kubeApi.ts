import { randomUUID } from 'node:crypto'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { closeServer, listenLoopback } from './http'

/**
 * A loopback Kubernetes API server speaking the real list+watch wire format,
 * for the live replay (the simulated cluster's API) and for tests (through
 * test/fakes/kubeApi.ts, which adds fault injection on top):
 *
 * - lists `{kind: PodList, apiVersion, metadata: {resourceVersion, continue,
 *   remainingItemCount}, items}`, paged with limit/continue over a consistent
 *   snapshot (an unknown or evicted continue token answers 410 Expired);
 * - watches (`?watch=true&resourceVersion=N`): a chunked stream of
 *   `{type, object}` JSON lines, ADDED / MODIFIED / DELETED, BOOKMARK when the
 *   client sent `allowWatchBookmarks=true`, replayed from a bounded per-resource
 *   history; a resourceVersion older than that history gets an ERROR event
 *   whose object is a Status with code 410, as from a compacted etcd;
 * - `timeoutSeconds` ends a watch cleanly; optional bearer-token auth (401).
 *
 * Label and field selectors are not implemented (gpuscope lists everything).
 * Objects are stored as given, never mutated after a commit, so list snapshots
 * share them instead of copying.
 */

/** The collections served, all cluster-wide (the paths gpuscope's collector lists and watches). */
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

/** One request as the server saw it (before auth). */
export interface KubeRequest {
  resource: KubeResource | undefined
  watch: boolean
  resourceVersion: string | undefined
  limit: string | undefined
  continue: string | undefined
  authorization: string | undefined
}

/** How the server behaves; every field has a default. */
export interface KubeApiServerOptions {
  /** When set, requests must carry `Authorization: Bearer <token>` (else 401). */
  token?: string
  /** creationTimestamp of objects added without one (the replay passes its virtual clock). */
  now?: () => number
  /** Events kept per resource for watches that resume from a resourceVersion; older ones answer 410. */
  historyLimit?: number
  /** List snapshots kept for continue tokens; the oldest is evicted (its token answers 410). */
  maxContinueTokens?: number
  /** How often open watches that asked for bookmarks get one; 0 = only when bookmark() is called. */
  bookmarkIntervalMs?: number
  /** A watch whose client reads slower than this many buffered bytes is closed (the client resumes). */
  maxBufferedBytes?: number
}

/** One open watch stream. */
export interface KubeWatcher {
  resource: KubeResource
  res: ServerResponse
  bookmarks: boolean
}

/** What a change does to watchers. */
export type KubeEventType = 'ADDED' | 'MODIFIED' | 'DELETED'

interface History {
  events: Array<{ rv: number; line: string }>
  /** A watch from a resourceVersion below this misses events: 410. */
  compactedBelow: number
}

interface Snapshot {
  resource: KubeResource
  rv: number
  items: KubeObj[]
  offset: number
}

const byPath = new Map<string, KubeResource>(Object.entries(KUBE_RESOURCES).map(([name, r]) => [r.path, name as KubeResource]))
const keyOf = (o: KubeObj) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`
const eventLine = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`

/** A Kubernetes Status object, as the API server answers errors. */
export const kubeStatus = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code })

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

/** The loopback API server: an object store with resourceVersions, served over list+watch. */
export class KubeApiServer {
  private rv = 100
  private readonly objects = new Map<KubeResource, Map<string, KubeObj>>()
  private readonly history = new Map<KubeResource, History>()
  private readonly snapshots = new Map<string, Snapshot>()
  private readonly opts: Required<KubeApiServerOptions>
  private server: Server | undefined
  private bookmarkTimer: NodeJS.Timeout | undefined
  /** Open watch streams. */
  protected readonly watchers = new Set<KubeWatcher>()

  constructor(options: KubeApiServerOptions = {}) {
    this.opts = {
      token: '', now: Date.now, historyLimit: 10_000, maxContinueTokens: 64, bookmarkIntervalMs: 60_000, maxBufferedBytes: 64 << 20, ...options,
    }
  }

  /** Listens on 127.0.0.1 (`port` 0 = a free one) and returns the base URL. */
  async start(port = 0): Promise<string> {
    const { server, url } = await listenLoopback((req, res) => this.handle(req, res), port)
    this.server = server
    if (this.opts.bookmarkIntervalMs > 0) {
      this.bookmarkTimer = setInterval(() => this.bookmark(), this.opts.bookmarkIntervalMs)
      this.bookmarkTimer.unref()
    }
    return url
  }

  /** Ends every watch and closes the server. */
  async close(): Promise<void> {
    clearInterval(this.bookmarkTimer)
    for (const w of this.watchers) w.res.destroy()
    this.watchers.clear()
    const server = this.server
    this.server = undefined
    if (server) await closeServer(server)
  }

  /** Creates an object (apiVersion, kind, uid and creationTimestamp filled in when missing); watchers see ADDED. */
  add(resource: KubeResource, obj: KubeObj): KubeObj {
    const o = this.prepare(resource, obj)
    if (this.collection(resource).has(keyOf(o))) throw new Error(`${resource} ${keyOf(o)} exists`)
    return structuredClone(this.commit(resource, 'ADDED', o))
  }

  /** Changes an object in place; watchers see MODIFIED. */
  update(resource: KubeResource, namespace: string, name: string, mutate: (o: KubeObj) => void): KubeObj {
    const o = structuredClone(this.must(resource, namespace, name))
    mutate(o)
    return structuredClone(this.commit(resource, 'MODIFIED', o))
  }

  /**
   * Stores the object whole: ADDED when new, MODIFIED otherwise (keeping the
   * stored uid when the new object has none). A different uid is a new object
   * under an old name: watchers see the old one DELETED, then the new ADDED.
   * Returns the new resourceVersion.
   */
  put(resource: KubeResource, obj: KubeObj): string {
    const old = this.collection(resource).get(keyOf(obj))
    const o = this.prepare(resource, { ...obj, metadata: { ...obj.metadata, uid: obj.metadata.uid ?? old?.metadata.uid } })
    if (old && old.metadata.uid !== o.metadata.uid) this.commit(resource, 'DELETED', structuredClone(old))
    const replaced = old !== undefined && old.metadata.uid === o.metadata.uid
    return this.commit(resource, replaced ? 'MODIFIED' : 'ADDED', o).metadata.resourceVersion as string
  }

  /** Deletes an object; watchers see DELETED with its last state. */
  remove(resource: KubeResource, namespace: string, name: string): KubeObj {
    return structuredClone(this.commit(resource, 'DELETED', structuredClone(this.must(resource, namespace, name))))
  }

  /** A copy of the stored object, or undefined. */
  get(resource: KubeResource, namespace: string, name: string): KubeObj | undefined {
    const o = this.collection(resource).get(`${namespace}/${name}`)
    return o && structuredClone(o)
  }

  /** Whether the object is stored. */
  has(resource: KubeResource, namespace: string, name: string): boolean {
    return this.collection(resource).has(`${namespace}/${name}`)
  }

  /** Copies of every stored object of a resource, in namespace/name order. */
  list(resource: KubeResource): KubeObj[] {
    return this.sorted(resource).map((o) => structuredClone(o))
  }

  /** How many objects of a resource are stored. */
  count(resource: KubeResource): number {
    return this.collection(resource).size
  }

  /** The current resourceVersion (of the last change to anything). */
  get resourceVersion(): number {
    return this.rv
  }

  /** Sends a BOOKMARK with the current resourceVersion on every open watch that asked for bookmarks. */
  bookmark(): void {
    for (const w of this.watchers) {
      if (!w.bookmarks) continue
      const { apiVersion, kind } = KUBE_RESOURCES[w.resource]
      this.write(w, eventLine('BOOKMARK', { apiVersion, kind, metadata: { resourceVersion: String(this.rv) } }))
    }
  }

  /** Forgets all watch history up to now (like an etcd compaction): a watch resuming from an older resourceVersion gets 410. */
  compact(): void {
    for (const resource of Object.keys(KUBE_RESOURCES) as KubeResource[]) this.history.set(resource, { events: [], compactedBelow: this.rv })
  }

  /** Watches open now (optionally of one resource). */
  openWatches(resource?: KubeResource): number {
    return [...this.watchers].filter((w) => resource === undefined || w.resource === resource).length
  }

  /** Called for every request before it is answered (tests record them). */
  protected onRequest(_request: KubeRequest): void {}

  /** Whether a resource is served; an unserved one answers 404 like an API whose CRD is not installed. */
  protected serves(_resource: KubeResource): boolean {
    return true
  }

  /** Opens a watch stream: replays history after the requested resourceVersion (or ADDED for everything), then streams changes. */
  protected openWatch(resource: KubeResource, q: URLSearchParams, res: ServerResponse): void {
    if (res.destroyed) return
    const param = q.get('resourceVersion') ?? ''
    const from = param === '' || param === '0' ? undefined : Number(param)
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
    res.flushHeaders()
    const h = this.historyOf(resource)
    if (from !== undefined && (!Number.isFinite(from) || from < h.compactedBelow)) {
      return this.sendGone(res, `too old resource version: ${param} (${h.compactedBelow})`)
    }
    const w: KubeWatcher = { resource, res, bookmarks: q.get('allowWatchBookmarks') === 'true' }
    if (from === undefined) for (const o of this.collection(resource).values()) this.write(w, eventLine('ADDED', o))
    else for (let i = firstAfter(h.events, from); i < h.events.length; i++) this.write(w, (h.events[i] as History['events'][number]).line)
    if (res.destroyed) return
    this.watchers.add(w)
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? '0')
    const timer = timeoutSeconds > 0 ? setTimeout(() => res.end(), timeoutSeconds * 1000) : undefined
    timer?.unref()
    res.on('close', () => {
      clearTimeout(timer)
      this.watchers.delete(w)
    })
  }

  /** Ends a watch with an ERROR event carrying a 410 Expired Status. */
  protected sendGone(res: ServerResponse, message: string): void {
    res.end(eventLine('ERROR', kubeStatus(410, 'Expired', message)))
  }

  private prepare(resource: KubeResource, obj: KubeObj): KubeObj {
    const o = structuredClone(obj)
    o.apiVersion ??= KUBE_RESOURCES[resource].apiVersion
    o.kind ??= KUBE_RESOURCES[resource].kind
    o.metadata.uid ??= randomUUID()
    o.metadata.creationTimestamp ??= new Date(this.opts.now()).toISOString()
    return o
  }

  private collection(resource: KubeResource): Map<string, KubeObj> {
    let c = this.objects.get(resource)
    if (!c) this.objects.set(resource, (c = new Map()))
    return c
  }

  private historyOf(resource: KubeResource): History {
    let h = this.history.get(resource)
    if (!h) this.history.set(resource, (h = { events: [], compactedBelow: 0 }))
    return h
  }

  private sorted(resource: KubeResource): KubeObj[] {
    return [...this.collection(resource).values()].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0))
  }

  private must(resource: KubeResource, namespace: string, name: string): KubeObj {
    const o = this.collection(resource).get(`${namespace}/${name}`)
    if (!o) throw new Error(`no ${resource} ${namespace}/${name}`)
    return o
  }

  /** Stores the change under a new resourceVersion, records it, and streams it to the resource's watchers. */
  private commit(resource: KubeResource, type: KubeEventType, o: KubeObj): KubeObj {
    o.metadata.resourceVersion = String(++this.rv)
    if (type === 'DELETED') this.collection(resource).delete(keyOf(o))
    else this.collection(resource).set(keyOf(o), o)
    const line = eventLine(type, o)
    const h = this.historyOf(resource)
    h.events.push({ rv: this.rv, line })
    // Trimmed in batches so the array is not shifted on every change.
    const limit = this.opts.historyLimit
    if (h.events.length > limit + Math.max(1, limit >> 2)) {
      const dropped = h.events.splice(0, h.events.length - limit)
      h.compactedBelow = (dropped[dropped.length - 1] as History['events'][number]).rv
    }
    for (const w of this.watchers) if (w.resource === resource) this.write(w, line)
    return o
  }

  private write(w: KubeWatcher, line: string): void {
    if (w.res.writableLength > this.opts.maxBufferedBytes) {
      // A watcher this far behind would hold the whole history in memory: drop it; it resumes or relists.
      this.watchers.delete(w)
      w.res.destroy()
      return
    }
    w.res.write(line)
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const resource = byPath.get(url.pathname)
    const q = url.searchParams
    const watch = q.get('watch') === 'true' || q.get('watch') === '1'
    const authorization = req.headers.authorization
    this.onRequest({ resource, watch, resourceVersion: q.get('resourceVersion') ?? undefined, limit: q.get('limit') ?? undefined, continue: q.get('continue') ?? undefined, authorization })
    if (this.opts.token && authorization !== `Bearer ${this.opts.token}`) return sendJson(res, 401, kubeStatus(401, 'Unauthorized', 'Unauthorized'))
    if (!resource || !this.serves(resource)) return sendJson(res, 404, kubeStatus(404, 'NotFound', 'the server could not find the requested resource'))
    if (req.method !== 'GET') return sendJson(res, 405, kubeStatus(405, 'MethodNotAllowed', 'only GET is served'))
    if (watch) this.openWatch(resource, q, res)
    else this.listPage(resource, q, res)
  }

  private listPage(resource: KubeResource, q: URLSearchParams, res: ServerResponse): void {
    const limit = Math.max(0, Math.floor(Number(q.get('limit') ?? '0')) || 0)
    const token = q.get('continue')
    let page = token ? this.snapshots.get(token) : undefined
    if (token && (!page || page.resource !== resource)) {
      return sendJson(res, 410, kubeStatus(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.'))
    }
    if (token) this.snapshots.delete(token)
    page ??= { resource, rv: this.rv, items: this.sorted(resource), offset: 0 }
    const end = limit > 0 ? Math.min(page.offset + limit, page.items.length) : page.items.length
    const metadata: Record<string, unknown> = { resourceVersion: String(page.rv) }
    if (end < page.items.length) {
      const next = randomUUID()
      this.snapshots.set(next, { ...page, offset: end })
      if (this.snapshots.size > this.opts.maxContinueTokens) this.snapshots.delete(this.snapshots.keys().next().value as string)
      metadata.continue = next
      metadata.remainingItemCount = page.items.length - end
    }
    const { apiVersion, kind } = KUBE_RESOURCES[resource]
    sendJson(res, 200, { kind: `${kind}List`, apiVersion, metadata, items: page.items.slice(page.offset, end) })
  }
}

/** Index of the first event with rv > `from` (events are in rv order). */
function firstAfter(events: ReadonlyArray<{ rv: number }>, from: number): number {
  let lo = 0
  let hi = events.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((events[mid] as { rv: number }).rv > from) hi = mid
    else lo = mid + 1
  }
  return lo
}
