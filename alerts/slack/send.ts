/**
 * Delivery to Slack: incoming webhooks through `@slack/webhook` and direct
 * messages through `@slack/web-api`, both behind one small port. Retries are
 * ours (the libraries' own are off): a 429 waits its Retry-After (when that is
 * longer than maxRetryAfterMs the message is left for the next run), 5xx and
 * network failures back off exponentially, other 4xx fail at once; attempts
 * are bounded. A webhook URL or token never appears in a result, an error or
 * a log line: channels are named by a label ("team ml", "default", "DM U123").
 */
import { IncomingWebhook, type IncomingWebhookSendArguments } from '@slack/webhook'
import { LogLevel, WebClient, ErrorCode as WebErrorCode } from '@slack/web-api'
import type { SlackConfig } from '../../config/alerts'
import { scrub } from '../audit'

/** A Block Kit message: fallback text (notifications, screen readers) and blocks. */
export interface SlackMessage {
  text: string
  blocks: Array<Record<string, unknown>>
}

/** The outcome of sending one message. */
export interface Delivery {
  delivered: boolean
  attempts: number
  /** Waits between attempts, in order (Retry-After or backoff). */
  waitsMs: number[]
  /** Why it failed (no secret in it); undefined when delivered. */
  error?: string
}

/** Where a message goes, named by a label that is safe to log. */
export interface SlackChannel {
  label: string
  send(message: SlackMessage): Promise<Delivery>
}

/** Waits; injected so tests can record the waits instead of sleeping. */
export type Sleep = (ms: number) => Promise<void>

/** The real sleep. */
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** How one failed attempt is treated. */
export type Failure = { kind: 'rate-limited'; retryAfterMs: number | undefined; message: string } | { kind: 'transient'; message: string } | { kind: 'permanent'; message: string }

/** Retry settings (config/alerts.ts slack). */
export type RetryPolicy = Pick<SlackConfig, 'maxAttempts' | 'retryBaseMs' | 'retryMaxMs' | 'maxRetryAfterMs'>

/** The wait before the next attempt after a failure, or undefined to give up now. */
export function waitAfter(failure: Failure, attempt: number, policy: RetryPolicy): number | undefined {
  if (attempt >= policy.maxAttempts || failure.kind === 'permanent') return undefined
  const backoff = Math.min(policy.retryMaxMs, policy.retryBaseMs * 2 ** (attempt - 1))
  if (failure.kind === 'transient') return backoff
  const wait = failure.retryAfterMs ?? backoff
  return wait > policy.maxRetryAfterMs ? undefined : wait
}

/** Runs `attempt` until it succeeds or the policy gives up; `classify` turns an error into a Failure. */
export async function deliver(attempt: () => Promise<void>, classify: (err: unknown) => Failure, policy: RetryPolicy, sleep: Sleep): Promise<Delivery> {
  const waitsMs: number[] = []
  for (let n = 1; n <= policy.maxAttempts; n++) {
    try {
      await attempt()
      return { delivered: true, attempts: n, waitsMs }
    } catch (err) {
      const failure = classify(err)
      const wait = waitAfter(failure, n, policy)
      if (wait === undefined) {
        const why = failure.kind === 'rate-limited' && n < policy.maxAttempts ? `; Retry-After ${failure.retryAfterMs} ms exceeds ${policy.maxRetryAfterMs} ms, left for the next run` : ''
        return { delivered: false, attempts: n, waitsMs, error: `${failure.message}${why}` }
      }
      waitsMs.push(wait)
      await sleep(wait)
    }
  }
  return { delivered: false, attempts: policy.maxAttempts, waitsMs, error: 'no attempt made' }
}

/** Retry-After (seconds, or an HTTP date) in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null | undefined, nowMs: number): number | undefined {
  if (!header) return undefined
  const s = Number(header)
  if (Number.isFinite(s) && s >= 0) return Math.round(s * 1000)
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs)
}

/**
 * An incoming-webhook channel. The library's fetch is wrapped only to read
 * the Retry-After header of a 429 (its error does not carry headers).
 */
