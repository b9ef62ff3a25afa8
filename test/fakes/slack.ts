import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A loopback Slack for tests, speaking the two wire formats gpuscope uses:
 * incoming webhooks (`POST /services/T…/B…/<secret>` with a JSON body,
 * answered `200 ok` as text) and the Web API (`POST /api/chat.postMessage`,
 * form- or JSON-encoded, answered `{ ok: true, channel, ts }`). It records
 * every request, and answers from a per-path script first, so a test can make
 * a webhook answer 429 with a Retry-After header, or 500, before succeeding.
 * Binds 127.0.0.1.
 */

/** One request Slack received. */
export interface SlackRequest {
  path: string
  contentType: string | undefined
  authorization: string | undefined
  /** Parsed JSON (webhooks, JSON Web API calls) or form fields (form Web API calls, `blocks` parsed). */
  body: Record<string, unknown>
  /** The status the fake answered. */
  status: number
}

/** A scripted answer. */
export interface ScriptedAnswer {
  status: number
  /** Retry-After header value (seconds). */
  retryAfter?: string
  body?: string
}

function parseBody(text: string, contentType: string | undefined): Record<string, unknown> {
  if (contentType?.includes('application/json')) return JSON.parse(text) as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const [k, v] of new URLSearchParams(text)) {
    out[k] = v
    if ((k === 'blocks' || k === 'attachments') && v.startsWith('[')) out[k] = JSON.parse(v)
  }
  return out
}

/** The fake Slack server. */
export class FakeSlack {
  private server: Server | undefined
  private readonly scripts = new Map<string, ScriptedAnswer[]>()
  private ts = 1_700_000_000
  /** Every request, in order. */
  readonly requests: SlackRequest[] = []
  /** Base URL once started. */
  url = ''

  /** Starts on 127.0.0.1 (a free port) and returns the base URL. */
  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res))
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this.url
  }

  /** Stops the server. */
  async close(): Promise<void> {
    const s = this.server
    if (!s) return
    s.closeAllConnections()
    await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  /** An incoming-webhook URL on this server; `secret` is the last path segment (as in Slack's URLs). */
  webhookUrl(secret: string): string {
    return `${this.url}/services/T0000/B0000/${secret}`
  }

  /** Queues answers for a path (a webhook URL or `/api/chat.postMessage`), used before the default success. */
  script(pathOrUrl: string, answers: ScriptedAnswer[]): void {
    const path = pathOrUrl.startsWith('http') ? new URL(pathOrUrl).pathname : pathOrUrl
    this.scripts.set(path, [...(this.scripts.get(path) ?? []), ...answers])
  }

  /** Requests to a path (a webhook URL or an API path) that were answered 2xx. */
  delivered(pathOrUrl: string): SlackRequest[] {
    const path = pathOrUrl.startsWith('http') ? new URL(pathOrUrl).pathname : pathOrUrl
    return this.requests.filter((r) => r.path === path && r.status < 300)
  }

  /** Forgets every request (scripts are kept). */
  reset(): void {
    this.requests.length = 0
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
    const contentType = req.headers['content-type']
    const body = parseBody(Buffer.concat(chunks).toString('utf8'), contentType)
    const scripted = this.scripts.get(path)?.shift()
    const isApi = path.startsWith('/api/')
    const status = scripted?.status ?? (req.method === 'POST' ? 200 : 405)
    this.requests.push({ path, contentType, authorization: req.headers.authorization, body, status })
    const headers: Record<string, string> = { 'content-type': isApi ? 'application/json' : 'text/plain' }
    if (scripted?.retryAfter !== undefined) headers['retry-after'] = scripted.retryAfter
    res.writeHead(status, headers)
    if (scripted?.body !== undefined) return void res.end(scripted.body)
    if (status >= 300) return void res.end(isApi ? JSON.stringify({ ok: false, error: status === 429 ? 'ratelimited' : 'internal_error' }) : status === 429 ? 'rate_limited' : 'error')
    res.end(isApi ? JSON.stringify({ ok: true, channel: body.channel, ts: `${++this.ts}.000100` }) : 'ok')
  }
}
