/**
 * The scheduler hook: a Kubernetes mutating admission webhook for pods
 * (`POST /hooks/admission/pods`, or `/hooks/admission/pods/<cluster>` when one
 * gpuscope serves several clusters), AdmissionReview v1. While a burst pool of
 * the cluster is bursting (burst/status.ts: a performed scale-out), a new GPU
 * pod gets the toleration of the (tainted) burst nodes and a preferred node
 * affinity for the on-prem pools, so it lands in the cloud only when on-prem
 * is full; otherwise it is admitted unchanged and stays on-prem (it does not
 * tolerate the burst taint). Fails open: any error, or no answer within
 * timeoutMs, admits the pod unchanged. Served on the API port over plain HTTP
 * for local use, and over HTTPS on its own port when a certificate is
 * configured.
 */
import { readFileSync } from 'node:fs'
import { createServer as createHttpsServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler, type Response } from 'express'
import type { AdmissionConfig } from '../config/alerts'
import type { Config } from '../config/schema'
import type { Logger, QueryFn } from '../core/ports'
import { burstStates, type PoolBurstState } from './burst/status'

/** One RFC 6902 JSON Patch operation. */
export interface JsonPatchOp {
  op: 'add'
  path: string
  value: unknown
}

/** What the hook needs (the API's route deps fit). */
export interface AdmissionDeps {
  config: Config
  query: QueryFn
  logger: Logger
  now: () => number
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : [])

/** Whether a pod requests (or limits) a resource with one of the GPU prefixes, in any container or init container. */
export function isGpuPod(pod: Obj, prefixes: readonly string[]): boolean {
  const spec = isObj(pod.spec) ? pod.spec : {}
  return [...list(spec.containers), ...list(spec.initContainers)].some((c) => {
    const r = isObj(c.resources) ? c.resources : {}
    return [r.requests, r.limits].some((m) => isObj(m) && Object.keys(m).some((k) => prefixes.some((p) => k.startsWith(p))))
  })
}

/**
 * The JSON Patch that admits a pod to the burst pool: the toleration (unless
 * it already has it) and a preferred affinity (weight 100) for the on-prem
 * pools, each added at the first level that is missing. Empty when nothing
 * needs to change.
 */
export function burstPatch(pod: Obj, cfg: AdmissionConfig, onPremPools: readonly string[]): JsonPatchOp[] {
  const spec = isObj(pod.spec) ? pod.spec : {}
  const t = cfg.toleration
  const toleration = { key: t.key, operator: t.operator, ...(t.operator === 'Equal' ? { value: t.value } : {}), effect: t.effect }
  const tolerations = list(spec.tolerations)
  if (tolerations.some((x) => x.key === t.key && (x.effect === undefined || x.effect === t.effect))) return []
  const ops: JsonPatchOp[] = [Array.isArray(spec.tolerations) ? { op: 'add', path: '/spec/tolerations/-', value: toleration } : { op: 'add', path: '/spec/tolerations', value: [toleration] }]
  const term = { weight: 100, preference: { matchExpressions: [{ key: cfg.poolLabel, operator: 'In', values: [...onPremPools] }] } }
  const affinity = isObj(spec.affinity) ? spec.affinity : undefined
  const nodeAffinity = affinity && isObj(affinity.nodeAffinity) ? affinity.nodeAffinity : undefined
  if (!affinity) ops.push({ op: 'add', path: '/spec/affinity', value: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [term] } } })
  else if (!nodeAffinity) ops.push({ op: 'add', path: '/spec/affinity/nodeAffinity', value: { preferredDuringSchedulingIgnoredDuringExecution: [term] } })
  else if (!Array.isArray(nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution)) ops.push({ op: 'add', path: '/spec/affinity/nodeAffinity/preferredDuringSchedulingIgnoredDuringExecution', value: [term] })
  else ops.push({ op: 'add', path: '/spec/affinity/nodeAffinity/preferredDuringSchedulingIgnoredDuringExecution/-', value: term })
  return ops
}

