/**
 * Rows on their way to the store, kept until the store has them. Workload
 * intervals are keyed by pod uid (the table keeps the newest row per pod, so
 * only the latest row per pod needs to be written); node states are history,
 * so every change is kept in order; a node's heartbeat (node_seen) only needs
 * its newest time.
 */
import type { NodeSeen, NodeState, WorkloadInterval } from '../../core/model'
import type { StoreSinks } from '../../core/ports'
import { Backoff, RetryLoop } from './backoff'

/** What the buffer reports after each attempt. */
export interface PendingEvents {
  stored(rows: number): void
  failed(err: unknown): void
}

/**
 * Buffers rows and writes them through the sinks, one write at a time; a
 * failed write keeps its rows (unless a newer row for the same pod arrived)
 * and is retried with backoff, so a store outage loses nothing.
 */
export class PendingWrites {
  private intervals = new Map<string, WorkloadInterval>()
  private inFlight = new Map<string, WorkloadInterval>()
  private nodes: NodeState[] = []
  private readonly queuedNodes = new Set<string>()
  private seen = new Map<string, NodeSeen>()
  private readonly loop: RetryLoop

  constructor(
    private readonly sinks: Pick<StoreSinks, 'workloadIntervals' | 'nodeState' | 'nodeSeen'>,
    backoff: Backoff,
    private readonly events: PendingEvents,
  ) {
    this.loop = new RetryLoop(() => this.writeOnce(), backoff, (err) => events.failed(err))
  }

  /** Queues a pod's interval; it replaces any queued row of the same pod. */
  interval(row: WorkloadInterval): void {
    this.intervals.set(row.podUid, row)
    this.loop.request()
  }

  /** Queues a node state row (a change). */
  node(row: NodeState): void {
    this.nodes.push(row)
    this.queuedNodes.add(row.node)
    this.loop.request()
  }

  /** Queues a node's heartbeat; skipped while a state row of the node is queued (that row already says the node is there). */
  nodeSeen(row: NodeSeen): void {
    if (this.queuedNodes.has(row.node)) return
    this.seen.set(row.node, row)
    this.loop.request()
  }

  /** True when a row of this pod is queued or being written. */
  knows(podUid: string): boolean {
    return this.intervals.has(podUid) || this.inFlight.has(podUid)
  }

  /** Rows waiting (queued or being written). */
  get size(): number {
    return this.intervals.size + this.inFlight.size + this.nodes.length + this.seen.size
  }

  /** Writes what is queued now, without waiting for a scheduled retry; resolves after that attempt (a failure stays queued). */
  async flush(): Promise<void> {
    if (this.size > 0) this.loop.request(true)
    await this.loop.settled()
  }

  /** Stops retrying (the rows left are lost to this process; the next start reconciles from the API). */
  stop(): void {
    this.loop.stop()
  }

  private async writeOnce(): Promise<void> {
    while (this.intervals.size > 0 || this.nodes.length > 0 || this.seen.size > 0) {
      const intervals = this.intervals
      const nodes = this.nodes
      const seen = this.seen
      this.intervals = new Map()
      this.inFlight = intervals
      this.nodes = []
      this.seen = new Map()
      this.queuedNodes.clear()
      const [iv, ns, sn] = await Promise.allSettled([
        intervals.size > 0 ? this.sinks.workloadIntervals.write([...intervals.values()]) : Promise.resolve(),
        nodes.length > 0 ? this.sinks.nodeState.write(nodes) : Promise.resolve(),
        seen.size > 0 ? this.sinks.nodeSeen.write([...seen.values()]) : Promise.resolve(),
      ])
      this.inFlight = new Map()
      let stored = 0
      if (iv.status === 'rejected') this.requeueIntervals(intervals)
      else stored += intervals.size
      if (ns.status === 'rejected') this.requeueNodes(nodes)
      else stored += nodes.length
      // A newer heartbeat of the node queued meanwhile replaces the failed one.
      if (sn.status === 'rejected') for (const [node, row] of seen) this.seen.set(node, this.seen.get(node) ?? row)
      else stored += seen.size
      if (stored > 0) this.events.stored(stored)
      for (const r of [iv, ns, sn]) if (r.status === 'rejected') throw r.reason
    }
  }

  private requeueIntervals(rows: ReadonlyMap<string, WorkloadInterval>): void {
    for (const [uid, row] of rows) if (!this.intervals.has(uid)) this.intervals.set(uid, row)
  }

  private requeueNodes(rows: NodeState[]): void {
    this.nodes = [...rows, ...this.nodes]
    for (const r of rows) this.queuedNodes.add(r.node)
  }
}
