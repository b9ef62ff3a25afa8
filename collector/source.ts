import type { Logger, QueryFn, StoreSinks } from '../core/ports'

/**
 * The shapes every collector source takes. A poll source is run by the
 * scheduler on its own interval; a stream source (Kubernetes informers) runs
 * by itself and reports its health through the same reporter.
 */

/** What one poll stored, and any partial failures worth naming. */
export interface PollResult {
  rows: number
  warnings?: string[]
}

/** A source the scheduler polls every `intervalMs` (with jitter), never overlapping itself. */
export interface PollSource {
  kind: 'poll'
  /** Unique, stable, used as the `source` label: `dcgm/dgx`, `jupyter/dgx`, `aws/us-east-1`. */
  name: string
  intervalMs: number
  /** A poll still running after this is aborted and counted as a failure. */
  timeoutMs: number
  poll(nowMs: number, signal: AbortSignal): Promise<PollResult>
}

/** A long-running source (list+watch); it reports successes and failures as they happen. */
export interface StreamSource {
  kind: 'stream'
  name: string
  /** How long without a success before /readyz calls the source stale. */
  staleAfterMs: number
  start(health: HealthReporter): Promise<void>
  stop(): Promise<void>
}

export type Source = PollSource | StreamSource

/** How a source tells collector health what happened. */
export interface HealthReporter {
  success(rows: number, durationMs?: number): void
  failure(err: unknown, durationMs?: number): void
}

/** A running Kubeflow Notebook whose Jupyter server can be polled for kernel activity. */
export interface NotebookTarget {
  cluster: string
  namespace: string
  name: string
  /** Base URL of the notebook server, e.g. `http://nb.ns.svc.cluster.local/notebook/ns/nb`. */
  baseUrl: string
}

/** Lists the notebooks currently running (the Kubernetes collector's cache implements it). */
export type NotebookDirectory = () => NotebookTarget[]

/** What every source factory receives from the composition root. */
export interface CollectorDeps {
  sinks: StoreSinks
  query: QueryFn
  logger: Logger
  now: () => number
}
