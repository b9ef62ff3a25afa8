/**
 * Chargeback math (DESIGN.md, Definitions; OpenCost's words): GPUs are
 * charged by allocation at the rate of the node they ran on; the cost of
 * capacity no workload held (OpenCost's `__idle__`) is left as its own row or
 * shared proportionally to allocated cost or evenly; money is apportioned in
 * integer cents by largest remainder, so the rows add up to the fleet's
 * capacity cost to the cent. Pure.
 */
import type { UsageTotals } from './usage'

/** How the cost of capacity no workload held is shared. */
export type IdleSharePolicy = 'none' | 'proportional' | 'even'

/** The row that holds the cost of unallocated capacity under policy none (OpenCost's `__idle__`). */
export const IDLE_ROW = '__idle__'

/** The row of allocation with no value for the chargeback key, e.g. pods with no team label (OpenCost's `__unallocated__`). */
export const UNATTRIBUTED_ROW = '__unallocated__'

/** The on-prem rate card as config/analytics.ts validates it. */
export interface RateCardLike {
  defaultUsdPerGpuHour: number
  rates: ReadonlyArray<{ gpuModel?: string | undefined; pool?: string | undefined; usdPerGpuHour: number }>
}

/** The rate a GPU-hour was charged at and where it came from. */
export interface RateMatch {
  usdPerGpuHour: number
  source: 'cloud' | 'rateCard' | 'default'
}

/** True when a rate card model names the node's model: equal, or one of its words (`H100` in `NVIDIA-H100-80GB-HBM3`), ignoring case. */
export function modelMatches(pattern: string, model: string): boolean {
  const p = pattern.trim().toLowerCase()
  const m = model.trim().toLowerCase()
  if (p === m) return true
  const words = m.split(/[^a-z0-9]+/).filter(Boolean)
  const parts = p.split(/[^a-z0-9]+/).filter(Boolean)
  if (parts.length === 0) return false
  // The pattern's words must appear in the model consecutively, as whole words.
  for (let i = 0; i + parts.length <= words.length; i++) if (parts.every((w, j) => words[i + j] === w)) return true
  return false
}

/**
 * The on-prem rate of a GPU: the most specific matching line of the card
 * (model and pool, then pool, then model; among equals the longer model name,
 * then the first listed), else the card's default.
 */
export function onPremRate(card: RateCardLike, gpuModel: string, pool: string): RateMatch {
  let best: { score: number; usdPerGpuHour: number } | undefined
  for (const r of card.rates) {
    if (r.pool !== undefined && r.pool !== pool) continue
    if (r.gpuModel !== undefined && !modelMatches(r.gpuModel, gpuModel)) continue
    const score = (r.pool !== undefined ? 1_000_000 : 0) + (r.gpuModel !== undefined ? 1_000 + r.gpuModel.length : 0)
    if (!best || score > best.score) best = { score, usdPerGpuHour: r.usdPerGpuHour }
  }
  return best ? { usdPerGpuHour: best.usdPerGpuHour, source: 'rateCard' } : { usdPerGpuHour: card.defaultUsdPerGpuHour, source: 'default' }
}

/** GPU-milliseconds of one row on one kind of node at one price, as the store sums them. */
export interface PricedUse {
  key: string
  gpuMs: number
  gpuModel: string
  pool: string
  provider: string
  /** The cloud instance's price per GPU from the prices table, in effect at the hour; null when it has none. */
  cloudUsdPerGpuHour: number | null
}

/** GPU-hours and their cost, with how many GPU-hours fell back to the default rate. */
export interface CostTotal {
  gpuHours: number
  costUsd: number
  defaultRateGpuHours: number
  /** GPU-hours on cloud nodes the prices table had no price for (charged at the rate card). */
  unpricedCloudGpuHours: number
}

const HOUR_MS = 3_600_000

/** True for a provider whose nodes should have a price in the prices table. */
export const isCloudProvider = (provider: string): boolean => provider !== '' && provider !== 'onprem'

/** Prices every use (cloud price when there is one, else the rate card) and sums GPU-hours and cost per row key. */
export function costByKey(uses: Iterable<PricedUse>, card: RateCardLike): Map<string, CostTotal> {
  const out = new Map<string, CostTotal>()
  for (const u of uses) {
    const rate: RateMatch = u.cloudUsdPerGpuHour !== null ? { usdPerGpuHour: u.cloudUsdPerGpuHour, source: 'cloud' } : onPremRate(card, u.gpuModel, u.pool)
    const gpuHours = u.gpuMs / HOUR_MS
    const t = out.get(u.key) ?? out.set(u.key, { gpuHours: 0, costUsd: 0, defaultRateGpuHours: 0, unpricedCloudGpuHours: 0 }).get(u.key)!
    t.gpuHours += gpuHours
    t.costUsd += gpuHours * rate.usdPerGpuHour
    if (rate.source === 'default') t.defaultRateGpuHours += gpuHours
    if (u.cloudUsdPerGpuHour === null && isCloudProvider(u.provider)) t.unpricedCloudGpuHours += gpuHours
  }
  return out
}

