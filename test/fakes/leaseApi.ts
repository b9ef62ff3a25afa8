import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A loopback Kubernetes API for Leases (coordination.k8s.io/v1), enough for
 * leader election: GET, POST and PUT of
 * `/apis/coordination.k8s.io/v1/namespaces/{ns}/leases[/{name}]`, with the API
 * server's wire format and rules: a resourceVersion that increases with every
 * write (one counter for the store, as etcd's revision), 409 Conflict when a
 * PUT carries a stale resourceVersion or a POST names an existing lease, 404
 * when absent, Status objects for errors.
 *
 * One LeaseStore sits behind several endpoints, each its own HTTP server on
 * 127.0.0.1, one per client: a test "partitions" a client by making its
 * endpoint fail (connections reset) or hang (requests are never answered and
 * never reach the store) while the others still reach the store. The store
 * keeps every write in order, and calls listeners on each, so a test can put
 * the server's view of who holds the lease in its own event log.
 */

const PREFIX = '/apis/coordination.k8s.io/v1/namespaces/'

/** A Lease as stored (JSON as the API server returns it). */
export interface LeaseObject {
  apiVersion: 'coordination.k8s.io/v1'
  kind: 'Lease'
  metadata: { name: string; namespace: string; resourceVersion: string; uid: string; creationTimestamp: string; [k: string]: unknown }
  spec: {
    holderIdentity?: string
    leaseDurationSeconds?: number
    acquireTime?: string
    renewTime?: string
    leaseTransitions?: number
    [k: string]: unknown
  }
}

/** One write the store accepted. */
export interface LeaseWrite {
  op: 'create' | 'update'
  /** The endpoint (client) it came through. */
  via: string
  namespace: string
  name: string
  resourceVersion: string
  holderIdentity: string
  leaseTransitions: number
}

type Answer = { status: number; body: unknown }

function status(code: number, reason: string, message: string, name: string): Answer {
  return {
    status: code,
    body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details: { name, group: 'coordination.k8s.io', kind: 'leases' }, code },
  }
}

/** The leases behind every endpoint. */
export class LeaseStore {
  private revision = 0
  private readonly leases = new Map<string, LeaseObject>()
  private readonly listeners: Array<(w: LeaseWrite) => void> = []
  /** Every accepted write, in order. */
  readonly writes: LeaseWrite[] = []

  /** The stored lease (a copy), or undefined. */
  get(namespace: string, name: string): LeaseObject | undefined {
    const l = this.leases.get(`${namespace}/${name}`)
    return l && structuredClone(l)
  }

  /** Calls `fn` after each accepted write, in order. */
  onWrite(fn: (w: LeaseWrite) => void): void {
    this.listeners.push(fn)
  }

  /** POST: 201, or 409 AlreadyExists. */
  create(namespace: string, body: LeaseObject, via: string): Answer {
    const name = body.metadata?.name ?? ''
    if (!name) return status(422, 'Invalid', 'Lease.coordination.k8s.io "" is invalid: metadata.name: Required value', '')
    if (this.leases.has(`${namespace}/${name}`)) return status(409, 'AlreadyExists', `leases.coordination.k8s.io "${name}" already exists`, name)
    const stored: LeaseObject = {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
      metadata: { name, namespace, uid: randomUUID(), creationTimestamp: new Date().toISOString(), resourceVersion: '' },
      spec: { ...body.spec },
    }
    return { status: 201, body: this.commit('create', stored, via) }
  }

