/**
 * Pods -> workload intervals: keeps the last row written per GPU pod, writes
 * a row only when something in it changed (not on every watch event),
 * re-writes open intervals' last_seen on the heartbeat, and after each pod
 * list closes the intervals the store still has open for pods that are gone.
 */
import type { WorkloadInterval } from '../../core/model'
import type { Logger, QueryFn } from '../../core/ports'
import { openIntervals } from '../../store/queries/intervals'
import { RetryLoop, type Backoff } from './backoff'
import type { PendingWrites } from './pending'
import { podToInterval, sameInterval, type PodContext } from './podInterval'
import type { Pod } from './types'

/** What the pod tracker reads and writes through. */
export interface PodTrackerDeps extends PodContext {
  /** The pod informer's cache. */
  pods: { get(namespace: string, name: string): Pod | undefined }
  pending: PendingWrites
  query: QueryFn
  now: () => number
  logger: Logger
  backoff: Backoff
  /** Reports a failed reconcile (it is retried with backoff). */
  failed(err: unknown): void
}

interface Known {
  namespace: string
  name: string
  row: WorkloadInterval
}

const uidOf = (pod: Pod) => pod.metadata.uid ?? `${pod.metadata.namespace ?? ''}/${pod.metadata.name}`

/** Tracks the GPU pods of one cluster and turns their changes into interval rows. */
export class PodTracker {
  private readonly known = new Map<string, Known>()
  private reconcileAtMs: number | undefined
  private readonly reconciler: RetryLoop
  private dirty: Set<string> | 'all' | undefined

  constructor(private readonly deps: PodTrackerDeps) {
    this.reconciler = new RetryLoop(() => this.reconcile(), deps.backoff, deps.failed)
  }

  /** A pod was added or modified. */
  upsert(pod: Pod, nowMs = this.deps.now(), force = false): void {
    const row = this.map(pod, false, nowMs)
    if (row) this.track(pod, row, force)
  }

  /** A pod was deleted (or is missing from a relist, at nowMs = the list time). */
  remove(pod: Pod, nowMs = this.deps.now()): void {
    const prev = this.known.get(uidOf(pod))?.row
    this.known.delete(uidOf(pod))
    const row = this.map(pod, true, nowMs)
    if (!row) return
    if (prev?.endMs !== undefined && row.endMs !== undefined) row.endMs = Math.min(prev.endMs, row.endMs)
    if (prev && sameInterval(prev, row)) return
    this.deps.pending.interval(row)
  }

  /** After a pod (re)list: close the pods gone since, refresh every listed pod, then reconcile with the store. */
  replace(pods: readonly Pod[], removed: readonly Pod[], listedMs: number): void {
    for (const pod of removed) this.remove(pod, listedMs)
    for (const pod of pods) this.upsert(pod)
    this.reconcileAtMs = listedMs
    this.reconciler.request()
  }

  /** Re-writes every open interval with last_seen = nowMs (and anything that changed); retries a pending reconcile. */
  heartbeat(nowMs: number): void {
    for (const { namespace, name, row } of [...this.known.values()]) {
      if (row.endMs !== undefined) continue
      const pod = this.deps.pods.get(namespace, name)
      if (pod && uidOf(pod) === row.podUid) this.upsert(pod, nowMs, true)
    }
    if (this.reconcileAtMs !== undefined) this.reconciler.request()
  }

  /** Re-maps the tracked pods of a namespace (all when omitted) soon: an owner or namespace they read changed. */
  refreshSoon(namespace?: string): void {
    if (this.dirty === undefined) setImmediate(() => this.refresh())
    if (namespace === undefined || this.dirty === 'all') {
      this.dirty = 'all'
      return
    }
    this.dirty ??= new Set()
    this.dirty.add(namespace)
  }

  /** Resolves when no reconcile is running. */
  async settled(): Promise<void> {
    await this.reconciler.settled()
  }

  /** Stops reconcile retries. */
  stop(): void {
    this.reconciler.stop()
  }

  private refresh(): void {
    const dirty = this.dirty
    this.dirty = undefined
    for (const { namespace, name, row } of [...this.known.values()]) {
      if (dirty !== 'all' && !dirty?.has(namespace)) continue
      const pod = this.deps.pods.get(namespace, name)
      if (pod && uidOf(pod) === row.podUid) this.upsert(pod)
    }
  }

  private track(pod: Pod, row: WorkloadInterval, force: boolean): void {
    const prev = this.known.get(row.podUid)?.row
    // Once closed, keep the earliest end seen: a later look only knows "by now".
    if (prev?.endMs !== undefined && row.endMs !== undefined) row.endMs = Math.min(prev.endMs, row.endMs)
    const changed = !prev || !sameInterval(prev, row)
    this.known.set(row.podUid, { namespace: pod.metadata.namespace ?? '', name: pod.metadata.name, row: changed || force ? row : prev })
    if (changed || force) this.deps.pending.interval(row)
  }

  private map(pod: Pod, deleted: boolean, nowMs: number): WorkloadInterval | undefined {
    return podToInterval(pod, this.deps, nowMs, deleted)
  }

  /** Closes (end = list time, phase Deleted) the store's open intervals of pods that are neither listed nor being written. */
  private async reconcile(): Promise<void> {
    const at = this.reconcileAtMs
    if (at === undefined) return
    const open = await openIntervals(this.deps.query, this.deps.cluster)
    let closed = 0
    for (const row of open) {
      if (this.known.has(row.podUid) || this.deps.pending.knows(row.podUid)) continue
      const endMs = Math.max(at, row.startMs ?? row.createdMs)
      this.deps.pending.interval({ ...row, endMs, lastSeenMs: Math.max(at, row.lastSeenMs), phase: 'Deleted' })
      closed++
    }
    if (closed > 0) this.deps.logger.info({ cluster: this.deps.cluster, closed }, 'closed intervals of pods deleted while not watched')
    if (this.reconcileAtMs === at) this.reconcileAtMs = undefined
  }
}