export function webhookChannel(label: string, url: string, cfg: SlackConfig, sleep: Sleep): SlackChannel {
  let lastRetryAfter: string | null = null
  const fetchFn: typeof fetch = async (input, init) => {
    const res = await fetch(input, init)
    lastRetryAfter = res.status === 429 ? res.headers.get('retry-after') : null
    return res
  }
  const hook = new IncomingWebhook(url, { timeout: cfg.timeoutMs, retryConfig: { retries: 0 }, fetch: fetchFn })
  const classify = (err: unknown): Failure => {
    const status = (err as { statusCode?: number }).statusCode
    const message = scrub(`slack webhook (${label}) failed: ${status ? `HTTP ${status}` : (err as Error).message}`, [url])
    if (status === 429) return { kind: 'rate-limited', retryAfterMs: retryAfterMs(lastRetryAfter, Date.now()), message }
    if (status === undefined || status >= 500) return { kind: 'transient', message }
    return { kind: 'permanent', message }
  }
  return {
    label,
    send: (m) => deliver(async () => void (await hook.send(m as unknown as IncomingWebhookSendArguments)), classify, cfg, sleep),
  }
}

/** A direct-message channel to one Slack member through the Web API (chat.postMessage with the member id as channel). */
export function dmChannel(userId: string, cfg: SlackConfig, sleep: Sleep): SlackChannel {
  const client = new WebClient(cfg.botToken, { slackApiUrl: cfg.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: cfg.timeoutMs, logLevel: LogLevel.ERROR })
  const label = `DM ${userId}`
  const classify = (err: unknown): Failure => {
    const e = err as { code?: string; retryAfter?: number; statusCode?: number; data?: { error?: string } }
    const detail = e.code === WebErrorCode.PlatformError ? `Slack says ${e.data?.error ?? 'error'}` : e.code === WebErrorCode.HTTPError ? `HTTP ${e.statusCode}` : (err as Error).message
    const message = scrub(`slack ${label} failed: ${detail}`, [cfg.botToken])
    if (e.code === WebErrorCode.RateLimitedError) return { kind: 'rate-limited', retryAfterMs: e.retryAfter === undefined ? undefined : e.retryAfter * 1000, message }
    if (e.code === WebErrorCode.RequestError || (e.code === WebErrorCode.HTTPError && (e.statusCode ?? 0) >= 500)) return { kind: 'transient', message }
    return { kind: 'permanent', message }
  }
  return {
    label,
    send: (m) => deliver(async () => void (await client.chat.postMessage({ channel: userId, text: m.text, blocks: m.blocks as never })), classify, cfg, sleep),
  }
}

/** The channels of one config: a team's webhook, else the default one; a DM per mapped user when a bot token is set. */
export interface SlackRouter {
  /** The team's channel (its webhook, else the default), or undefined when neither is configured. */
  team(team: string): SlackChannel | undefined
  /** A DM channel to the user, when a bot token is set and the user is mapped. */
  dm(user: string): SlackChannel | undefined
}

/** Builds the router; channels are made once and reused. */
export function slackRouter(cfg: SlackConfig, sleep: Sleep = realSleep): SlackRouter {
  const teams = new Map(cfg.teamWebhooks.map((t) => [t.team, webhookChannel(`team ${t.team}`, t.webhookUrl, cfg, sleep)]))
  const fallback = cfg.defaultWebhookUrl ? webhookChannel('default', cfg.defaultWebhookUrl, cfg, sleep) : undefined
  const dms = new Map<string, SlackChannel>()
  return {
    team: (team) => teams.get(team) ?? fallback,
    dm: (user) => {
      const id = cfg.userMap[user]
      if (!cfg.botToken || !id) return undefined
      let c = dms.get(id)
      if (!c) dms.set(id, (c = dmChannel(id, cfg, sleep)))
      return c
    },
  }
}
