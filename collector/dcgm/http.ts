import { maskUrlCredentials } from '../../config/redact'
import { UpstreamError } from '../../core/errors'

/** A DCGM scrape of a few hundred GPUs is well under a MiB; a body this large is not an exporter. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024

/** Options for one bounded HTTP GET. */
export interface GetOptions {
  /** The poll's signal: aborting the poll aborts the request. */
  signal: AbortSignal
  timeoutMs: number
  headers?: Record<string, string>
  maxBytes?: number
}

/** An HTTP answer read in full: status and body text. */
export interface HttpText {
  status: number
  statusText: string
  contentType: string
  body: string
}

/**
 * GETs a URL and reads the whole body, giving up after `timeoutMs` or when the
 * poll is aborted. Network failures, time-outs and oversized bodies become an
 * UpstreamError naming the URL (credentials masked); HTTP error statuses are
 * returned, since some callers (the Prometheus API) carry an error body.
 */
export async function httpGetText(url: string, opts: GetOptions): Promise<HttpText> {
  const timeout = AbortSignal.timeout(opts.timeoutMs)
  const signal = AbortSignal.any([opts.signal, timeout])
  const shown = maskUrlCredentials(url)
  try {
    const res = await fetch(url, { signal, headers: opts.headers, redirect: 'follow' })
    const body = await readBounded(res, opts.maxBytes ?? MAX_BODY_BYTES, shown)
    return { status: res.status, statusText: res.statusText, contentType: res.headers.get('content-type') ?? '', body }
  } catch (err) {
    if (err instanceof UpstreamError) throw err
    if (timeout.aborted && !opts.signal.aborted) throw new UpstreamError(`GET ${shown}: timed out after ${opts.timeoutMs} ms`, { cause: err })
    if (opts.signal.aborted) throw new UpstreamError(`GET ${shown}: aborted (${reasonOf(opts.signal.reason)})`, { cause: err })
    throw new UpstreamError(`GET ${shown}: ${describe(err)}`, { cause: err })
  }
}

async function readBounded(res: Response, maxBytes: number, shown: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (declared > maxBytes) {
    await res.body?.cancel()
    throw new UpstreamError(`GET ${shown}: body of ${declared} bytes exceeds ${maxBytes}`)
  }
  if (!res.body) return ''
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  let bytes = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    bytes += value.byteLength
    if (bytes > maxBytes) {
      await reader.cancel()
      throw new UpstreamError(`GET ${shown}: body exceeds ${maxBytes} bytes`)
    }
    text += decoder.decode(value, { stream: true })
  }
  return text + decoder.decode()
}

/** Undici reports network failures as `TypeError: fetch failed` with the real reason in `cause`. */
function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string; code?: string } }
  return e.cause?.message || e.cause?.code || e.message || String(err)
}

function reasonOf(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason)
}
