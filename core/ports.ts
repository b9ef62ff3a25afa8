/**
 * Small interfaces the adapters implement (store/, collector/, alerts/); core
 * and the report code depend on these, never on a driver.
 */
import type { ActionRecord, CloudInstance, GpuSample, NodeSeen, NodeState, NotebookActivity, Price, WorkloadInterval } from './model'

/** Query parameters bound server-side as `{name:Type}`; never spliced into SQL text. */
export type Params = Record<string, unknown>

/** Runs one parameterised read query and returns its rows. */
export type QueryFn = <T>(sql: string, params?: Params) => Promise<T[]>

/** Accepts rows for durable storage; the promise resolves once they are stored. */
export interface Sink<T> {
  write(rows: readonly T[]): Promise<void>
}

/** Every table a collector writes, as one port. */
export interface StoreSinks {
  gpuSamples: Sink<GpuSample>
  workloadIntervals: Sink<WorkloadInterval>
  nodeState: Sink<NodeState>
  nodeSeen: Sink<NodeSeen>
  notebookActivity: Sink<NotebookActivity>
  cloudInstances: Sink<CloudInstance>
  prices: Sink<Price>
  actions: Sink<ActionRecord>
}

/** Minimal structured logger (pino-compatible) so core code can log without pino. */
export interface Logger {
  info(obj: object | string, msg?: string): void
  warn(obj: object | string, msg?: string): void
  error(obj: object | string, msg?: string): void
  debug(obj: object | string, msg?: string): void
}
