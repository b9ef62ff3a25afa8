/**
 * The elector's LeaseApi over @kubernetes/client-node's CoordinationV1Api:
 * read, create and replace one namespaced Lease, with 404 and 409 mapped to
 * typed results and every other failure to a KubeApiError. The KubeConfig is
 * built as the collector builds it (collector/kubernetes/client.ts:
 * kubeconfig file and context, else the in-cluster service account), and the
 * library's authentication is applied to every request, so rotating tokens
 * keep working.
 *
 * The library's default HTTP layer (node-fetch) takes no timeout and no abort
 * signal, so requests go through a small node:http(s) layer of ours that
 * honours both: the elector must be able to give up on a hung request.
 * Nothing here logs, and error messages carry the operation, the lease and
 * the API server's Status message only, never a header.
 */
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { hostname } from 'node:os'
import type { CoordinationV1Api, RequestContext, ResponseContext, V1Lease } from '@kubernetes/client-node'
import { KubeApiError, loadKubeConfig } from '../../collector/kubernetes/client'
import type { LeaderElectionConfig } from '../../config/leader'
import { ConfigError } from '../../core/errors'
import type { LeaseApi, LeaseRecord, LeaseWriteResult, ObservedLease } from './lease'

type K8s = typeof import('@kubernetes/client-node')

/** This replica's default holderIdentity: hostname (a pod's name) and pid. */
export function defaultLeaderIdentity(): string {
  return `${hostname()}_${process.pid}`
}

/** The holderIdentity a config asks for: its `identity`, else the default. */
export function leaderIdentity(config: Pick<LeaderElectionConfig, 'identity'>): string {
  return config.identity || defaultLeaderIdentity()
}

const toMs = (t: unknown): number | undefined => {
  // The library types MicroTime as a Date but hands the JSON string through on reads.
  if (t === undefined || t === null) return undefined
  const ms = t instanceof Date ? t.getTime() : Date.parse(String(t))
  return Number.isFinite(ms) ? ms : undefined
}

/** A V1Lease as the elector sees it. */
export function observedLease(lease: V1Lease): ObservedLease {
  const spec = lease.spec ?? {}
  return {
    resourceVersion: lease.metadata?.resourceVersion ?? '',
    record: {
      holderIdentity: spec.holderIdentity ?? '',
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTimeMs: toMs(spec.acquireTime),
      renewTimeMs: toMs(spec.renewTime),
      leaseTransitions: spec.leaseTransitions ?? 0,
    },
  }
}

function leaseBody(k8s: K8s, namespace: string, name: string, r: LeaseRecord, resourceVersion?: string): V1Lease {
  const micro = (ms: number | undefined) => (ms === undefined ? undefined : new k8s.V1MicroTime(ms))
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: resourceVersion === undefined ? { name, namespace } : { name, namespace, resourceVersion },
    spec: {
      holderIdentity: r.holderIdentity || undefined,
      leaseDurationSeconds: r.leaseDurationSeconds,
      acquireTime: micro(r.acquireTimeMs),
      renewTime: micro(r.renewTimeMs),
      leaseTransitions: r.leaseTransitions,
    },
  }
}

/** The HTTP status of a failed library call; undefined for transport errors. */
function statusOf(k8s: K8s, err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? (err as InstanceType<K8s['ApiException']>).code : undefined
}

function apiError(k8s: K8s, err: unknown, what: string): KubeApiError {
  const code = statusOf(k8s, err)
  if (code === undefined) return new KubeApiError(`${what} failed: ${(err as Error).message}`, undefined, { cause: err })
  let message = ''
  const body = (err as { body?: unknown }).body
  try {
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: unknown } | undefined
    if (typeof status?.message === 'string') message = status.message
  } catch {
    message = typeof body === 'string' ? body.slice(0, 200) : ''
  }
  // Only the status and the server's message: the library's own message embeds the response headers.
  return new KubeApiError(`${what}: HTTP ${code}${message ? `: ${message}` : ''}`, code)
}

const flatHeaders = (h: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(Object.entries(h).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v.join(', ') : v]])))

