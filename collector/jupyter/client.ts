import { z } from 'zod'
import { maskUrlCredentials } from '../../config/redact'
import { UpstreamError } from '../../core/errors'
import type { NotebookTarget } from '../source'

/**
 * The two Jupyter Server REST calls the collector makes, with their bodies
 * validated at the edge. Shapes follow jupyter_server's api.yaml (Kernel,
 * APIStatus); unknown fields are ignored because servers add them freely.
 */

/** One kernel as GET /api/kernels lists it; `last_activity` and `execution_state` exist since notebook 5.0. */
export const jupyterKernelSchema = z.object({
  id: z.string().min(1),
  name: z.string().optional(),
  last_activity: z.string().optional(),
  execution_state: z.string().optional(),
  connections: z.number().int().nonnegative().optional(),
})

/** The body of GET /api/kernels. */
export const jupyterKernelsSchema = z.array(jupyterKernelSchema)

/** The body of GET /api/status: server-wide activity, kernel activity and REST calls alike. */
export const jupyterStatusSchema = z.object({
  started: z.string().optional(),
  last_activity: z.string().optional(),
  connections: z.number().int().nonnegative().optional(),
  kernels: z.number().int().nonnegative().optional(),
})

/** A kernel from /api/kernels. */
export type JupyterKernel = z.infer<typeof jupyterKernelSchema>
/** The server status from /api/status. */
export type JupyterStatus = z.infer<typeof jupyterStatusSchema>

/** A notebook API answer larger than this is not a kernel list; reading stops there. */
const MAX_BODY_BYTES = 1 << 20

// Jupyter writes UTC with a `Z` (api.yaml); an offset is accepted, a zone-less time is not (it would be read as local time).
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/i

/** Epoch ms of a Jupyter ISO 8601 timestamp (microseconds truncated); undefined when absent or not a zoned ISO time. */
export function parseJupyterTime(value: string | undefined): number | undefined {
  if (value === undefined || !ISO_WITH_ZONE.test(value)) return undefined
  const ms = Date.parse(value)
  return Number.isFinite(ms) ? ms : undefined
}

/** The notebook server's base URL: the directory's, else the template filled in (URL-encoded), without a trailing slash. */
export function notebookBaseUrl(target: NotebookTarget, urlTemplate: string): string {
  const fields: Record<string, string> = { name: target.name, namespace: target.namespace, cluster: target.cluster }
  const base = target.baseUrl !== '' ? target.baseUrl : urlTemplate.replace(/\{(name|namespace|cluster)\}/g, (_, f: string) => encodeURIComponent(fields[f] ?? ''))
  return base.replace(/\/+$/, '')
}

/** How one GET is bounded: its own timeout, and the poll's abort signal. */
export interface GetOptions {
  timeoutMs: number
  signal: AbortSignal
}

/**
 * GETs a JSON body and validates it. Any failure (network, timeout, non-200,
 * oversized or invalid body) is an UpstreamError naming the URL (credentials
 * masked) and the reason; an abort of the poll itself is rethrown as is.
 */
export async function getJson<T>(url: string, schema: z.ZodType<T>, opts: GetOptions): Promise<T> {
  const where = `GET ${maskUrlCredentials(url)}`
  const timeout = AbortSignal.timeout(opts.timeoutMs)
  let text: string
  try {
    // A redirect here is an auth proxy's login page, not a kernel list: report it rather than follow it.
    const res = await fetch(url, { signal: AbortSignal.any([opts.signal, timeout]), redirect: 'manual', headers: { accept: 'application/json' } })
    if (res.status !== 200) {
      await res.body?.cancel()
      throw new UpstreamError(`${where}: HTTP ${res.status}`)
    }
    text = await readCapped(res, where)
  } catch (err) {
    if (opts.signal.aborted) throw opts.signal.reason
    if (err instanceof UpstreamError) throw err
    if (timeout.aborted) throw new UpstreamError(`${where}: no answer within ${opts.timeoutMs} ms`)
    throw new UpstreamError(`${where}: ${networkReason(err)}`)
  }
  return parseBody(text, schema, where)
}

function parseBody<T>(text: string, schema: z.ZodType<T>, where: string): T {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new UpstreamError(`${where}: body is not JSON`)
  }
  const parsed = schema.safeParse(body)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = issue && issue.path.length > 0 ? issue.path.join('.') : '(body)'
    throw new UpstreamError(`${where}: unexpected body at ${path}: ${issue?.message ?? 'invalid'}`)
  }
  return parsed.data
}

async function readCapped(res: Response, where: string): Promise<string> {
  if (!res.body) return ''
  const chunks: Uint8Array[] = []
  let bytes = 0
  for await (const chunk of res.body) {
    bytes += chunk.byteLength
    if (bytes > MAX_BODY_BYTES) {
      await res.body.cancel().catch(() => undefined)
      throw new UpstreamError(`${where}: body larger than ${MAX_BODY_BYTES} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** undici wraps socket errors as `fetch failed` with the useful code in `cause`. */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause
  if (typeof cause?.code === 'string') return cause.code
  if (typeof cause?.message === 'string') return cause.message
  return err instanceof Error ? err.message : String(err)
}
