import { EC2Client, type EC2ClientConfig } from '@aws-sdk/client-ec2'
import type { AwsConfig } from '../../config/cloud'
import { REDACTED } from '../../config/redact'
import { UpstreamError } from '../../core/errors'

/**
 * The EC2 client for one region and the one way its errors leave the
 * collector: as an UpstreamError whose message names the call, the AWS error
 * code and the HTTP status, with every credential scrubbed out.
 */

/** Pages followed per paginated call before the collector gives up on a token that never ends. */
export const MAX_PAGES = 1_000

/** Connect timeout for EC2 endpoints; the per-request timeout comes from config. */
const CONNECT_TIMEOUT_MS = 5_000

// Access key ids have a fixed shape, so even keys from the default chain (unknown here) are scrubbed.
const ACCESS_KEY_ID = /\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,}\b/g

/** An EC2 client for `region`: the configured endpoint and keys when given, else the SDK's defaults and credential chain. */
export function createEc2Client(config: AwsConfig, region: string): EC2Client {
  const options: EC2ClientConfig = {
    region,
    maxAttempts: config.maxAttempts,
    requestHandler: { requestTimeout: config.requestTimeoutMs, connectionTimeout: CONNECT_TIMEOUT_MS },
  }
  if (config.endpoint !== '') options.endpoint = config.endpoint
  if (config.accessKeyId !== '') {
    options.credentials = {
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      ...(config.sessionToken !== '' ? { sessionToken: config.sessionToken } : {}),
    }
  }
  return new EC2Client(options)
}

/** The configured secrets, for scrubbing; empty ones are left out. */
export function awsSecrets(config: AwsConfig): string[] {
  return [config.secretAccessKey, config.sessionToken, config.accessKeyId].filter((s) => s !== '')
}

/** `text` with every given secret, and anything shaped like an access key id, replaced by <redacted>. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of secrets) out = out.split(s).join(REDACTED)
  return out.replace(ACCESS_KEY_ID, REDACTED)
}

/** What an SDK error carries that is worth reporting (no request, no headers). */
interface SdkErrorShape {
  name?: unknown
  message?: unknown
  Code?: unknown
  $fault?: unknown
  $metadata?: { httpStatusCode?: unknown; requestId?: unknown; attempts?: unknown }
}

/**
 * Wraps an SDK failure of `call` in `region` as an UpstreamError with a
 * scrubbed message. The SDK error itself is not kept as the cause (it holds
 * the raw response); the cause is a plain summary of it.
 */
export function awsError(call: string, region: string, err: unknown, secrets: readonly string[]): UpstreamError {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as SdkErrorShape
  const code = typeof e.Code === 'string' ? e.Code : typeof e.name === 'string' ? e.name : 'Error'
  const meta = e.$metadata ?? {}
  const status = typeof meta.httpStatusCode === 'number' ? `, HTTP ${meta.httpStatusCode}` : ''
  const attempts = typeof meta.attempts === 'number' ? `, ${meta.attempts} attempt(s)` : ''
  const message = scrubSecrets(typeof e.message === 'string' ? e.message : '', secrets)
  const text = scrubSecrets(`aws ${region}: ${call} failed: ${code}: ${message}${status}${attempts}`, secrets)
  const cause = { code, httpStatusCode: meta.httpStatusCode, requestId: meta.requestId, attempts: meta.attempts }
  return new UpstreamError(text, { cause })
}

/**
 * Runs one SDK call (or a whole pagination) and turns its failure into
 * awsError; an abort of the poll is rethrown as the poll's own reason.
 */
export async function callAws<T>(call: string, region: string, secrets: readonly string[], signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (signal.aborted) throw signal.reason
    throw awsError(call, region, err, secrets)
  }
}

/**
 * Collects every page of a paginator into one list, stopping after MAX_PAGES
 * (an endless token is a server bug, and loops here are bounded).
 */
export async function collectPages<P, T>(pages: AsyncIterable<P>, pick: (page: P) => readonly T[] | undefined): Promise<T[]> {
  const out: T[] = []
  let n = 0
  for await (const page of pages) {
    if (n++ === MAX_PAGES) throw new Error(`pagination did not end after ${MAX_PAGES} pages`)
    out.push(...(pick(page) ?? []))
  }
  return out
}
