/**
 * A loopback Kubernetes API for tests of what gpuscope changes in a cluster:
 * it serves GET of single objects by their API path, applies JSON merge
 * patches (RFC 7386, `application/merge-patch+json`, with the API server's
 * optimistic concurrency: a patch carrying a stale metadata.resourceVersion
 * answers 409 Conflict), deletes, and records every request. Errors are
 * Kubernetes Status objects; a test can make a path answer a canned status
 * (403, 500, ...) with respondWith. Test-only (lives beside the code it serves, the
 * list+watch fake is test/fakes/kubeApi.ts); binds 127.0.0.1.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { closeServer, listenLoopback } from '../../collector/replay/live/http'
import { kubeStatus } from '../../collector/replay/live/kubeApi'
import type { KubeObject } from '../../alerts/enforcer/kube'

/** One request as the recorder saw it. */
export interface RecordedRequest {
  method: string
  path: string
  contentType: string | undefined
  authorization: string | undefined
  body: unknown
}

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/** RFC 7386 JSON merge patch: objects merge, null removes, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch
  const out: Json = isObject(target) ? { ...target } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = applyMergePatch(out[k], v)
  }
  return out
}

/** The recorder: an object store by path, served over loopback HTTP. */
export class KubeRecorder {
  private readonly objects = new Map<string, KubeObject>()
  private rv = 1000
  private close_: (() => Promise<void>) | undefined
  private readonly canned = new Map<string, { status: number; body: unknown }>()
  /** Every request, in order. */
  readonly requests: RecordedRequest[] = []
  /** Called with each request after it is recorded and before it is served (a test can change the store in between). */
  onRequest: ((r: RecordedRequest) => void) | undefined

  /** Answers `method path` with this status and body (a Kubernetes Status object, or raw text) instead of serving it, until cleared. */
  respondWith(method: string, path: string, status: number, body: unknown): void {
    this.canned.set(`${method} ${path}`, { status, body })
  }

  /** Serves every request again. */
  clearResponses(): void {
    this.canned.clear()
  }

  /** Stores an object at its API path (resourceVersion assigned). */
  put(path: string, obj: KubeObject): void {
    this.objects.set(path, { ...structuredClone(obj), metadata: { ...structuredClone(obj.metadata), resourceVersion: String(++this.rv) } })
  }

  /** A copy of the stored object, or undefined. */
  get(path: string): KubeObject | undefined {
    const o = this.objects.get(path)
    return o && structuredClone(o)
  }

  /** The requests that change something (PATCH, DELETE, POST, PUT), in order. */
  mutations(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET')
  }

  /** Listens on 127.0.0.1 (a free port) and returns the base URL. */
  async start(): Promise<string> {
    const { server, url } = await listenLoopback((req, res) => void this.handle(req, res))
    this.close_ = () => closeServer(server)
    return url
  }

  /** Closes the server. */
  async close(): Promise<void> {
    await this.close_?.()
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
    const method = req.method ?? 'GET'
    let body: unknown
    try {
      body = text === '' ? undefined : JSON.parse(text)
    } catch {
      body = text
    }
    const recorded: RecordedRequest = { method, path, contentType: req.headers['content-type'], authorization: req.headers.authorization, body }
    this.requests.push(recorded)
    this.onRequest?.(recorded)
    const canned = this.canned.get(`${method} ${path}`)
    if (canned) return send(res, canned.status, canned.body)
    const stored = this.objects.get(path)
    if (!stored) return send(res, 404, kubeStatus(404, 'NotFound', `${path} not found`))
    if (method === 'GET') return send(res, 200, stored)
    if (method === 'DELETE') {
      this.objects.delete(path)
      return send(res, 200, kubeStatus(200, 'Success', 'deleted'))
    }
    if (method !== 'PATCH') return send(res, 405, kubeStatus(405, 'MethodNotAllowed', `${method} is not served`))
    if (req.headers['content-type'] !== 'application/merge-patch+json') return send(res, 415, kubeStatus(415, 'UnsupportedMediaType', 'only application/merge-patch+json is served'))
    const want = isObject(body) && isObject(body.metadata) ? body.metadata.resourceVersion : undefined
    if (want !== undefined && want !== stored.metadata.resourceVersion) {
      return send(res, 409, kubeStatus(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again'))
    }
    const next = applyMergePatch(stored, body) as KubeObject
    next.metadata = { ...next.metadata, resourceVersion: String(++this.rv) }
    this.objects.set(path, next)
    send(res, 200, next)
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string'
  res.writeHead(status, { 'content-type': text ? 'text/plain' : 'application/json' })
  res.end(text ? body : JSON.stringify(body))
}
