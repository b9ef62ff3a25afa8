/**
 * The dual ledger: every chargeback row carries its allocated GPU-hours beside
 * its effective GPU-hours (allocation × utilization), and the cost of the
 * GPU-hours it held idle is named on it, whatever basis the bill is on:
 *
 * - `allocated` (default): owners pay for what they held (the chargeback as
 *   computed by core/chargeback.ts);
 * - `effective`: owners pay for what they used; the cost of GPU-hours they held
 *   idle moves to the `__idle_allocated__` row, which the fleet carries — it is
 *   still shown per owner (`idleAllocatedCostUsd`), never spread away;
 * - `hybrid`: owners pay for what they held plus a surcharge (or, negative, a
 *   credit) per idle-while-allocated GPU-hour; the `__idle_allocated__` row
 *   holds the opposite sum, so the bill still reconciles to the fleet's cost.
 *
 * GPU-hours with no utilization sample are never assumed idle: they count as
 * used under every basis (unknown is not zero). All money moves in whole
 * cents by largest remainder, so the rows sum to the fleet's cost to the cent.
 */
import { apportionCents, IDLE_ROW, type ChargeRow } from './chargeback'

export type ChargeBasis = 'allocated' | 'effective' | 'hybrid'
export const CHARGE_BASES: readonly ChargeBasis[] = ['allocated', 'effective', 'hybrid']

/** Where the cost of idle-while-allocated GPU-hours goes when owners do not pay it (effective), or the surcharges' offset (hybrid). */
export const IDLE_ALLOCATED_ROW = '__idle_allocated__'

export interface BasisPolicy {
  basis: ChargeBasis
  /** hybrid: $ added per idle-while-allocated GPU-hour (negative = a credit). */
  idleSurchargeUsdPerGpuHour: number
}

/** A chargeback row on the dual ledger. */
export interface LedgerRow extends ChargeRow {
  /** allocation × utilization over the time utilization is known (null when it never is). */
  effectiveGpuHours: number | null
  /** What the row's idle-while-allocated GPU-hours cost at its rates (allocated basis). */
  idleAllocatedCostUsd: number
  /** What the basis changed on the row: −idleAllocatedCostUsd (effective), the surcharge (hybrid), 0 (allocated). */
  basisAdjustmentUsd: number
}

/** Dollars from cents; never −0 (a JSON or CSV reader would show it as -0). */
const usd = (cents: number): number => (cents === 0 ? 0 : cents / 100)

/** A row that holds no allocation: unallocated capacity, or this ledger's own offset row. */
const isFleetRow = (r: ChargeRow): boolean => r.key === IDLE_ROW || r.key === IDLE_ALLOCATED_ROW

/**
 * Puts chargeback rows on a basis. The rows' own costs (allocated cost plus
 * any idle share) are the input; the result's rows sum to the same cents as
 * the input's, with the `__idle_allocated__` row added when the basis moved
 * anything.
 */
export function applyChargeBasis(rows: readonly ChargeRow[], policy: BasisPolicy): LedgerRow[] {
  const owners = rows.filter((r) => !isFleetRow(r))
  // The idle-while-allocated cost per owner at its average rate, apportioned in whole cents.
  const idleUsd = owners.map((r) => (r.allocatedGpuHours > 0 && r.idleGpuHours !== null ? (r.allocatedCostUsd * r.idleGpuHours) / r.allocatedGpuHours : 0))
  const idleCents = apportionCents(Math.round(idleUsd.reduce((a, b) => a + b, 0) * 100), idleUsd)
  let adjustCents: number[]
  if (policy.basis === 'effective') adjustCents = idleCents.map((c) => -c)
  else if (policy.basis === 'hybrid') {
    const hours = owners.map((r) => r.idleGpuHours ?? 0)
    const total = Math.round(hours.reduce((a, b) => a + b, 0) * policy.idleSurchargeUsdPerGpuHour * 100)
    adjustCents = apportionCents(total, hours)
  } else adjustCents = owners.map(() => 0)

  const byKey = new Map(owners.map((r, i) => [r.key, i]))
  const out: LedgerRow[] = rows.map((r) => {
    const i = byKey.get(r.key)
    const idle = i === undefined ? 0 : (idleCents[i] ?? 0)
    const adjust = i === undefined ? 0 : (adjustCents[i] ?? 0)
    const costCents = r.costCents + adjust
    return { ...r, effectiveGpuHours: isFleetRow(r) ? null : r.usedGpuHours, idleAllocatedCostUsd: usd(idle), basisAdjustmentUsd: usd(adjust), costCents, costUsd: usd(costCents) }
  })
  const moved = adjustCents.reduce((a, b) => a + b, 0) || 0
  if (policy.basis !== 'allocated' && owners.length > 0) {
    out.push({
      key: IDLE_ALLOCATED_ROW,
      allocatedGpuHours: 0,
      usedGpuHours: null,
      effectiveGpuHours: null,
      idleGpuHours: owners.reduce((n, r) => n + (r.idleGpuHours ?? 0), 0),
      utilUnknownGpuHours: 0,
      allocatedCostUsd: 0,
      idleShareCostUsd: 0,
      idleAllocatedCostUsd: usd(idleCents.reduce((a, b) => a + b, 0)),
      basisAdjustmentUsd: usd(-moved),
      costUsd: usd(-moved),
      costCents: 0 - moved || 0,
    })
  }
  return out
}

/**
 * A team-scoped caller's rows on the basis: the sub-rows (already split from
 * the team's row to the cent, on the allocated basis) take the team row's
 * basis adjustment apportioned by their own idle cost (or idle hours for a
 * hybrid surcharge), so they sum to the team's row on the basis to the cent.
 * No `__idle_allocated__` row: that is the fleet's, not the team's.
 */
export function splitOnBasis(parent: LedgerRow, subRows: readonly ChargeRow[], policy: BasisPolicy): LedgerRow[] {
  const own = applyChargeBasis(subRows, policy).filter((r) => r.key !== IDLE_ALLOCATED_ROW)
  const weights = own.map((r) => (policy.basis === 'hybrid' ? (r.idleGpuHours ?? 0) : r.idleAllocatedCostUsd))
  const idle = apportionCents(Math.round(parent.idleAllocatedCostUsd * 100), own.map((r) => r.idleAllocatedCostUsd))
  const adjust = policy.basis === 'allocated' ? own.map(() => 0) : apportionCents(Math.round(parent.basisAdjustmentUsd * 100), weights)
  return own.map((r, i) => {
    const base = r.costCents - Math.round(r.basisAdjustmentUsd * 100)
    const costCents = base + (adjust[i] ?? 0)
    return { ...r, idleAllocatedCostUsd: usd(idle[i] ?? 0), basisAdjustmentUsd: usd(adjust[i] ?? 0), costCents, costUsd: usd(costCents) }
  })
}
