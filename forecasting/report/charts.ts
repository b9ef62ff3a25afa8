/**
 * The report's charts, built from its data: capacity against allocation,
 * demand and utilization over the quarter; the demand fan for the next
 * quarter; chargeback and idle waste by team.
 */
import { IDLE_ROW } from '../../core/chargeback'
import type { SeriesForecast } from '../forecast'
import { probIndex } from '../intervals'
import { HOUR_MS } from '../series'
import type { QuarterReport } from './data'
import { barChart, timeChart } from './svg'

const COLORS = { capacity: '#6b6b6b', allocated: '#4c78a8', demand: '#f58518', used: '#54a24b', fan: '#4c78a8', target: '#e45756' }

/** Capacity, allocated, demand and used GPUs per day of the quarter. */
export function quarterChart(r: QuarterReport): string {
  const pts = <K extends 'capacityGpus' | 'allocatedGpus' | 'demandGpus' | 'usedGpus'>(k: K) => r.days.map((d): [number, number | null] => [d.dayMs, d[k]])
  const lines = [
    { name: 'capacity', color: COLORS.capacity, points: pts('capacityGpus') },
    { name: 'allocated', color: COLORS.allocated, points: pts('allocatedGpus') },
    { name: 'demand (allocated + pending)', color: COLORS.demand, points: pts('demandGpus'), dashed: true },
    ...(r.days.some((d) => d.usedGpus !== null) ? [{ name: 'used (allocated × utilization)', color: COLORS.used, points: pts('usedGpus') }] : []),
  ]
  return timeChart({ id: 'chart-quarter', title: `Capacity, allocation and utilization, ${r.quarter} (daily means)`, unit: 'GPUs', lines })
}

/** Daily means of the forecast's hourly quantiles (P5..P95) and point. */
export function dailyForecast(f: SeriesForecast): Array<{ dayMs: number; q: number[] }> {
  const out: Array<{ dayMs: number; q: number[]; hours: number }> = []
  f.quantiles.forEach((q, h) => {
    const dayMs = Math.floor((f.originMs + h * HOUR_MS) / 86_400_000) * 86_400_000
    const last = out[out.length - 1]
    if (last && last.dayMs === dayMs) {
      q.forEach((v, i) => (last.q[i]! += v))
      last.hours++
    } else out.push({ dayMs, q: [...q], hours: 1 })
  })
  return out.map((d) => ({ dayMs: d.dayMs, q: d.q.map((v) => v / d.hours) }))
}

/** The fan chart: recent daily demand, then P50 with 50 % and 80 % bands, against capacity and the target allocation line. */
export function fanChart(r: QuarterReport): string {
  const f = r.forecast
  if (!f) return timeChart({ id: 'chart-fan', title: `Demand forecast, ${r.nextQuarter}`, unit: 'GPUs', lines: [] })
  const days = dailyForecast(f)
  const [p10, p25, p50, p75, p90] = [0.1, 0.25, 0.5, 0.75, 0.9].map(probIndex) as [number, number, number, number, number]
  const xs = [...r.recent.map((d) => d.dayMs), ...days.map((d) => d.dayMs)]
  const flat = (v: number | null): Array<[number, number | null]> => (v === null ? [] : [[xs[0]!, v], [xs[xs.length - 1]!, v]])
  const capacity = r.plan?.capacityGpus ?? null
  return timeChart({
    id: 'chart-fan',
    title: `Demand forecast to the end of ${r.nextQuarter}: ${f.model.label}`,
    unit: 'GPUs',
    bands: [
      { name: 'P10-P90', color: COLORS.fan, opacity: 0.18, points: days.map((d) => [d.dayMs, d.q[p10]!, d.q[p90]!]) },
      { name: 'P25-P75', color: COLORS.fan, opacity: 0.35, points: days.map((d) => [d.dayMs, d.q[p25]!, d.q[p75]!]) },
    ],
    lines: [
      { name: 'demand (measured)', color: '#222222', points: r.recent.map((d) => [d.dayMs, d.value]) },
      { name: 'P50 demand', color: COLORS.fan, points: days.map((d) => [d.dayMs, d.q[p50]!]) },
      { name: 'capacity', color: COLORS.capacity, points: flat(capacity) },
      ...(r.plan ? [{ name: `${Math.round(r.plan.targetAllocationRatio * 100)}% of capacity`, color: COLORS.target, points: flat(capacity === null ? null : capacity * r.plan.targetAllocationRatio), dashed: true }] : []),
    ],
  })
}

/** Cost by team from the chargeback (the `__idle__` row in grey). */
export function chargebackChart(r: QuarterReport): string | null {
  if (!r.chargeback || r.chargeback.rows.length === 0) return null
  const bars = [...r.chargeback.rows].sort((a, b) => b.costUsd - a.costUsd).map((row) => ({ label: row.key, value: row.costUsd, color: row.key === IDLE_ROW ? '#bbbbbb' : '#4c78a8' }))
  return barChart({ id: 'chart-chargeback', title: `Chargeback by team, ${r.quarter}`, unit: 'USD', bars })
}

/** Idle waste GPU-hours by team; null when no team's utilization is known. */
export function wasteChart(r: QuarterReport): string | null {
  const known = r.waste.filter((w) => w.wasteGpuHours !== null)
  if (known.length === 0) return null
  return barChart({ id: 'chart-waste', title: `Idle waste by team, ${r.quarter}`, unit: 'GPU-h', bars: known.map((w) => ({ label: w.team, value: w.wasteGpuHours!, color: '#e45756' })) })
}