/** Sends one library request over node:http(s) with the library's agent (TLS, CA, client certs), a timeout and an abort signal. */
function send(k8s: K8s, ctx: RequestContext, timeoutMs: number, signal: AbortSignal): Promise<ResponseContext> {
  const url = new URL(ctx.getUrl())
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest
  const body = ctx.getBody()
  if (body !== undefined && typeof body !== 'string') return Promise.reject(new Error('only JSON request bodies are supported'))
  const headers: OutgoingHttpHeaders = { ...ctx.getHeaders(), accept: 'application/json' }
  if (body !== undefined) headers['content-length'] = Buffer.byteLength(body)
  return new Promise<ResponseContext>((resolve, reject) => {
    const req = request(url, { method: ctx.getHttpMethod(), headers, agent: ctx.getAgent(), signal, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const data = Buffer.concat(chunks)
        resolve(new k8s.ResponseContext(res.statusCode ?? 0, flatHeaders(res.headers), { text: async () => data.toString('utf8'), binary: async () => data }))
      })
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end(body)
  })
}

/** Options of the Lease adapter. */
export interface LeaseApiOptions {
  /** Upper bound of one request (the elector's own, shorter, per-attempt signal usually ends it first). */
  requestTimeoutMs?: number
}

/** Builds the LeaseApi over a CoordinationV1Api bound to the current cluster of `kc`. */
export async function leaseApiFor(kc: import('@kubernetes/client-node').KubeConfig, options: LeaseApiOptions = {}): Promise<LeaseApi> {
  const k8s = await import('@kubernetes/client-node')
  const timeoutMs = options.requestTimeoutMs ?? 30_000
  const server = kc.getCurrentCluster()?.server
  if (!server) throw new ConfigError([{ path: 'leaderElection', message: 'the kubeconfig has no current cluster' }])
  const baseServer = new k8s.ServerConfiguration(server.replace(/\/+$/, ''), {})
  // One client per call: the library's per-call options do not reach its HTTP layer, and the signal must.
  const apiFor = (signal: AbortSignal): CoordinationV1Api =>
    new k8s.CoordinationV1Api(
      k8s.createConfiguration({
        baseServer,
        authMethods: { default: kc },
        httpApi: k8s.wrapHttpLibrary({ send: (ctx) => send(k8s, ctx, timeoutMs, signal) }),
      }),
    )
  const write = async (what: string, call: () => Promise<V1Lease>): Promise<LeaseWriteResult> => {
    try {
      return { status: 'ok', lease: observedLease(await call()) }
    } catch (err) {
      const code = statusOf(k8s, err)
      if (code === 409) return { status: 'conflict' }
      if (code === 404) return { status: 'notFound' }
      throw apiError(k8s, err, what)
    }
  }
  return {
    get: async (namespace, name, signal) => {
      try {
        return observedLease(await apiFor(signal).readNamespacedLease({ namespace, name }))
      } catch (err) {
        if (statusOf(k8s, err) === 404) return undefined
        throw apiError(k8s, err, `GET lease ${namespace}/${name}`)
      }
    },
    create: (namespace, name, record, signal) =>
      write(`POST lease ${namespace}/${name}`, () => apiFor(signal).createNamespacedLease({ namespace, body: leaseBody(k8s, namespace, name, record) })),
    update: (namespace, name, record, resourceVersion, signal) =>
      write(`PUT lease ${namespace}/${name}`, () =>
        apiFor(signal).replaceNamespacedLease({ namespace, name, body: leaseBody(k8s, namespace, name, record, resourceVersion) }),
      ),
  }
}

/** Connects the LeaseApi from the leader election config: its kubeconfig and context, else the in-cluster service account. */
export async function connectLeaseApi(config: Pick<LeaderElectionConfig, 'kubeconfig' | 'context'>, options: LeaseApiOptions = {}): Promise<LeaseApi> {
  try {
    const kc = await loadKubeConfig({
      name: 'leader-election', kubeconfig: config.kubeconfig, context: config.context, server: '', token: '',
      insecureSkipTlsVerify: false, defaultProvider: 'onprem', defaultGpuModel: '',
    })
    return await leaseApiFor(kc, options)
  } catch (err) {
    // loadKubeConfig names the collector's cluster list; say which setting it is here.
    if (err instanceof ConfigError) throw new ConfigError(err.issues.map((i) => ({ path: 'leaderElection', message: i.message })))
    throw err
  }
}
