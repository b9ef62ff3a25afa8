/**
 * Nodes -> node_state: a row when a GPU node appears, when anything in its
 * row changes (not on every watch event: kubelets update status every few
 * seconds), and a "gone" row (no GPUs, not Ready) when it leaves, including
 * nodes that left while the collector was not watching. The heartbeat marks
 * unchanged nodes in node_seen instead of repeating their rows.
 */
import type { NodeState } from '../../core/model'
import type { Logger, QueryFn } from '../../core/ports'
import { latestNodeStates } from '../../store/queries/intervals'
import { RetryLoop, type Backoff } from './backoff'
import { goneNodeState, isGone, isGpuNode, nodeState, sameNodeState, type NodeContext } from './nodeState'
import type { PendingWrites } from './pending'
import type { Node } from './types'

/** What the node tracker reads and writes through. */
export interface NodeTrackerDeps {
  ctx: NodeContext
  /** The node informer's cache. */
  nodes: { get(namespace: string, name: string): Node | undefined; list(): Node[] }
  pending: PendingWrites
  query: QueryFn
  now: () => number
  logger: Logger
  backoff: Backoff
  /** Reports a failed reconcile (it is retried with backoff). */
  failed(err: unknown): void
}

/** Tracks the GPU nodes of one cluster and turns their changes into node_state rows. */
export class NodeTracker {
  private readonly last = new Map<string, NodeState>()
  private reconcileAtMs: number | undefined
  private readonly reconciler: RetryLoop

  constructor(private readonly deps: NodeTrackerDeps) {
    this.reconciler = new RetryLoop(() => this.reconcile(), deps.backoff, deps.failed)
  }

  /** A node was added or modified: its row when it changed; on the heartbeat (`heartbeat`), an unchanged node is marked seen (node_seen). */
  upsert(node: Node, nowMs = this.deps.now(), heartbeat = false): void {
    const row = nodeState(node, this.deps.ctx, nowMs)
    const prev = this.last.get(row.node)
    if (!prev && !isGpuNode(node, row, this.deps.ctx)) return
    if (prev && sameNodeState(prev, row)) {
      if (heartbeat) this.deps.pending.nodeSeen({ cluster: row.cluster, node: row.node, seenMs: nowMs })
      return
    }
    this.last.set(row.node, row)
    this.deps.pending.node(row)
  }

  /** A node was deleted (or is missing from a relist, at nowMs = the list time). */
  remove(node: Node, nowMs = this.deps.now()): void {
    const prev = this.last.get(node.metadata.name)
    if (!prev) return
    this.last.delete(node.metadata.name)
    this.deps.pending.node(goneNodeState(prev, nowMs))
  }

  /** After a node (re)list: mark the nodes gone since, refresh every listed node, then reconcile with the store. */
  replace(nodes: readonly Node[], removed: readonly Node[], listedMs: number): void {
    for (const node of removed) this.remove(node, listedMs)
    for (const node of nodes) this.upsert(node)
    this.reconcileAtMs = listedMs
    this.reconciler.request()
  }

  /** Writes every GPU node's current state at nowMs; retries a pending reconcile. */
  heartbeat(nowMs: number): void {
    for (const node of this.deps.nodes.list()) this.upsert(node, nowMs, true)
    if (this.reconcileAtMs !== undefined) this.reconciler.request()
  }

  /** Resolves when no reconcile is running. */
  async settled(): Promise<void> {
    await this.reconciler.settled()
  }

  /** Stops reconcile retries. */
  stop(): void {
    this.reconciler.stop()
  }

  /** Writes a gone row for every node the store still shows but the list did not have; re-states a listed node that lost its GPUs. */
  private async reconcile(): Promise<void> {
    const at = this.reconcileAtMs
    if (at === undefined) return
    const latest = await latestNodeStates(this.deps.query, this.deps.ctx.cluster)
    let gone = 0
    for (const state of latest) {
      if (this.last.has(state.node) || isGone(state)) continue
      const node = this.deps.nodes.get('', state.node)
      if (node) {
        const row = nodeState(node, this.deps.ctx, at)
        this.last.set(row.node, row)
        this.deps.pending.node(row)
        continue
      }
      this.deps.pending.node(goneNodeState(state, Math.max(at, state.tsMs)))
      gone++
    }
    if (gone > 0) this.deps.logger.info({ cluster: this.deps.ctx.cluster, gone }, 'nodes removed while not watched marked gone')
    if (this.reconcileAtMs === at) this.reconcileAtMs = undefined
  }
}