  /** PUT: 200, 404 NotFound, or 409 Conflict when metadata.resourceVersion is set and stale (empty = unconditional, as the API server). */
  replace(namespace: string, name: string, body: LeaseObject, via: string): Answer {
    if (body.metadata?.name !== name) return status(400, 'BadRequest', 'the name of the object does not match the name on the URL', name)
    const cur = this.leases.get(`${namespace}/${name}`)
    if (!cur) return status(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`, name)
    const rv = body.metadata.resourceVersion
    if (rv && rv !== cur.metadata.resourceVersion) {
      return status(409, 'Conflict', `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`, name)
    }
    return { status: 200, body: this.commit('update', { ...cur, metadata: { ...cur.metadata }, spec: { ...body.spec } }, via) }
  }

  private commit(op: LeaseWrite['op'], lease: LeaseObject, via: string): LeaseObject {
    lease.metadata.resourceVersion = String(++this.revision)
    const { namespace, name, resourceVersion } = lease.metadata
    this.leases.set(`${namespace}/${name}`, lease)
    const w: LeaseWrite = { op, via, namespace, name, resourceVersion, holderIdentity: lease.spec.holderIdentity ?? '', leaseTransitions: lease.spec.leaseTransitions ?? 0 }
    this.writes.push(w)
    for (const fn of this.listeners) fn(w)
    return structuredClone(lease)
  }
}

/** One request an endpoint received, and what became of it. */
export interface LeaseRequest {
  method: string
  path: string
  /** HTTP status answered, or 'reset' / 'hung' when the endpoint was partitioned. */
  outcome: number | 'reset' | 'hung'
  authorization: string | undefined
}

/** How an endpoint treats requests: normally, by resetting the connection, or by never answering. */
export type EndpointMode = 'ok' | 'fail' | 'hang'

/** One client's way in: its own HTTP server on 127.0.0.1 in front of the shared store. */
export class LeaseEndpoint {
  private server: Server | undefined
  private readonly parked = new Set<ServerResponse>()
  /** Every request, in order. */
  readonly requests: LeaseRequest[] = []
  mode: EndpointMode = 'ok'
  url = ''

  constructor(
    readonly name: string,
    private readonly store: LeaseStore,
    private readonly token: string | undefined,
  ) {}

  /** Listens on a free 127.0.0.1 port. */
  async start(): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res))
    this.server = server
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    return this.url
  }

  /** Cuts this client off: 'fail' resets its connections, 'hang' leaves its requests unanswered (they never reach the store). */
  partition(mode: Exclude<EndpointMode, 'ok'>): void {
    this.mode = mode
  }

  /** Reconnects the client; requests left hanging are dropped (reset), never applied. */
  heal(): void {
    this.mode = 'ok'
    this.dropParked()
  }

  /** Stops the server and drops every connection. */
  async close(): Promise<void> {
    this.dropParked()
    const s = this.server
    if (!s) return
    s.closeAllConnections()
    await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  private dropParked(): void {
    for (const res of this.parked) res.socket?.destroy()
    this.parked.clear()
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const record: LeaseRequest = { method: req.method ?? 'GET', path, outcome: 0, authorization: req.headers.authorization }
    this.requests.push(record)
    if (this.mode === 'fail') {
      record.outcome = 'reset'
      res.socket?.destroy()
      return
    }
    if (this.mode === 'hang') {
      record.outcome = 'hung'
      this.parked.add(res)
      res.on('close', () => this.parked.delete(res))
      return
    }
    const answer = this.answer(record.method, path, Buffer.concat(chunks).toString('utf8'), req.headers.authorization)
    record.outcome = answer.status
    res.writeHead(answer.status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(answer.body))
  }

  private answer(method: string, path: string, text: string, authorization: string | undefined): Answer {
    if (this.token !== undefined && authorization !== `Bearer ${this.token}`) return status(401, 'Unauthorized', 'Unauthorized', '')
    if (!path.startsWith(PREFIX)) return status(404, 'NotFound', 'the server could not find the requested resource', '')
    const [namespace, leases, name, ...rest] = path.slice(PREFIX.length).split('/').map(decodeURIComponent)
    if (!namespace || leases !== 'leases' || rest.length > 0) return status(404, 'NotFound', 'the server could not find the requested resource', '')
    let body: LeaseObject | undefined
    if (method === 'POST' || method === 'PUT') {
      try {
        body = JSON.parse(text) as LeaseObject
      } catch {
        return status(400, 'BadRequest', 'the request body is not JSON', name ?? '')
      }
    }
    if (method === 'GET' && name) {
      const lease = this.store.get(namespace, name)
      return lease ? { status: 200, body: lease } : status(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`, name)
    }
    if (method === 'POST' && !name && body) return this.store.create(namespace, body, this.name)
    if (method === 'PUT' && name && body) return this.store.replace(namespace, name, body, this.name)
    return status(405, 'MethodNotAllowed', `${method} is not supported here`, name ?? '')
  }
}

/** The fake: one store, and an endpoint per client. */
export class FakeLeaseApi {
  readonly store = new LeaseStore()
  private readonly endpoints: LeaseEndpoint[] = []

  /** `token`: when set, every request must carry `Authorization: Bearer <token>` (else 401). */
  constructor(private readonly opts: { token?: string } = {}) {}

  /** A new endpoint on its own port for the client `name`. */
  async endpoint(name: string): Promise<LeaseEndpoint> {
    const e = new LeaseEndpoint(name, this.store, this.opts.token)
    await e.start()
    this.endpoints.push(e)
    return e
  }

  /** Closes every endpoint. */
  async close(): Promise<void> {
    await Promise.all(this.endpoints.map((e) => e.close()))
  }
}
