/**
 * The burst policy of one on-prem pool, pure and stepped like a Prometheus
 * alert rule: the trigger (allocation >= threshold × capacity AND pending GPU
 * demand >= N) must hold at every evaluation for `forMs` before a scale-out;
 * then GPUs go to the cloud targets in their configured order (spot first),
 * within the pool's max burst GPUs and its monthly budget, whole nodes at a
 * time; no scaling within the cooldown of the last one. Scale-in comes once
 * nothing is pending, on-prem has free GPUs and the burst nodes hold no GPU
 * work for `scaleInAfterMs`. Every decision carries its reasons.
 */
import type { BurstPoolConfig } from '../../config/alerts'

const HOUR_MS = 3_600_000

/** One cloud target as observed now. */
export interface TargetObservation {
  name: string
  /** GPUs the target runs (the size gpuscope last set, else what its pool shows). */
  gpus: number
  /** GPUs allocated on its nodes. */
  allocatedGpus: number
  /** Spend on it since the start of the month. */
  spentUsd: number
}

/** One pool and its targets at one evaluation. */
export interface PoolObservation {
  nowMs: number
  capacityGpus: number
  allocatedGpus: number
  /** Pending GPU demand of the pool's cluster (pending pods have no pool yet). */
  pendingGpus: number
  /** GPUs allocated to idle, stuck or hung workloads in the cluster; read only when reclaimFirst asks. */
  idleAllocatedGpus?: number | undefined
  /** Those workloads, most GPUs first: what reclaiming first means (the audit row's proposal). */
  reclaimCandidates?: ReclaimCandidate[] | undefined
  targets: TargetObservation[]
  /** When the pool was last scaled (out or in). */
  lastScaleMs: number | undefined
}

/** An idle, stuck or hung workload whose GPUs could serve pending demand before a cloud is asked. */
export interface ReclaimCandidate {
  key: string
  gpus: number
  verdict: string
  state: string
  idleSinceMs: number | undefined
}

/** What the policy remembers between evaluations (like an alert rule's active-since). */
export interface PoolState {
  triggerSinceMs?: number | undefined
  quietSinceMs?: number | undefined
}

/** A size change of one target. */
export interface ScaleChange {
  target: string
  fromGpus: number
  toGpus: number
  fromNodes: number
  toNodes: number
}

/** Why the policy decided what it did (stable codes for the API and the audit log). */
export type BurstCode = 'steady' | 'waiting' | 'cooldown' | 'reclaim-first' | 'max-burst' | 'budget' | 'targets-full' | 'scale-out' | 'draining' | 'scale-in'

/** One decision about one pool. */
export interface BurstDecision {
  cluster: string
  pool: string
  atMs: number
  action: 'scale-out' | 'scale-in' | 'hold'
  code: BurstCode
  reasons: string[]
  changes: ScaleChange[]
  observation: PoolObservation
}

const nodesOf = (gpus: number, perNode: number): number => Math.max(0, Math.ceil(gpus / perNode - 1e-9))
const mins = (ms: number): string => `${Math.round(ms / 60_000)} min`
const usd = (v: number): string => `$${v.toFixed(2)}`

/** Whether the trigger holds now: allocation at or above the threshold of capacity (any pending demand counts when there is no capacity) and enough pending. */
export function triggerHolds(p: BurstPoolConfig, o: PoolObservation): boolean {
  const saturated = o.capacityGpus <= 0 || o.allocatedGpus >= p.thresholdRatio * o.capacityGpus - 1e-9
  return saturated && o.pendingGpus >= p.minPendingGpus
}

/** Whether the burst can shrink: something runs in the cloud, none of it holds GPU work, nothing is pending and on-prem has free GPUs. */
export function quietHolds(o: PoolObservation): boolean {
  const burstGpus = o.targets.reduce((n, t) => n + t.gpus, 0)
  const burstAllocated = o.targets.reduce((n, t) => n + t.allocatedGpus, 0)
  return burstGpus > 0 && burstAllocated === 0 && o.pendingGpus === 0 && o.allocatedGpus < o.capacityGpus
}

/**
 * Sizes the scale-out: GPUs for the pending demand (at most the room left
 * under maxBurstGpus) go to the targets in order, whole nodes at a time, each
 * within its maxNodes; a target whose nodes would break the monthly budget
 * (this month's spend plus every target's new size running for
 * budgetLookaheadMs) gets fewer nodes or none. Notes say what was held back.
 */
