/**
 * The report's top findings: a handful of plain sentences a GPU manager can
 * repeat to leadership, each backed by a figure elsewhere in the report.
 * Findings about unknown figures say they are unknown.
 */
import { IDLE_ROW, UNATTRIBUTED_ROW } from '../../core/chargeback'
import { backtestText, capacityText, p50TrendText } from '../planText'
import type { QuarterReport } from './data'

const pct = (x: number) => `${(x * 100).toFixed(1)}%`
const n = (x: number) => Math.round(x).toLocaleString('en-US')
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)
const usd = (x: number) => `$${Math.round(x).toLocaleString('en-US')}`

/** The report's capacity plan. */
type Plan = NonNullable<QuarterReport['plan']>

/** Whether the plan starts within a day of when the report was made: only then is its capacity today's (a past quarter's plan starts at its end). */
const startsNow = (plan: Plan, nowMs: number | undefined) => (nowMs === undefined ? plan.startsNow : nowMs - plan.originMs < 86_400_000)

/**
 * When P90 demand first exceeds capacity, for how many hours, and, when that
 * date lies past the longest backtest, that it rests on widened intervals,
 * with the P50 trend beside it.
 */
function exceedFinding(plan: Plan, cap: string, nextQuarter: string): string {
  const e = plan.exceeds.p90
  if (e.firstMs === null) return `P90 demand stays within ${cap} through ${nextQuarter}.`
  const p50 = plan.exceeds.p50.firstMs !== null ? `; P50 on ${day(plan.exceeds.p50.firstMs)}` : ''
  const head = `P90 demand is forecast to exceed ${cap} on ${day(e.firstMs)}, for ${n(e.hoursAbove)} h in all (hourly P90 up to ${n(plan.peak.p90Gpus)} GPUs${p50}).`
  if (!e.extrapolated) return head
  const within = e.hoursAboveWithinBacktest > 0 ? `P90 is above capacity for ${n(e.hoursAboveWithinBacktest)} h` : 'P90 stays within capacity'
  return `${head} That date is past ${backtestText(plan)}, where the intervals are widened by an assumption, not measured; within the backtest ${within}, and ${p50TrendText(plan)}.`
}

/**
 * Buying against bursting, like for like: both keep P90 on-prem allocation at
 * or under the target. Then, apart, what the burst policy (which bursts only
 * above 100% allocation) would burst with nothing bought: a smaller figure
 * that does not hold the target. P90 burst GPU-hours are an upper bound
 * (every hour at its own P90); a buy figure set past the backtest says so.
 */
function buyOrBurst(plan: Plan, cap: string, pricesAt: string): string[] {
  const target = pct(plan.targetAllocationRatio)
  if (plan.buy.gpus === 0) return [`No GPUs need buying: P90 demand stays at or under ${target} allocation of ${cap}.`]
  const like = plan.burst.aboveTarget.p90
  const policy = plan.burst.p90
  const w = plan.buy.withinBacktest
  const caveat = plan.buy.extrapolated
    ? ` That figure is set by the P90 of ${day(plan.peak.p90AtMs)}, past ${backtestText(plan)}, where intervals are widened by an assumption; within the backtest it is ${n(w.gpus)} GPUs, and ${p50TrendText(plan)}.`
    : ''
  const upper = 'at most, as it takes every hour at its own P90 at once'
  return [
    `Buying ${n(plan.buy.gpus)} GPUs keeps P90 demand at or under ${target} allocation of ${cap}; bursting instead, like for like (all P90 demand above ${target} of it, ` +
      `${n(like.gpuHours)} GPU-hours ${upper}), costs ${usd(like.spotCostUsd)} spot or ${usd(like.onDemandCostUsd)} on-demand${pricesAt}.${caveat}`,
    policy.gpuHours > 0
      ? `With nothing bought, the burst policy (it bursts only when on-prem GPUs are fully allocated) would burst the P90 demand above capacity: ${n(policy.gpuHours)} GPU-hours ${upper}, ` +
        `${usd(policy.spotCostUsd)} spot or ${usd(policy.onDemandCostUsd)} on-demand (less than like for like, as on-prem allocation then runs up to 100%, above the ${target} target; ${plan.burst.policyCap.why}).`
      : `With nothing bought, P90 demand never exceeds capacity, so the burst policy (it bursts only when on-prem GPUs are fully allocated) would burst nothing; on-prem allocation would run above the ${target} target.`,
  ]
}

/** Builds the findings from the report's figures, most decision-relevant first. */
export function reportFindings(r: Omit<QuarterReport, 'findings'>): string[] {
  const out: string[] = []
  const plan = r.plan
  if (plan) {
    const now = startsNow(plan, r.nowMs)
    const cap = capacityText(plan, now)
    const pricesAt = now || r.nowMs === undefined ? '' : ` (prices in effect at ${day(r.nowMs)})`
    out.push(exceedFinding(plan, cap, r.nextQuarter))
    out.push(...buyOrBurst(plan, cap, pricesAt))
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
    : `Allocated GPUs were ${pct(t.utilRatio)} utilized (${t.utilMetric}) over the ${pct(t.utilCoverageRatio ?? 0)} of allocated GPU-hours with DCGM samples (${n(t.sampledGpuHours)} GPU-hours); the rest is unknown.`)
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