/** An AdmissionReview v1 answer: allowed, with a base64 JSON Patch when there is one. */
export function reviewResponse(uid: string, patch: readonly JsonPatchOp[] = []): Obj {
  const response: Obj = { uid, allowed: true }
  if (patch.length) Object.assign(response, { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') })
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }
}

/** Reads the burst states at most once per cacheMs (the hook is on the pod-creation path). */
export function cachedBurstStates(query: QueryFn, cacheMs: number, now: () => number): () => Promise<PoolBurstState[]> {
  let cached: { atMs: number; states: Promise<PoolBurstState[]> } | undefined
  return () => {
    const t = now()
    if (!cached || t - cached.atMs >= cacheMs) {
      const states = burstStates(query)
      cached = { atMs: t, states }
      states.catch(() => {
        if (cached?.states === states) cached = undefined
      })
    }
    return cached.states
  }
}

/** Decides the patch for one review; throws on anything unexpected (the handler fails open). */
async function decide(review: Obj, cluster: string | undefined, deps: AdmissionDeps, states: () => Promise<PoolBurstState[]>): Promise<JsonPatchOp[]> {
  const cfg = deps.config.alerts.admission
  const req = isObj(review.request) ? review.request : {}
  const kind = isObj(req.kind) ? req.kind.kind : undefined
  if (!cfg.enabled || req.operation !== 'CREATE' || kind !== 'Pod' || !isObj(req.object)) return []
  if (!isGpuPod(req.object, cfg.gpuResourcePrefixes)) return []
  const pools = deps.config.alerts.burst.pools.filter((p) => cluster === undefined || p.cluster === cluster)
  const active = (await states()).filter((s) => s.active && pools.some((p) => p.cluster === s.cluster && p.pool === s.pool))
  if (active.length === 0) return []
  return burstPatch(req.object, cfg, [...new Set(active.map((s) => s.pool))])
}

/** The review in a request body (raw bytes, or JSON parsed by an earlier parser); an empty object when it is not JSON. */
function reviewOf(body: unknown): Obj {
  if (isObj(body) && !Buffer.isBuffer(body)) return body
  try {
    const parsed: unknown = JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : String(body))
    return isObj(parsed) ? parsed : {}
  } catch {
    return {}
  }
}

/** The express handler (raw or JSON body); always answers 200 with an AdmissionReview, even to a body that is not one. */
export function admissionHandler(deps: AdmissionDeps): RequestHandler {
  const cfg = deps.config.alerts.admission
  const states = cachedBurstStates(deps.query, cfg.cacheMs, deps.now)
  return async (req: Request, res: Response) => {
    const review = reviewOf(req.body)
    const uid = isObj(review.request) && typeof review.request.uid === 'string' ? review.request.uid : ''
    const cluster = typeof req.params.cluster === 'string' ? req.params.cluster : undefined
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), cfg.timeoutMs)))
    let patch: JsonPatchOp[] = []
    try {
      const r = await Promise.race([decide(review, cluster, deps, states), timeout])
      if (r === 'timeout') deps.logger.warn({ uid, timeoutMs: cfg.timeoutMs }, 'admission: no decision in time, pod admitted unchanged')
      else patch = r
    } catch (err) {
      deps.logger.warn({ uid, err: (err as Error).message }, 'admission: failed, pod admitted unchanged')
    } finally {
      clearTimeout(timer)
    }
    res.status(200).json(reviewResponse(uid, patch))
  }
}

/** The hook's paths. */
export const ADMISSION_PATHS = ['/hooks/admission/pods', '/hooks/admission/pods/:cluster'] as const

/** Mounts the hook on an app (outside /api/v1 and its auth: the API server authenticates by TLS), with its own raw body reader (a bad body still gets an answer). */
export function registerAdmissionHook(app: Express, deps: AdmissionDeps): void {
  const parse = express.raw({ limit: '4mb', type: () => true })
  const handler = admissionHandler(deps)
  // A body the reader refuses (too large) is still answered: allowed, unchanged.
  const failOpen: ErrorRequestHandler = (err: Error, _req, res, _next) => {
    deps.logger.warn({ err: err.message }, 'admission: unreadable request, pod admitted unchanged')
    res.status(200).json(reviewResponse(''))
  }
  for (const path of ADMISSION_PATHS) app.post(path, parse, handler, failOpen)
}

/** Serves the hook alone over HTTPS when alerts.admission.tls names a certificate and key; undefined otherwise. */
export async function startAdmissionTls(deps: AdmissionDeps): Promise<{ port: number; close: () => Promise<void> } | undefined> {
  const tls = deps.config.alerts.admission.tls
  if (!tls.certFile) return undefined
  const app = express()
  app.disable('x-powered-by')
  registerAdmissionHook(app, deps)
  const server: Server = createHttpsServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, app)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(tls.port, tls.host, () => resolve())
  })
  deps.logger.info({ host: tls.host, port: (server.address() as AddressInfo).port }, 'admission hook listening (TLS)')
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}
