/**
 * Burst actions: set a cloud target's size. Three adapters: a generic webhook
 * (JSON POST, signed with HMAC-SHA256 over `<timestamp>.<body>` in
 * `X-Gpuscope-Signature: sha256=<hex>`, the time in `X-Gpuscope-Timestamp`,
 * so a receiver can reject replays), AWS Auto Scaling SetDesiredCapacity
 * (`@aws-sdk/client-auto-scaling`, endpoint configurable), and a Kubernetes
 * patch of one object's size field (a Karpenter NodePool limit, a Cluster API
 * MachineDeployment's replicas) through the enforcer's Kubernetes writer.
 * Errors name the target and the failure, never a URL, key, token or secret.
 */
import { createHmac } from 'node:crypto'
import { AutoScalingClient, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling'
import { parseFieldPath, type BurstTargetConfig } from '../../config/alerts'
import { ConflictError, UpstreamError } from '../../core/errors'
import { scrub } from '../audit'
import { kubeActuatorsFrom, type KubeActuators, type KubeObject } from '../enforcer/kube'
import type { AlertsDeps } from '../evaluate'
import type { ScaleChange } from './policy'

/** What a scaling request says, beside the change itself. */
export interface ScaleContext {
  cluster: string
  pool: string
  action: 'scale-out' | 'scale-in'
  reasons: readonly string[]
  atMs: number
}

/** Sets one target's size; resolves to a note for the audit log. */
export type ScaleAdapter = (change: ScaleChange, ctx: ScaleContext) => Promise<string>

/** The webhook signature of a body at a timestamp. */
export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

/** A webhook adapter: POSTs the change as JSON and expects a 2xx. */
export function webhookAdapter(t: Extract<BurstTargetConfig['adapter'], { type: 'webhook' }>, target: BurstTargetConfig): ScaleAdapter {
  return async (change, ctx) => {
    const body = JSON.stringify({ ...ctx, ...change, provider: target.provider, lifecycle: target.lifecycle, targetPool: target.pool })
    const timestamp = String(ctx.atMs)
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-gpuscope-timestamp': timestamp }
    if (t.signingSecret) headers['x-gpuscope-signature'] = signBody(t.signingSecret, timestamp, body)
    let status: number
    try {
      const res = await fetch(t.webhookUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(t.timeoutMs), redirect: 'error' })
      status = res.status
      await res.arrayBuffer()
    } catch (err) {
      throw new UpstreamError(scrub(`burst webhook for ${target.name} failed: ${(err as Error).message}`, [t.webhookUrl, t.signingSecret]))
    }
    if (status < 200 || status >= 300) throw new UpstreamError(`burst webhook for ${target.name} answered HTTP ${status}`)
    return `webhook accepted ${change.toNodes} node(s) for ${target.name}`
  }
}

/** An AWS Auto Scaling adapter: SetDesiredCapacity of the group to the new node count (HonorCooldown false: the policy has its own). */
export function awsAsgAdapter(a: Extract<BurstTargetConfig['adapter'], { type: 'aws-asg' }>, target: BurstTargetConfig): ScaleAdapter {
  const client = new AutoScalingClient({
    region: a.region,
    maxAttempts: a.maxAttempts,
    ...(a.endpoint ? { endpoint: a.endpoint } : {}),
    ...(a.accessKeyId ? { credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey } } : {}),
  })
  return async (change) => {
    try {
      await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: a.autoScalingGroupName, DesiredCapacity: change.toNodes, HonorCooldown: false }))
    } catch (err) {
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } }
      const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : ''
      throw new UpstreamError(scrub(`SetDesiredCapacity ${a.autoScalingGroupName} for ${target.name} failed: ${e.name ?? 'Error'}: ${e.message ?? ''}${status}`, [a.secretAccessKey, a.accessKeyId]))
    }
    return `SetDesiredCapacity ${a.autoScalingGroupName} = ${change.toNodes}`
  }
}

type KubePatchConfig = Extract<BurstTargetConfig['adapter'], { type: 'kubernetes-patch' }>

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/
const SUFFIX: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 }

/** The number a field holds: a JSON number, or a Kubernetes quantity string (`16`, `1.5k`, `500m`, `1e3`); undefined for anything else. */
export function quantityValue(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined
  if (typeof v !== 'string') return undefined
  const m = QUANTITY.exec(v.trim())
  if (!m) return undefined
  const n = Number(m[1]) * (m[2] ? 10 ** Number(m[2].slice(1)) : SUFFIX[m[3] ?? ''] ?? 1)
  return Number.isFinite(n) ? n : undefined
}

/** The value at a key path of an object (own properties only), or undefined. */
export function fieldAt(obj: unknown, keys: readonly string[]): unknown {
  let cur: unknown = obj
  for (const k of keys) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, k)) return undefined
    cur = (cur as Record<string, unknown>)[k]
  }
  return cur
}

/**
 * The JSON merge patch that sets one field and, when known, pins the
 * resourceVersion that was read, so the API server refuses it (409) if the
 * object changed in between: the check of the current value and the write
 * are one compare-and-set.
 */
