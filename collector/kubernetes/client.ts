/**
 * The Kubernetes API as the collector uses it: a KubeConfig built from the
 * cluster's config (server + token, kubeconfig file + context, or the
 * in-cluster service account), JSON GETs for lists, and the library's Watch
 * for watch streams. Nothing here logs, so the token cannot leak into logs.
 */
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http'
import { request as httpsRequest, type RequestOptions } from 'node:https'
import type { KubeConfig } from '@kubernetes/client-node'
import type { KubernetesClusterConfig } from '../../config/kubernetes'
import { ConfigError, UpstreamError } from '../../core/errors'
import type { KubeStatus } from './types'

/** A failed Kubernetes API call; statusCode is the HTTP status (or the watch ERROR event's code) when there was one. */
export class KubeApiError extends UpstreamError {
  constructor(
    message: string,
    readonly statusCode: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** Receives one watch event: its type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) and object. */
export type WatchCallback = (type: string, object: unknown) => void

/** The three calls the collector makes on one cluster's API server. */
export interface KubeApi {
  /** Server URL (no credentials). */
  readonly server: string
  /** GETs a JSON document; rejects with a KubeApiError. */
  getJson<T>(path: string, query: Record<string, string>, signal?: AbortSignal): Promise<T>
  /** Starts a watch; `done` is called once when it ends (null after a clean close). Resolves to a handle that aborts it. */
  watch(path: string, query: Record<string, string>, onEvent: WatchCallback, done: (err: unknown) => void): Promise<AbortController>
}

/** The HTTP status of an error from a list, a watch or a watch ERROR event; undefined for network errors. */
export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const e = err as { statusCode?: unknown; code?: unknown }
  if (typeof e.statusCode === 'number') return e.statusCode
  return typeof e.code === 'number' ? e.code : undefined
}

function configError(cluster: KubernetesClusterConfig, message: string): ConfigError {
  return new ConfigError([{ path: `collector.kubernetes.clusters(${cluster.name})`, message }])
}

/**
 * Builds the KubeConfig for one cluster: a kubeconfig file (and context) when
 * given, else `server` + `token`, else the in-cluster service account. An
 * explicit server, token or insecureSkipTlsVerify overrides the kubeconfig's.
 */
export async function loadKubeConfig(cluster: KubernetesClusterConfig): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node')
  const kc = new KubeConfig()
  const server = cluster.server.replace(/\/+$/, '')
  if (cluster.kubeconfig) {
    kc.loadFromFile(cluster.kubeconfig)
    if (cluster.context) {
      if (!kc.getContextObject(cluster.context)) throw configError(cluster, `context '${cluster.context}' is not in ${cluster.kubeconfig}`)
      kc.setCurrentContext(cluster.context)
    }
  } else if (server) {
    kc.loadFromClusterAndUser(
      { name: cluster.name, server, skipTLSVerify: cluster.insecureSkipTlsVerify },
      cluster.token ? { name: 'gpuscope', token: cluster.token } : { name: 'gpuscope' },
    )
  } else {
    kc.loadFromCluster()
  }
  if (cluster.kubeconfig && (server || cluster.token || cluster.insecureSkipTlsVerify)) overrideCurrent(kc, cluster, server)
  const current = kc.getCurrentCluster()
  if (!current?.server || /\/\/undefined\b/.test(current.server)) {
    throw configError(cluster, 'no API server: set kubeconfig or server, or run in a pod with a service account')
  }
  return kc
}

function overrideCurrent(kc: KubeConfig, cluster: KubernetesClusterConfig, server: string): void {
  const ctx = kc.getContextObject(kc.getCurrentContext())
  if (!ctx) throw configError(cluster, `kubeconfig ${cluster.kubeconfig} has no current context`)
  kc.loadFromOptions({
    clusters: kc.clusters.map((c) =>
      c.name === ctx.cluster ? { ...c, server: server || c.server, skipTLSVerify: c.skipTLSVerify || cluster.insecureSkipTlsVerify } : c,
    ),
    users: kc.users.map((u) => (u.name === ctx.user && cluster.token ? { ...u, token: cluster.token } : u)),
    contexts: kc.contexts,
    currentContext: kc.getCurrentContext(),
  })
}

function statusError(status: number | undefined, body: string, path: string): KubeApiError {
  let message = ''
  try {
    message = (JSON.parse(body) as KubeStatus).message ?? ''
  } catch {
    message = body.slice(0, 200)
  }
  return new KubeApiError(`GET ${path}: HTTP ${status ?? '?'}${message ? `: ${message}` : ''}`, status)
}

/** Connects the three calls to one cluster (no request is made until the first call). */
export async function connectKubeApi(cluster: KubernetesClusterConfig, requestTimeoutMs = 60_000): Promise<KubeApi> {
  const kc = await loadKubeConfig(cluster)
  const { Watch } = await import('@kubernetes/client-node')
  const watcher = new Watch(kc)
  const server = (kc.getCurrentCluster()?.server ?? '').replace(/\/+$/, '')
  return {
    server,
    getJson: async <T>(path: string, query: Record<string, string>, signal?: AbortSignal) => {
      const url = new URL(server + path)
      for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v)
      const opts: RequestOptions = {}
      // Applied per call: exec and token-file credentials rotate.
      await kc.applyToHTTPSOptions(opts)
      return getJson<T>(url, opts, path, requestTimeoutMs, signal)
    },
    watch: (path, query, onEvent, done) => watcher.watch(path, query, (type, object) => onEvent(type, object), done),
  }
}

function getJson<T>(url: URL, opts: RequestOptions, path: string, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest
  const headers: OutgoingHttpHeaders = { ...(opts.headers as OutgoingHttpHeaders | undefined), accept: 'application/json' }
  return new Promise<T>((resolve, reject) => {
    const req = send(url, { method: 'GET', agent: opts.agent, auth: opts.auth, headers, signal, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', (err) => reject(new KubeApiError(`GET ${path} failed: ${err.message}`, undefined, { cause: err })))
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        if (res.statusCode !== 200) return reject(statusError(res.statusCode, body, path))
        try {
          resolve(JSON.parse(body) as T)
        } catch (err) {
          reject(new KubeApiError(`GET ${path}: the answer is not JSON`, undefined, { cause: err }))
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', (err) => reject(new KubeApiError(`GET ${path} failed: ${err.message}`, undefined, { cause: err })))
    req.end()
  })
}