export function sizeScaleOut(p: BurstPoolConfig, o: PoolObservation, notes: string[]): ScaleChange[] {
  const burstGpus = o.targets.reduce((n, t) => n + t.gpus, 0)
  let needGpus = Math.min(o.pendingGpus, p.maxBurstGpus - burstGpus)
  let roomGpus = p.maxBurstGpus - burstGpus
  const spentUsd = o.targets.reduce((n, t) => n + t.spentUsd, 0)
  const hours = p.budgetLookaheadMs / HOUR_MS
  let runRateUsd = p.targets.reduce((n, t) => n + (o.targets.find((x) => x.name === t.name)?.gpus ?? 0) * t.usdPerGpuHour, 0)
  const changes: ScaleChange[] = []
  for (const t of p.targets) {
    if (needGpus <= 0) break
    const cur = o.targets.find((x) => x.name === t.name)?.gpus ?? 0
    const curNodes = nodesOf(cur, t.gpusPerNode)
    let add = Math.min(nodesOf(needGpus, t.gpusPerNode), t.maxNodes - curNodes, Math.floor(roomGpus / t.gpusPerNode + 1e-9))
    if (add <= 0) {
      notes.push(`${t.name}: no room (${curNodes}/${t.maxNodes} nodes, ${roomGpus} GPU(s) left under maxBurstGpus ${p.maxBurstGpus})`)
      continue
    }
    const affordable = Math.floor((p.monthlyBudgetUsd - spentUsd - runRateUsd * hours) / (t.gpusPerNode * t.usdPerGpuHour * hours) + 1e-9)
    if (t.usdPerGpuHour > 0 && affordable < add) {
      notes.push(`${t.name}: ${add} node(s) would exceed the monthly budget ${usd(p.monthlyBudgetUsd)} (spent ${usd(spentUsd)}, run rate ${usd(runRateUsd)}/h over ${mins(p.budgetLookaheadMs)}); ${Math.max(0, affordable)} fit`)
      add = Math.max(0, affordable)
      if (add === 0) continue
    }
    const gpus = add * t.gpusPerNode
    changes.push({ target: t.name, fromGpus: cur, toGpus: cur + gpus, fromNodes: curNodes, toNodes: curNodes + add })
    needGpus -= gpus
    roomGpus -= gpus
    runRateUsd += gpus * t.usdPerGpuHour
  }
  return changes
}

/** Every target with GPUs goes back to 0, the last in the order (the most expensive) first. */
function sizeScaleIn(p: BurstPoolConfig, o: PoolObservation): ScaleChange[] {
  return [...p.targets].reverse().flatMap((t) => {
    const cur = o.targets.find((x) => x.name === t.name)?.gpus ?? 0
    return cur > 0 ? [{ target: t.name, fromGpus: cur, toGpus: 0, fromNodes: nodesOf(cur, t.gpusPerNode), toNodes: 0 }] : []
  })
}

function facts(p: BurstPoolConfig, o: PoolObservation): string {
  const burst = o.targets.reduce((n, t) => n + t.gpus, 0)
  return `on-prem ${o.allocatedGpus}/${o.capacityGpus} GPUs allocated (threshold ${Math.round(p.thresholdRatio * 100)}%), ${o.pendingGpus} GPU(s) pending (trigger >= ${p.minPendingGpus}), ${burst} burst GPU(s)`
}

/** One evaluation: the next state and the decision with its reasons. */
export function stepBurst(p: BurstPoolConfig, prev: PoolState, o: PoolObservation): { state: PoolState; decision: BurstDecision } {
  const now = o.nowMs
  const triggered = triggerHolds(p, o)
  const quiet = !triggered && quietHolds(o)
  const state: PoolState = { triggerSinceMs: triggered ? (prev.triggerSinceMs ?? now) : undefined, quietSinceMs: quiet ? (prev.quietSinceMs ?? now) : undefined }
  const reasons = [facts(p, o)]
  const decide = (action: BurstDecision['action'], code: BurstCode, changes: ScaleChange[] = []) => ({ state, decision: { cluster: p.cluster, pool: p.pool, atMs: now, action, code, reasons, changes, observation: o } })
  const hold = (code: BurstCode, why: string) => {
    reasons.push(why)
    return decide('hold', code)
  }
  const cooldown = o.lastScaleMs !== undefined && now - o.lastScaleMs < p.cooldownMs ? `cooldown: last scaled ${mins(now - o.lastScaleMs)} ago (cooldown ${mins(p.cooldownMs)})` : undefined
  if (triggered) {
    const heldMs = now - (state.triggerSinceMs as number)
    if (heldMs < p.forMs) return hold('waiting', `trigger held ${mins(heldMs)} of ${mins(p.forMs)}`)
    if (cooldown) return hold('cooldown', cooldown)
    if (p.reclaimFirst && (o.idleAllocatedGpus ?? 0) >= o.pendingGpus) return hold('reclaim-first', `${o.idleAllocatedGpus} GPU(s) are allocated but idle in ${p.cluster}: reclaiming them covers the pending demand`)
    if (o.targets.reduce((n, t) => n + t.gpus, 0) >= p.maxBurstGpus) return hold('max-burst', `at maxBurstGpus ${p.maxBurstGpus}`)
    const notes: string[] = []
    const changes = sizeScaleOut(p, o, notes)
    reasons.push(...notes)
    if (changes.length === 0) return decide('hold', notes.some((n) => n.includes('budget')) ? 'budget' : 'targets-full')
    reasons.push(`trigger held ${mins(heldMs)} (for ${mins(p.forMs)}): ${changes.map((c) => `${c.target} ${c.fromNodes} -> ${c.toNodes} node(s)`).join(', ')}`)
    return decide('scale-out', 'scale-out', changes)
  }
  if (quiet) {
    const heldMs = now - (state.quietSinceMs as number)
    if (heldMs < p.scaleInAfterMs) return hold('draining', `burst nodes idle ${mins(heldMs)} of ${mins(p.scaleInAfterMs)}`)
    if (cooldown) return hold('cooldown', cooldown)
    const changes = sizeScaleIn(p, o)
    reasons.push(`nothing pending, on-prem has room and the burst nodes held no GPU work for ${mins(heldMs)}: ${changes.map((c) => `${c.target} ${c.fromNodes} -> 0 node(s)`).join(', ')}`)
    return decide('scale-in', 'scale-in', changes)
  }
  return decide('hold', 'steady')
}
