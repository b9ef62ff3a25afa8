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

/**
 * Per UTC day of the forecast: the mean of each hourly quantile (P5..P95) and
 * its lowest and highest hourly value (`min`, `max`), so a daily chart can
 * still show an hour whose P90 crosses capacity.
 */
export function dailyForecast(f: SeriesForecast): Array<{ dayMs: number; q: number[]; min: number[]; max: number[] }> {
  const out: Array<{ dayMs: number; q: number[]; min: number[]; max: number[]; hours: number }> = []
  f.quantiles.forEach((q, h) => {
    const dayMs = Math.floor((f.originMs + h * HOUR_MS) / 86_400_000) * 86_400_000
    const last = out[out.length - 1]
    if (last && last.dayMs === dayMs) {
      q.forEach((v, i) => {
        last.q[i]! += v
        last.min[i] = Math.min(last.min[i]!, v)
        last.max[i] = Math.max(last.max[i]!, v)
      })
      last.hours++
    } else out.push({ dayMs, q: [...q], min: [...q], max: [...q], hours: 1 })
  })
  return out.map((d) => ({ dayMs: d.dayMs, q: d.q.map((v) => v / d.hours), min: d.min, max: d.max }))
}

/**
 * The fan chart: recent daily demand, then P50 (daily mean) with the 50 %
 * band (daily means) and the 80 % band from each day's lowest hourly P10 to
 * its highest hourly P90, against capacity and the target allocation line;
 * days with an hour of P90 above capacity are marked at that hour's P90, and
 * a vertical line shows where the longest backtest ends (the bands past it
 * are widened by an assumption).
 */
export function fanChart(r: QuarterReport): string {
  const f = r.forecast
  if (!f) return timeChart({ id: 'chart-fan', title: `Demand forecast, ${r.nextQuarter}`, unit: 'GPUs', lines: [] })
  const days = dailyForecast(f)
  const [p10, p25, p50, p75, p90] = [0.1, 0.25, 0.5, 0.75, 0.9].map(probIndex) as [number, number, number, number, number]
  const xs = [...r.recent.map((d) => d.dayMs), ...days.map((d) => d.dayMs)]
  const flat = (v: number | null): Array<[number, number | null]> => (v === null ? [] : [[xs[0]!, v], [xs[xs.length - 1]!, v]])
  const capacity = r.plan?.capacityGpus ?? null
  const above = capacity === null ? [] : days.filter((d) => d.max[p90]! > capacity)
  // Past the longest backtest the band is widened by an assumption (forecasting/intervals.ts): draw where that starts.
  const widenedMs = r.plan?.intervals.widenedFromMs ?? null
  const top = Math.max(capacity ?? 0, ...days.map((d) => d.max[p90]!))
  return timeChart({
    id: 'chart-fan',
    title: `Demand forecast to the end of ${r.nextQuarter}: ${f.model.label}`,
    unit: 'GPUs',
    bands: [
      { name: 'P10-P90 (hourly extremes)', color: COLORS.fan, opacity: 0.18, points: days.map((d) => [d.dayMs, d.min[p10]!, d.max[p90]!]) },
      { name: 'P25-P75 (daily means)', color: COLORS.fan, opacity: 0.35, points: days.map((d) => [d.dayMs, d.q[p25]!, d.q[p75]!]) },
    ],
    lines: [
      { name: 'demand (measured)', color: '#222222', points: r.recent.map((d) => [d.dayMs, d.value]) },
      { name: 'P50 demand', color: COLORS.fan, points: days.map((d) => [d.dayMs, d.q[p50]!]) },
      { name: 'capacity', color: COLORS.capacity, points: flat(capacity) },
      ...(r.plan ? [{ name: `${Math.round(r.plan.targetAllocationRatio * 100)}% of capacity`, color: COLORS.target, points: flat(capacity === null ? null : capacity * r.plan.targetAllocationRatio), dashed: true }] : []),
      ...(widenedMs === null ? [] : [{ name: 'intervals widened past here (assumption)', color: '#999999', points: [[widenedMs, 0], [widenedMs, top]] as Array<[number, number]>, dashed: true }]),
      ...(above.length > 0 ? [{ name: 'hourly P90 above capacity', color: COLORS.target, points: above.map((d): [number, number] => [d.dayMs, d.max[p90]!]), markers: true }] : []),
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
  return barChart({ id: 'chart-waste', title: `Idle waste by team, ${r.quarter}, over the ${((r.totals.utilCoverageRatio ?? 0) * 100).toFixed(1)}% of allocated GPU-hours with DCGM samples`, unit: 'GPU-h', bars: known.map((w) => ({ label: w.team, value: w.wasteGpuHours!, color: '#e45756' })) })
}