/** Chargeback inputs from priced allocation (costByKey) and used GPU-hours per key (store/queries/usage.ts usedByKey); allocation with no value for the key is `__unallocated__`. */
export function chargeInputs(costs: Map<string, CostTotal>, used: Map<string, UsageTotals>): ChargeInput[] {
  return [...costs].map(([key, c]) => ({
    key: key === '' ? UNATTRIBUTED_ROW : key,
    allocatedGpuHours: c.gpuHours,
    allocatedCostUsd: c.costUsd,
    usedGpuHours: used.get(key)?.usedGpuHours ?? null,
    utilUnknownGpuHours: used.get(key)?.utilUnknownGpuHours ?? c.gpuHours,
  }))
}

/**
 * Splits an integer number of cents in proportion to the weights by largest
 * remainder (Hamilton): every share is its quota rounded down, and the cents
 * left go one each to the largest fractional parts (ties to the earlier
 * index), so the shares always sum to `totalCents` exactly. Equal weights when
 * they sum to 0.
 */
export function apportionCents(totalCents: number, weights: readonly number[]): number[] {
  if (!Number.isSafeInteger(totalCents)) throw new RangeError(`apportionCents: ${totalCents} is not a whole number of cents`)
  if (weights.length === 0) {
    if (totalCents !== 0) throw new RangeError(`apportionCents: ${totalCents} cents and nobody to give them to`)
    return []
  }
  const sum = weights.reduce((a, w) => a + w, 0)
  const quotas = sum > 0 ? weights.map((w) => (totalCents * w) / sum) : weights.map(() => totalCents / weights.length)
  const shares = quotas.map((q) => Math.floor(q))
  let rest = totalCents - shares.reduce((a, s) => a + s, 0)
  const order = quotas.map((q, i) => ({ i, frac: q - Math.floor(q) })).sort((a, b) => b.frac - a.frac || a.i - b.i)
  // rest is in [0, n) in exact arithmetic; the loops also absorb float error at either end.
  for (let k = 0; rest > 0; k = (k + 1) % order.length, rest--) shares[(order[k] as { i: number }).i]! += 1
  for (let k = order.length - 1; rest < 0; k = (k - 1 + order.length) % order.length, rest++) shares[(order[k] as { i: number }).i]! -= 1
  return shares
}

/** One row's figures before money is apportioned. */
export interface ChargeInput {
  key: string
  allocatedGpuHours: number
  /** Cost of the allocation at its nodes' rates, unrounded. */
  allocatedCostUsd: number
  /** allocated × utilization over the time utilization is known; null when it never is. */
  usedGpuHours: number | null
  /** Allocated GPU-hours with no utilization sample. */
  utilUnknownGpuHours: number
}

/** One chargeback row: GPU-hours and cost in whole cents. */
export interface ChargeRow {
  key: string
  allocatedGpuHours: number
  usedGpuHours: number | null
  /** Allocated but not used (for `__idle__`: capacity no workload held). */
  idleGpuHours: number | null
  utilUnknownGpuHours: number
  allocatedCostUsd: number
  idleShareCostUsd: number
  costUsd: number
  costCents: number
}

/** The fleet's capacity for the period, the total the rows must reconcile to. */
export interface FleetCost {
  capacityGpuHours: number
  capacityCostUsd: number
}

/** How the rows add up against the fleet's capacity cost. */
export interface Reconciliation {
  reconciled: boolean
  fleetCostUsd: number
  rowsCostUsd: number
  differenceCents: number
  capacityGpuHours: number
  allocatedGpuHours: number
  allocatedCostUsd: number
  unallocatedGpuHours: number
  unallocatedCostUsd: number
  policy: IdleSharePolicy
}

/** A chargeback: rows (sorted by key, `__idle__` last), the reconciliation, and warnings. */
export interface Chargeback {
  rows: ChargeRow[]
  reconciliation: Reconciliation
  warnings: string[]
}

const cents = (usd: number): number => Math.round(usd * 100)
const usd = (c: number): number => c / 100

/**
 * Charges each row its allocation at its nodes' rates and shares the cost of
 * unallocated capacity by the policy, in integer cents: allocated costs are
 * apportioned to the rounded total allocated cost, the rest of the fleet's
 * rounded capacity cost is the unallocated cost, which policy none leaves as
 * the `__idle__` row and the others apportion (by allocated cost, or evenly),
 * so the rows sum to the fleet's cost to the cent.
 */
