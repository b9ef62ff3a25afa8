import pLimit from 'p-limit'
import type { JupyterConfig } from '../../config/jupyter'
import { UpstreamError } from '../../core/errors'
import type { NotebookActivity } from '../../core/model'
import type { CollectorDeps, NotebookDirectory, NotebookTarget, PollResult, PollSource } from '../source'
import { getJson, jupyterKernelsSchema, jupyterStatusSchema, notebookBaseUrl, parseJupyterTime, type GetOptions, type JupyterKernel, type JupyterStatus } from './client'

/** What polling one notebook server gave: rows to store and problems to name. */
interface NotebookOutcome {
  rows: NotebookActivity[]
  /** Set when the server gave nothing usable: the notebook is then unknown this poll. */
  failure?: string
  warnings: string[]
}

/** How failures are listed in the error thrown when every notebook failed. */
const MAX_FAILURES_IN_ERROR = 3

/**
 * The `jupyter` poll source: GETs /api/kernels of every running notebook (and
 * /api/status only when a time is missing), bounded by `concurrency` and a
 * per-request timeout. A notebook that does not answer writes no row (unknown,
 * never idle) and is named in the warnings; when every notebook fails the
 * poll fails. The poll may run up to its interval, at least two request timeouts.
 */
export function jupyterSource(config: JupyterConfig, notebooks: NotebookDirectory, deps: CollectorDeps): PollSource {
  return {
    kind: 'poll',
    name: 'jupyter',
    intervalMs: config.intervalMs,
    timeoutMs: Math.max(config.intervalMs, 2 * config.timeoutMs),
    poll: (nowMs, signal) => pollNotebooks(config, notebooks(), deps, nowMs, signal),
  }
}

/** Polls the given notebooks once and stores one row per kernel (or one per kernel-less notebook). */
export async function pollNotebooks(
  config: JupyterConfig,
  targets: readonly NotebookTarget[],
  deps: Pick<CollectorDeps, 'sinks'>,
  nowMs: number,
  signal: AbortSignal,
): Promise<PollResult> {
  const limit = pLimit(config.concurrency)
  const http: GetOptions = { timeoutMs: config.timeoutMs, signal }
  const outcomes = await Promise.all(targets.map((t) => limit(() => observeNotebook(t, config.urlTemplate, http, nowMs))))
  const failures = outcomes.flatMap((o) => (o.failure === undefined ? [] : [o.failure]))
  if (targets.length > 0 && failures.length === targets.length) {
    const shown = failures.slice(0, MAX_FAILURES_IN_ERROR).join('; ')
    throw new UpstreamError(`jupyter: all ${targets.length} notebook server(s) failed: ${shown}${failures.length > MAX_FAILURES_IN_ERROR ? '; ...' : ''}`)
  }
  const rows = outcomes.flatMap((o) => o.rows)
  if (rows.length > 0) await deps.sinks.notebookActivity.write(rows)
  const warnings = outcomes.flatMap((o) => (o.failure === undefined ? o.warnings : [o.failure, ...o.warnings]))
  return warnings.length > 0 ? { rows: rows.length, warnings } : { rows: rows.length }
}

/** Polls one notebook server; never throws except when the whole poll is aborted. */
async function observeNotebook(target: NotebookTarget, urlTemplate: string, http: GetOptions, nowMs: number): Promise<NotebookOutcome> {
  const label = `notebook ${target.cluster}/${target.namespace}/${target.name}`
  const base = notebookBaseUrl(target, urlTemplate)
  let kernels: JupyterKernel[]
  try {
    kernels = await getJson(`${base}/api/kernels`, jupyterKernelsSchema, http)
  } catch (err) {
    if (http.signal.aborted) throw err
    return { rows: [], failure: `${label}: ${(err as Error).message}`, warnings: [] }
  }
  const needStatus = kernels.length === 0 || kernels.some((k) => parseJupyterTime(k.last_activity) === undefined)
  let status: JupyterStatus | undefined
  let statusError: string | undefined
  if (needStatus) {
    try {
      status = await getJson(`${base}/api/status`, jupyterStatusSchema, http)
    } catch (err) {
      if (http.signal.aborted) throw err
      statusError = (err as Error).message
    }
  }
  return toRows(target, label, kernels, status, statusError, nowMs)
}

/** Turns a kernel list (and the status, when fetched) into notebook_activity rows. */
function toRows(
  target: NotebookTarget,
  label: string,
  kernels: readonly JupyterKernel[],
  status: JupyterStatus | undefined,
  statusError: string | undefined,
  nowMs: number,
): NotebookOutcome {
  const base = { tsMs: nowMs, cluster: target.cluster, namespace: target.namespace, notebook: target.name }
  const statusMs = parseJupyterTime(status?.last_activity)
  const why = statusError ?? 'no last_activity in /api/status'
  if (kernels.length === 0) {
    if (statusMs === undefined) return { rows: [], failure: `${label}: no kernels, and ${why}`, warnings: [] }
    return { rows: [{ ...base, kernelId: '', executionState: '', lastActivityMs: statusMs, connections: status?.connections ?? 0 }], warnings: [] }
  }
  const rows: NotebookActivity[] = []
  const warnings: string[] = []
  for (const k of kernels) {
    const lastActivityMs = parseJupyterTime(k.last_activity) ?? statusMs
    if (lastActivityMs === undefined) {
      warnings.push(`${label}: kernel ${k.id} has no readable last_activity, and ${why}`)
      continue
    }
    // A server before notebook 5.0 reports no state: 'unknown' is not 'idle', so the culler contract counts it active.
    rows.push({ ...base, kernelId: k.id, executionState: k.execution_state ?? 'unknown', lastActivityMs, connections: k.connections ?? 0 })
  }
  if (rows.length === 0) return { rows, failure: `${label}: no kernel with a known last activity`, warnings }
  return { rows, warnings }
}
