/**
 * Calendar roll-ups of hourly series (UTC months and days): the capacity
 * plan's month-by-month trend and the report's daily chart points. Means are
 * over the hours a period has data for; a period with none is null, never 0.
 */
import type { UtilHourRow } from '../store/queries/demand'
import type { DemandSeries } from './demand'
import type { SeriesForecast } from './forecast'
import { probIndex } from './intervals'
import { HOUR_MS } from './series'

/** Utilization samples of allocated GPUs in one hour (see store/queries/demand.ts). */
export type UtilHour = UtilHourRow

/** Which DCGM metric a utilization figure came from. */
export type UtilMetric = 'GR_ENGINE_ACTIVE' | 'GPU_UTIL' | 'mixed'

/** One UTC month of the trend: measured hours, forecast hours, or both. */
export interface MonthTrend {
  month: string
  fromMs: number
  toMs: number
  actualHours: number
  forecastHours: number
  capacityGpus: number | null
  allocatedGpus: number | null
  demandGpus: number | null
  p50DemandGpus: number | null
  p90DemandGpus: number | null
  /** Allocated GPU-hours / capacity GPU-hours over the measured hours. */
  allocationRatio: number | null
  /** P50 demand / capacity over the forecast hours. */
  forecastDemandRatio: number | null
  /** Mean utilization of allocated GPUs over the measured hours with samples. */
  utilRatio: number | null
  utilMetric: UtilMetric | null
}

/** UTC month key and bounds of an instant. */
export function monthOf(ms: number): { month: string; fromMs: number; toMs: number } {
  const d = new Date(ms)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth()
  return { month: `${y}-${String(m + 1).padStart(2, '0')}`, fromMs: Date.UTC(y, m, 1), toMs: Date.UTC(y, m + 1, 1) }
}

/** The metric behind a set of samples: all GR_ENGINE_ACTIVE, all GPU_UTIL, or mixed; null with none. */
export function utilMetricOf(samples: number, grSamples: number): UtilMetric | null {
  if (samples === 0) return null
  return grSamples === samples ? 'GR_ENGINE_ACTIVE' : grSamples === 0 ? 'GPU_UTIL' : 'mixed'
}

interface Acc {
  actualHours: number
  forecastHours: number
  capacity: number
  allocated: number
  demand: number
  p50: number
  p90: number
  capForecast: number
  utilSum: number
  utilN: number
  samples: number
  grSamples: number
}

const emptyAcc = (): Acc => ({ actualHours: 0, forecastHours: 0, capacity: 0, allocated: 0, demand: 0, p50: 0, p90: 0, capForecast: 0, utilSum: 0, utilN: 0, samples: 0, grSamples: 0 })

/** Month-by-month capacity, allocation, demand and utilization (measured), then P50/P90 demand against held capacity (forecast). */
export function monthlyTrend(history: DemandSeries, util: readonly UtilHour[], forecast: SeriesForecast | undefined, heldCapacityGpus: number): MonthTrend[] {
  const months = new Map<string, Acc & { fromMs: number; toMs: number }>()
  const at = (ms: number) => {
    const m = monthOf(ms)
    return months.get(m.month) ?? months.set(m.month, { ...emptyAcc(), fromMs: m.fromMs, toMs: m.toMs }).get(m.month)!
  }
  history.demand.forEach((d, i) => {
    const a = at(history.startMs + i * HOUR_MS)
    a.actualHours++
    a.demand += d
    a.allocated += history.allocated[i]!
    a.capacity += history.capacity?.[i] ?? 0
  })
  for (const u of util) {
    const a = at(u.bucketMs)
    a.utilSum += u.weightedSum
    a.utilN += u.weightedN
    a.samples += u.samples
    a.grSamples += u.grEngineActiveSamples
  }
  if (forecast) {
    const [p50, p90] = [probIndex(0.5), probIndex(0.9)]
    forecast.quantiles.forEach((q, h) => {
      const a = at(forecast.originMs + h * HOUR_MS)
      a.forecastHours++
      a.p50 += q[p50]!
      a.p90 += q[p90]!
      a.capForecast += heldCapacityGpus
    })
  }
  const hasCapacity = history.capacity !== null
  return [...months.entries()].sort((x, y) => x[1].fromMs - y[1].fromMs).map(([month, a]) => ({
    month, fromMs: a.fromMs, toMs: a.toMs, actualHours: a.actualHours, forecastHours: a.forecastHours,
    capacityGpus: hasCapacity && a.actualHours + a.forecastHours > 0 ? (a.capacity + a.capForecast) / (a.actualHours + a.forecastHours) : null,
    allocatedGpus: a.actualHours > 0 ? a.allocated / a.actualHours : null,
    demandGpus: a.actualHours > 0 ? a.demand / a.actualHours : null,
    p50DemandGpus: a.forecastHours > 0 ? a.p50 / a.forecastHours : null,
    p90DemandGpus: a.forecastHours > 0 ? a.p90 / a.forecastHours : null,
    allocationRatio: hasCapacity && a.capacity > 0 ? a.allocated / a.capacity : null,
    forecastDemandRatio: a.capForecast > 0 ? a.p50 / a.capForecast : null,
    utilRatio: a.utilN > 0 ? a.utilSum / a.utilN : null,
    utilMetric: utilMetricOf(a.samples, a.grSamples),
  }))
}

/** Daily (UTC) means of an hourly series starting at startMs; a day with no hour is absent. */
export function dailyMeans(startMs: number, values: readonly number[]): Array<{ dayMs: number; value: number; hours: number }> {
  const out: Array<{ dayMs: number; value: number; hours: number }> = []
  values.forEach((v, i) => {
    const dayMs = Math.floor((startMs + i * HOUR_MS) / 86_400_000) * 86_400_000
    const last = out[out.length - 1]
    if (last && last.dayMs === dayMs) {
      last.value += v
      last.hours++
    } else out.push({ dayMs, value: v, hours: 1 })
  })
  return out.map((d) => ({ ...d, value: d.value / d.hours }))
}
