/**
 * The few Kubernetes writes the enforcer makes, behind a small port: GET one
 * object, PATCH it (JSON merge patch), DELETE it. Requests are authenticated
 * from the same KubeConfig the collector builds (collector/kubernetes/client.ts
 * loadKubeConfig), applied per call so rotating credentials keep working.
 * Nothing here logs, and error messages carry the method, path and the API
 * server's Status message only, never a header, so a token cannot leak.
 */
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http'
import { request as httpsRequest, type RequestOptions } from 'node:https'
import { loadKubeConfig, KubeApiError } from '../../collector/kubernetes/client'
import type { KubernetesClusterConfig } from '../../config/kubernetes'

/** A Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion?: string
  kind?: string
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown }
  spec?: Record<string, unknown>
  [k: string]: unknown
}

/** GET, merge-PATCH and DELETE of single objects on one cluster's API server. */
export interface KubeActuator {
  /** The object at `path`, or undefined when the API answers 404. */
  get(path: string): Promise<KubeObject | undefined>
  /** Applies a JSON merge patch (RFC 7386) and returns the stored object; a stale metadata.resourceVersion answers 409. */
  mergePatch(path: string, patch: unknown): Promise<KubeObject>
  /** Deletes the object (404 counts as done). */
  delete(path: string): Promise<void>
}

/** Finds the actuator of a cluster by name; undefined when gpuscope has no credentials for it. */
export type KubeActuators = (cluster: string) => Promise<KubeActuator | undefined>

/** Builds one actuator per configured cluster, lazily on first use, from the collector's cluster list. */
export function kubeActuatorsFrom(clusters: readonly KubernetesClusterConfig[], timeoutMs: number): KubeActuators {
  const cache = new Map<string, Promise<KubeActuator>>()
  return async (name) => {
    const cluster = clusters.find((c) => c.name === name)
    if (!cluster) return undefined
    let a = cache.get(name)
    if (!a) cache.set(name, (a = connectActuator(cluster, timeoutMs)))
    return a
  }
}

/** Connects the actuator to one cluster (no request is made until the first call). */
export async function connectActuator(cluster: KubernetesClusterConfig, timeoutMs: number): Promise<KubeActuator> {
  const kc = await loadKubeConfig(cluster)
  const server = (kc.getCurrentCluster()?.server ?? '').replace(/\/+$/, '')
  const call = async (method: string, path: string, body?: { type: string; value: unknown }) => {
    const opts: RequestOptions = {}
    await kc.applyToHTTPSOptions(opts)
    return send(new URL(server + path), method, path, opts, timeoutMs, body)
  }
  return {
    get: async (path) => {
      const r = await call('GET', path)
      if (r.status === 404) return undefined
      return expectOk(r, 'GET', path)
    },
    mergePatch: async (path, patch) => expectOk(await call('PATCH', path, { type: 'application/merge-patch+json', value: patch }), 'PATCH', path),
    delete: async (path) => {
      const r = await call('DELETE', path)
      if (r.status !== 404) expectOk(r, 'DELETE', path)
    },
  }
}

interface Answer {
  status: number
  body: string
}

function expectOk(r: Answer, method: string, path: string): KubeObject {
  if (r.status < 200 || r.status >= 300) {
    let message = ''
    try {
      message = (JSON.parse(r.body) as { message?: string }).message ?? ''
    } catch {
      message = r.body.slice(0, 200)
    }
    throw new KubeApiError(`${method} ${path}: HTTP ${r.status}${message ? `: ${message}` : ''}`, r.status)
  }
  try {
    return JSON.parse(r.body) as KubeObject
  } catch (err) {
    throw new KubeApiError(`${method} ${path}: the answer is not JSON`, r.status, { cause: err })
  }
}

function send(url: URL, method: string, path: string, opts: RequestOptions, timeoutMs: number, body?: { type: string; value: unknown }): Promise<Answer> {
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest
  const payload = body ? JSON.stringify(body.value) : undefined
  const headers: OutgoingHttpHeaders = { ...(opts.headers as OutgoingHttpHeaders | undefined), accept: 'application/json' }
  if (body && payload !== undefined) Object.assign(headers, { 'content-type': body.type, 'content-length': Buffer.byteLength(payload) })
  return new Promise<Answer>((resolve, reject) => {
    const req = request(url, { method, agent: opts.agent, auth: opts.auth, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', (err) => reject(new KubeApiError(`${method} ${path} failed: ${err.message}`, undefined, { cause: err })))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', (err) => reject(new KubeApiError(`${method} ${path} failed: ${err.message}`, undefined, { cause: err })))
    req.end(payload)
  })
}
