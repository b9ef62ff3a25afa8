/**
 * The report's top findings: a handful of plain sentences a GPU manager can
 * repeat to leadership, each backed by a figure elsewhere in the report.
 * Findings about unknown figures say they are unknown.
 */
import { IDLE_ROW, UNATTRIBUTED_ROW } from '../../core/chargeback'
import type { QuarterReport } from './data'

const pct = (x: number) => `${(x * 100).toFixed(1)}%`
const n = (x: number) => Math.round(x).toLocaleString('en-US')
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)
const usd = (x: number) => `$${Math.round(x).toLocaleString('en-US')}`

/**
 * Buying against bursting, like for like: both keep P90 on-prem allocation at
 * or under the target. Then, apart, what the burst policy (which bursts only
 * above 100% allocation) would burst with nothing bought: a smaller figure
 * that does not hold the target.
 */
function buyOrBurst(plan: NonNullable<QuarterReport['plan']>): string[] {
  const target = pct(plan.targetAllocationRatio)
  if (plan.buy.gpus === 0) return [`No GPUs need buying: P90 demand stays at or under ${target} allocation of today's capacity.`]
  const like = plan.burst.aboveTarget.p90
  const policy = plan.burst.p90
  return [
    `Buying ${n(plan.buy.gpus)} GPUs keeps P90 demand at or under ${target} allocation; bursting instead, like for like (all P90 demand above ${target} of today's ${n(plan.capacityGpus)} GPUs, ` +
      `${n(like.gpuHours)} GPU-hours), costs ${usd(like.spotCostUsd)} spot or ${usd(like.onDemandCostUsd)} on-demand.`,
    policy.gpuHours > 0
      ? `With nothing bought, the burst policy (it bursts only when on-prem GPUs are fully allocated) would burst the P90 demand above capacity: ${n(policy.gpuHours)} GPU-hours, ` +
        `${usd(policy.spotCostUsd)} spot or ${usd(policy.onDemandCostUsd)} on-demand (less than like for like, as on-prem allocation then runs up to 100%, above the ${target} target).`
      : `With nothing bought, P90 demand never exceeds capacity, so the burst policy (it bursts only when on-prem GPUs are fully allocated) would burst nothing; on-prem allocation would run above the ${target} target.`,
  ]
}

/** Builds the findings from the report's figures, most decision-relevant first. */
export function reportFindings(r: Omit<QuarterReport, 'findings'>): string[] {
  const out: string[] = []
  const plan = r.plan
  if (plan) {
    const p90 = plan.exceeds.p90.firstMs
    out.push(p90 === null
      ? `P90 demand stays within today's ${n(plan.capacityGpus)} GPUs through ${r.nextQuarter}.`
      : `P90 demand is forecast to exceed today's ${n(plan.capacityGpus)} GPUs on ${day(p90)}${plan.exceeds.p50.firstMs !== null ? ` (P50 on ${day(plan.exceeds.p50.firstMs)})` : ''}.`)
    out.push(...buyOrBurst(plan))
  }
  const t = r.totals
  if (t.allocationRatio !== null) {
    const peak = r.days.reduce((best, d) => (d.capacityGpus && d.allocatedGpus / d.capacityGpus > (best.ratio ?? -1) ? { ratio: d.allocatedGpus / d.capacityGpus, dayMs: d.dayMs } : best), { ratio: null as number | null, dayMs: 0 })
    out.push(`Allocation averaged ${pct(t.allocationRatio)} of capacity over the quarter${peak.ratio !== null ? `, peaking at ${pct(peak.ratio)} on ${day(peak.dayMs)}` : ''}.`)
  }
  const demand = t.allocatedGpuHours + t.pendingGpuHours
  if (demand > 0 && t.pendingGpuHours / demand >= 0.01) out.push(`${pct(t.pendingGpuHours / demand)} of demand (${n(t.pendingGpuHours)} GPU-hours) waited in pending pods: work queued for GPUs.`)
  out.push(t.utilRatio === null
    ? 'Utilization of allocated GPUs is unknown for the quarter: no DCGM samples were stored.'
    : `Allocated GPUs were ${pct(t.utilRatio)} utilized (${t.utilMetric}).`)
  const worst = r.waste.find((w) => w.wasteGpuHours !== null && w.team !== IDLE_ROW)
  if (worst && worst.wasteGpuHours !== null) out.push(`Team ${worst.team} left the most allocated GPU time idle: ${n(worst.wasteGpuHours)} GPU-hours, ${pct(1 - (worst.utilRatio ?? 0))} of the ${n(worst.measuredGpuHours)} GPU-hours with DCGM samples${worst.unknownGpuHours >= 1 ? ` (${n(worst.unknownGpuHours)} more had none)` : ''}.`)
  const lost = r.finalStates?.totals
  if (lost && lost.failedOrCancelledRatio !== null && lost.failedOrCancelledGpuHours > 0) {
    const team = r.finalStates?.groups[0]
    out.push(`${pct(lost.failedOrCancelledRatio)} of the GPU time of work that ended went to pods that failed or were cancelled (${n(lost.failedOrCancelledGpuHours)} GPU-hours)` +
      `${team && team.failedOrCancelledGpuHours > 0 ? `; team ${team.team === '' ? UNATTRIBUTED_ROW : team.team} lost the most (${n(team.failedOrCancelledGpuHours)} GPU-hours)` : ''}.`)
  }
  if (r.forecast) {
    const c = r.forecast.choice
    out.push(c.naive ? `Forecasting: seasonal naive is the model (${c.reason}).` : `Forecasting: ${c.label} beats seasonal naive in backtests (sMAPE ${pct(c.score.smapeRatio)} vs ${pct(c.bar.smapeRatio)}).`)
  }
  return out
}
