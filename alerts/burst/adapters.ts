/**
 * Burst actions: set a cloud target's size. Two adapters: a generic webhook
 * (JSON POST, signed with HMAC-SHA256 over `<timestamp>.<body>` in
 * `X-Gpuscope-Signature: sha256=<hex>`, the time in `X-Gpuscope-Timestamp`,
 * so a receiver can reject replays) and AWS Auto Scaling SetDesiredCapacity
 * (`@aws-sdk/client-auto-scaling`, endpoint configurable). Errors name the
 * target and the failure, never a URL, key or secret.
 */
import { createHmac } from 'node:crypto'
import { AutoScalingClient, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling'
import type { BurstTargetConfig } from '../../config/alerts'
import { UpstreamError } from '../../core/errors'
import { scrub } from '../audit'
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

/** The adapter of a target. */
export function adapterFor(target: BurstTargetConfig): ScaleAdapter {
  return target.adapter.type === 'webhook' ? webhookAdapter(target.adapter, target) : awsAsgAdapter(target.adapter, target)
}