export function sizeMergePatch(keys: readonly string[], value: number | string, resourceVersion: string | undefined): Record<string, unknown> {
  const patch: Record<string, unknown> = {}
  let at = patch
  keys.forEach((k, i) => {
    if (i === keys.length - 1) at[k] = value
    else at = (at[k] ??= {}) as Record<string, unknown>
  })
  if (resourceVersion) ((patch.metadata ??= {}) as Record<string, unknown>).resourceVersion = resourceVersion
  return patch
}

const near = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9
const shown = (v: unknown): string => (v === undefined ? '(unset)' : JSON.stringify(v))
const noBearer = (text: string): string => text.replace(/(bearer\s+)\S+/gi, '$1<redacted>')

/**
 * A Kubernetes patch adapter: sets `field` of the object at `apiPath` to the
 * target's new GPU or node count. It first GETs the object and requires the
 * field to hold the size the decision starts from (`fromGpus`/`fromNodes`),
 * because a different value means someone else changed the size and writing
 * over it would silently undo their change: it then refuses and writes
 * nothing. A field already at the new size is an idempotent retry: done, not
 * patched. An unset field is refused too (for a Karpenter limit it means
 * "unlimited": set it to the current size to hand the object to gpuscope).
 * The patch pins the resourceVersion read (a change in between answers 409),
 * and the stored object must show the new value (a structural CRD silently
 * prunes an unknown field).
 */
export function kubePatchAdapter(k: KubePatchConfig, target: BurstTargetConfig, actuators: KubeActuators): ScaleAdapter {
  const keys = parseFieldPath(k.field)
  return async (change, ctx) => {
    const cluster = k.cluster || ctx.cluster
    const where = `${k.apiPath} on cluster ${cluster}`
    const fail = (what: string, err: unknown): UpstreamError => {
      const status = (err as { statusCode?: number }).statusCode
      const hint = status === 409 ? ' (the object changed after it was read; the next evaluation retries)' : status === 403 ? ' (gpuscope\'s service account needs get and patch on it)' : ''
      return new UpstreamError(noBearer(`kubernetes-patch for ${target.name}: ${what} ${where} failed: ${(err as Error).message}${hint}`), { cause: err })
    }
    const actuator = await actuators(cluster)
    if (!actuator) throw new UpstreamError(`kubernetes-patch for ${target.name}: no credentials for cluster ${cluster} (collector.kubernetes.clusters)`)
    const [from, to] = k.value === 'gpus' ? [change.fromGpus, change.toGpus] : [change.fromNodes, change.toNodes]
    let obj: KubeObject | undefined
    try {
      obj = await actuator.get(k.apiPath)
    } catch (err) {
      throw fail('GET', err)
    }
    if (!obj) throw new UpstreamError(`kubernetes-patch for ${target.name}: ${where} does not exist (HTTP 404)`)
    const current = fieldAt(obj, keys)
    const currentValue = quantityValue(current)
    if (currentValue !== undefined && near(currentValue, to)) return `${where}: ${k.field} is already ${shown(current)}, not patched`
    if (currentValue === undefined || !near(currentValue, from)) {
      throw new ConflictError(`kubernetes-patch for ${target.name}: refused, ${where} has ${k.field} = ${shown(current)} but the decision starts from ${from} ${k.value} (changed outside gpuscope?); nothing written`)
    }
    const value = k.format === 'string' ? String(Number(to.toFixed(6))) : to
    let stored: KubeObject
    try {
      stored = await actuator.mergePatch(k.apiPath, sizeMergePatch(keys, value, obj.metadata.resourceVersion))
    } catch (err) {
      throw fail('PATCH', err)
    }
    const kept = quantityValue(fieldAt(stored, keys))
    if (kept === undefined || !near(kept, to)) {
      throw new UpstreamError(`kubernetes-patch for ${target.name}: PATCH ${where} answered without ${k.field} = ${shown(value)} (now ${shown(fieldAt(stored, keys))}): is the field in the object's schema?`)
    }
    return `patched ${where}: ${k.field} ${shown(current)} -> ${shown(value)}`
  }
}

/** The adapter of a target; a Kubernetes patch needs the cluster writers (burstAdapters passes them). */
export function adapterFor(target: BurstTargetConfig, actuators?: KubeActuators): ScaleAdapter {
  const a = target.adapter
  switch (a.type) {
    case 'webhook':
      return webhookAdapter(a, target)
    case 'aws-asg':
      return awsAsgAdapter(a, target)
    case 'kubernetes-patch':
      if (!actuators) throw new UpstreamError(`kubernetes-patch for ${target.name}: no Kubernetes writers were given`)
      return kubePatchAdapter(a, target, actuators)
  }
}

/**
 * The adapter factory of a burst controller: Kubernetes patches go through
 * deps.actuators, else writers built once from collector.kubernetes.clusters
 * (the same credentials the collector and the enforcer use).
 */
export function burstAdapters(deps: Pick<AlertsDeps, 'config' | 'actuators'>): (target: BurstTargetConfig) => ScaleAdapter {
  let actuators = deps.actuators
  return (target) => {
    if (target.adapter.type === 'kubernetes-patch') actuators ??= kubeActuatorsFrom(deps.config.collector.kubernetes.clusters, deps.config.alerts.enforcer.requestTimeoutMs)
    return adapterFor(target, actuators)
  }
}