export function chargeback(inputs: readonly ChargeInput[], fleet: FleetCost, policy: IdleSharePolicy): Chargeback {
  const rows = [...inputs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const warnings: string[] = []
  const totalCents = cents(fleet.capacityCostUsd)
  const allocatedCostUsd = rows.reduce((n, r) => n + r.allocatedCostUsd, 0)
  const allocatedCents = apportionCents(cents(allocatedCostUsd), rows.map((r) => r.allocatedCostUsd))
  const unallocatedCents = totalCents - allocatedCents.reduce((n, c) => n + c, 0)
  let effective = policy
  if (policy !== 'none' && (rows.length === 0 || (policy === 'proportional' && allocatedCostUsd <= 0))) {
    effective = 'none'
    if (unallocatedCents !== 0) warnings.push(`idle share '${policy}' has no allocation to share by: the unallocated cost stays in ${IDLE_ROW}`)
  }
  const shares = effective === 'none' ? rows.map(() => 0) : apportionCents(unallocatedCents, effective === 'even' ? rows.map(() => 1) : rows.map((r) => r.allocatedCostUsd))
  const out = rows.map((r, i) => chargeRow(r, allocatedCents[i] ?? 0, shares[i] ?? 0))
  const allocatedGpuHours = rows.reduce((n, r) => n + r.allocatedGpuHours, 0)
  const unallocatedGpuHours = fleet.capacityGpuHours - allocatedGpuHours
  if (effective === 'none') out.push(idleRow(unallocatedGpuHours, unallocatedCents))
  if (unallocatedCents < 0) {
    warnings.push(
      `allocated cost exceeds the fleet's capacity cost by $${usd(-unallocatedCents).toFixed(2)}: pods held GPUs on nodes not counted as capacity (not Ready, cordoned, or with no node state)`,
    )
  }
  const rowsCents = out.reduce((n, r) => n + r.costCents, 0)
  return {
    rows: out,
    warnings,
    reconciliation: {
      reconciled: rowsCents === totalCents,
      fleetCostUsd: usd(totalCents),
      rowsCostUsd: usd(rowsCents),
      differenceCents: rowsCents - totalCents,
      capacityGpuHours: fleet.capacityGpuHours,
      allocatedGpuHours,
      allocatedCostUsd: usd(totalCents - unallocatedCents),
      unallocatedGpuHours,
      unallocatedCostUsd: usd(unallocatedCents),
      policy: effective,
    },
  }
}

/**
 * Splits one parent row's whole cents among its sub-rows (a team's projects
 * for a team-scoped caller): allocated cents by allocated cost, the parent's
 * idle share by the policy, so the sub-rows sum to the parent to the cent.
 */
export function splitRow(parent: Pick<ChargeRow, 'allocatedCostUsd' | 'idleShareCostUsd'>, inputs: readonly ChargeInput[], policy: IdleSharePolicy): ChargeRow[] {
  const rows = [...inputs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  if (rows.length === 0) return []
  const allocated = apportionCents(cents(parent.allocatedCostUsd), rows.map((r) => r.allocatedCostUsd))
  const shareWeights = policy === 'even' ? rows.map(() => 1) : rows.map((r) => r.allocatedCostUsd)
  const shares = apportionCents(cents(parent.idleShareCostUsd), shareWeights)
  return rows.map((r, i) => chargeRow(r, allocated[i] ?? 0, shares[i] ?? 0))
}

function chargeRow(r: ChargeInput, allocatedCents: number, shareCents: number): ChargeRow {
  const known = r.allocatedGpuHours - r.utilUnknownGpuHours
  return {
    key: r.key,
    allocatedGpuHours: r.allocatedGpuHours,
    usedGpuHours: r.usedGpuHours,
    idleGpuHours: r.usedGpuHours === null ? null : Math.max(0, known - r.usedGpuHours),
    utilUnknownGpuHours: r.utilUnknownGpuHours,
    allocatedCostUsd: usd(allocatedCents),
    idleShareCostUsd: usd(shareCents),
    costUsd: usd(allocatedCents + shareCents),
    costCents: allocatedCents + shareCents,
  }
}

function idleRow(unallocatedGpuHours: number, unallocatedCents: number): ChargeRow {
  return {
    key: IDLE_ROW,
    allocatedGpuHours: 0,
    usedGpuHours: null,
    idleGpuHours: unallocatedGpuHours,
    utilUnknownGpuHours: 0,
    allocatedCostUsd: 0,
    idleShareCostUsd: usd(unallocatedCents),
    costUsd: usd(unallocatedCents),
    costCents: unallocatedCents,
  }
}
