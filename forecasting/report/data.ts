/**
 * Everything the quarterly capacity report shows, read once: the fleet's
 * capacity, allocation, demand and utilization over the quarter (exact
 * intervals, hourly, rolled up by day), the demand forecast for the next
 * quarter with the capacity plan, chargeback and idle waste by team (as GET
 * /api/v1/chargeback computes them for the quarter), GPU-hours
 * by final state (waste from failed and cancelled work), and the findings. A part that cannot be built becomes a warning, not a failure.
 */
import type { Config } from '../../config/schema'
import { chargeback, chargeInputs, costByKey, UNATTRIBUTED_ROW, type Chargeback } from '../../core/chargeback'
import { InputError, NotFoundError } from '../../core/errors'
import { summarizeFinalStates, type FinalStatesSummary } from '../../core/finalStates'
import { applyChargeBasis, type BasisPolicy, type LedgerRow } from '../../core/ledger'
import type { QueryFn } from '../../core/ports'
import type { UsageTotals } from '../../core/usage'
import { parseWindow, quarterOf, type TimeWindow } from '../../core/windows'
import { utilizationHourly } from '../../store/queries/demand'
import { allocationCost, capacityCost } from '../../store/queries/fleet'
import { finalStateRows } from '../../store/queries/finalStates'
import { usedByKey } from '../../store/queries/usage'
import { heldText, loadDemand, storeHours, type DemandSeries } from '../demand'
import { forecastSeries, type SeriesForecast } from '../forecast'
import type { CapacityPlan } from '../plan'
import { endOf, HOUR_MS } from '../series'
import { burstSourcesOf, forecastOptions, planOf } from '../service'
import { dailyMeans, utilMetricOf, type UtilHour, type UtilMetric } from '../trend'
import { reportFindings } from './findings'

const DAY_MS = 24 * HOUR_MS

/** One day of the quarter: mean GPUs, and utilization of allocated GPUs when known. */
export interface ReportDay {
  dayMs: number
  capacityGpus: number | null
  allocatedGpus: number
  pendingGpus: number
  demandGpus: number
  utilRatio: number | null
  /** allocated × utilization: GPUs' worth of work actually done. */
  usedGpus: number | null
}

/** Quarter totals. */
export interface ReportTotals {
  capacityGpuHours: number | null
  allocatedGpuHours: number
  pendingGpuHours: number
  allocationRatio: number | null
  /** used / sampled GPU-hours: utilization of the allocated GPU-hours with DCGM samples only (see utilCoverageRatio). */
  utilRatio: number | null
  utilMetric: UtilMetric | null
  /** Allocated GPU-hours with DCGM samples (the chargeback's allocated minus unknown GPU-hours, summed over teams). */
  sampledGpuHours: number
  /** sampledGpuHours / allocated GPU-hours of the same read: the share of allocation utilRatio speaks for; null with no allocation. */
  utilCoverageRatio: number | null
}

/** How much of a month's allocation had DCGM samples, for the month rows' utilization (measured months only). */
export interface MonthCoverage {
  month: string
  allocatedGpuHours: number
  sampledGpuHours: number
  /** sampled / allocated; null with no allocation. */
  coverageRatio: number | null
}

/**
 * The report's chargeback: GET /api/v1/chargeback's rows for the quarter by
 * team, on the configured basis (analytics.chargeBasis, with its hybrid
 * surcharge) and idle share (reconciliation.policy).
 */
export interface ReportChargeback extends Omit<Chargeback, 'rows'> {
  rows: LedgerRow[]
  basis: BasisPolicy
  /** The period charged: the quarter up to now, as GET /chargeback?period=<quarter> charges it. */
  period: TimeWindow
}

/**
 * Idle waste of one team: allocated GPU-hours × (1 − utilization) (DESIGN.md,
 * Definitions), over the GPU-hours that have utilization samples; the rest is
 * reported as unknown, never as used or idle.
 */
export interface TeamWaste {
  team: string
  allocatedGpuHours: number
  /** Allocated GPU-hours with utilization samples. */
  measuredGpuHours: number
  utilRatio: number | null
  wasteGpuHours: number | null
  unknownGpuHours: number
}

/** The report's content. */
export interface QuarterReport {
  quarter: string
  nextQuarter: string
  window: TimeWindow
  nowMs: number
  /** Hours of the quarter with data (before now and after the store first saw the fleet). */
  dataWindow: TimeWindow
  days: ReportDay[]
  totals: ReportTotals
  forecast: SeriesForecast | null
  /** Daily demand of the weeks before the forecast origin, drawn before the fan. */
  recent: Array<{ dayMs: number; value: number }>
  plan: CapacityPlan | null
  /** Coverage of the plan's measured months (plan.months), by month. */
  monthCoverage: MonthCoverage[]
  chargeback: ReportChargeback | null
  waste: TeamWaste[]
  /** GPU-hours by final state, fleet and by team, with the top repeat offenders; null when it could not be read. */
  finalStates: FinalStatesSummary | null
  findings: string[]
  warnings: string[]
}

/** The quarter after a quarter name, e.g. 2026-Q4 → 2027-Q1. */
export function nextQuarterOf(quarter: string): string {
  return quarterOf(parseWindow(quarter, 0).toMs)
}

/**
 * Reads and computes the whole report for a quarter (`2026-Q3`) as of now;
 * `isDefault` says the caller did not name the quarter (messages say so).
 */
export async function loadQuarterReport(query: QueryFn, config: Config, quarter: string, nowMs: number, isDefault = false): Promise<QuarterReport> {
  const window = parseWindow(quarter, nowMs)
  const named = `quarter ${quarter}${isDefault ? ' (the default: the last complete quarter)' : ''}`
  if (window.fromMs >= nowMs) throw new InputError(`${named} has not started yet (now is ${new Date(nowMs).toISOString()})`)
  const warnings: string[] = []
  const fleet = await loadDemand(query, 'fleet', window, nowMs).catch(async (err: unknown) => {
    throw err instanceof NotFoundError ? await noQuarterData(query, named, nowMs, err) : err
  })
  const dataWindow = { fromMs: fleet.startMs, toMs: endOf({ startMs: fleet.startMs, values: fleet.demand }) }
  const span = { ...dataWindow, nowMs }
  if (dataWindow.fromMs > window.fromMs) warnings.push(`the store has data from ${new Date(dataWindow.fromMs).toISOString()} only: earlier days of the quarter are not shown`)
  if (dataWindow.toMs < window.toMs) warnings.push(`the quarter is not over: figures run to ${new Date(dataWindow.toMs).toISOString()}`)
  // Chargeback, waste and coverage over the quarter up to now, read as GET /chargeback?period=<quarter>&by=team reads them.
  const charged = { fromMs: window.fromMs, toMs: Math.min(window.toMs, nowMs) }
  const [util, used] = await Promise.all([utilizationHourly(query, emptyFilter(), { ...span, stepMs: HOUR_MS }), usedByKey(query, charged, nowMs, 'team', {})])
  const next = nextQuarterOf(quarter)
  const { forecast, plan, history } = await forecastAndPlan(query, config, next, dataWindow.toMs, nowMs, warnings)
  const monthCoverage = plan && history ? await monthCoverageOf(query, plan, { fromMs: history.startMs, toMs: dataWindow.toMs }, nowMs, warnings) : []
  const cb = await chargebackOf(query, config, charged, nowMs, used, warnings)
  const finalStates = await finalStatesOf(query, span, warnings)
  const report: QuarterReport = {
    quarter, nextQuarter: next, window, nowMs, dataWindow,
    days: daysOf(fleet, util), totals: totalsOf(fleet, util, used), forecast,
    recent: history ? dailyMeans(history.startMs, history.demand).slice(-28) : [],
    plan, monthCoverage, chargeback: cb, waste: wasteOf(used), finalStates, findings: [], warnings,
  }
  report.findings = reportFindings(report)
  return report
}

/** The NotFoundError for a quarter the store has no fleet data in: what it holds, and which quarters to ask for instead. */
async function noQuarterData(query: QueryFn, named: string, nowMs: number, cause: NotFoundError): Promise<NotFoundError> {
  const held = await storeHours(query, 'fleet', nowMs)
  if (!held) return new NotFoundError(`no data for ${named}: ${heldText(held, 'fleet data')}`, { cause })
  const [first, last] = [quarterOf(held.fromMs), quarterOf(held.toMs - 1)]
  const ask = first === last ? first : `a quarter from ${first} to ${last}`
  return new NotFoundError(`no data for ${named}: ${heldText(held, 'fleet data')}; ask for ${ask}`, { cause })
}

const emptyFilter = () => ({ clusters: [], pools: [], gpuModels: [], teams: [] })

async function forecastAndPlan(query: QueryFn, config: Config, next: string, originMs: number, nowMs: number, warnings: string[]) {
  const none = { forecast: null, plan: null, history: null }
  const cfg = config.forecast
  const history = await loadDemand(query, 'fleet', { fromMs: originMs - cfg.historyDays * DAY_MS, toMs: originMs }, nowMs)
  const horizonHours = Math.round((parseWindow(next, nowMs).toMs - originMs) / HOUR_MS)
  let forecast: SeriesForecast
  try {
    forecast = forecastSeries({ startMs: history.startMs, values: history.demand }, forecastOptions(cfg, horizonHours))
  } catch (err) {
    if (!(err instanceof InputError)) throw err
    warnings.push(`no forecast for ${next}: ${err.message}`)
    return none
  }
  const at = { history, forecast, selector: 'fleet', fromMs: history.startMs, originMs }
  const { plan, warnings: planWarnings } = await planOf(query, at, cfg, nowMs, burstSourcesOf(config))
  warnings.push(...planWarnings)
  return { forecast, plan, history }
}

/**
 * Chargeback by team as GET /api/v1/chargeback computes it for the same
 * period (store/queries/usage.ts usedByKey, core/chargeback.ts chargeInputs and chargeback,
 * core/ledger.ts applyChargeBasis) at the configured rate card, idle share and
 * basis; a failure becomes a warning.
 */
async function chargebackOf(query: QueryFn, config: Config, period: TimeWindow, nowMs: number, used: Map<string, UsageTotals>, warnings: string[]): Promise<ReportChargeback | null> {
  try {
    const { rateCard: card, idleShare, chargeBasis, idleSurchargeUsdPerGpuHour } = config.analytics
    const span = { ...period, nowMs }
    const [alloc, cap] = await Promise.all([allocationCost(query, { ...span, by: 'team', filters: {} }), capacityCost(query, span)])
    const capacity = costByKey(cap, card).get('') ?? { gpuHours: 0, costUsd: 0, defaultRateGpuHours: 0, unpricedCloudGpuHours: 0 }
    const fleet = chargeback(chargeInputs(costByKey(alloc, card), used), { capacityGpuHours: capacity.gpuHours, capacityCostUsd: capacity.costUsd }, idleShare)
    const basis: BasisPolicy = { basis: chargeBasis, idleSurchargeUsdPerGpuHour }
    if (capacity.defaultRateGpuHours > 0) warnings.push(`chargeback: ${Math.round(capacity.defaultRateGpuHours).toLocaleString('en-US')} GPU-hours of capacity were priced at the rate card's default $${card.defaultUsdPerGpuHour}/GPU-hour (a placeholder until set)`)
    return { ...fleet, rows: applyChargeBasis(fleet.rows, basis), basis, period }
  } catch (err) {
    warnings.push(`no chargeback: ${(err as Error).message}`)
    return null
  }
}

/** Allocated, sampled (allocated minus unknown) and used GPU-hours summed over usedByKey's groups. */
function coverageOf(used: Map<string, UsageTotals>): { allocatedGpuHours: number; sampledGpuHours: number; usedGpuHours: number | null } {
  let allocatedGpuHours = 0
  let sampledGpuHours = 0
  let usedGpuHours = 0
  let known = false
  for (const t of used.values()) {
    allocatedGpuHours += t.allocatedGpuHours
    // A difference of float sums: a residue under 1e-9 GPU-hours (3.6 GPU-microseconds) is rounding, not a sample.
    const sampled = t.allocatedGpuHours - t.utilUnknownGpuHours
    sampledGpuHours += sampled > 1e-9 ? sampled : 0
    if (t.usedGpuHours !== null && t.allocatedGpuHours > 0) {
      usedGpuHours += t.usedGpuHours
      known = true
    }
  }
  return { allocatedGpuHours, sampledGpuHours, usedGpuHours: known ? usedGpuHours : null }
}

/** The share of each measured plan month's allocation with DCGM samples, within the plan's history (`measured`); a failure becomes a warning. */
async function monthCoverageOf(query: QueryFn, plan: CapacityPlan, measured: TimeWindow, nowMs: number, warnings: string[]): Promise<MonthCoverage[]> {
  const months = plan.months
    .map((m) => ({ month: m.month, fromMs: Math.max(m.fromMs, measured.fromMs), toMs: Math.min(m.toMs, measured.toMs) }))
    .filter((m) => m.toMs > m.fromMs)
  try {
    return await Promise.all(months.map(async (m) => {
      const c = coverageOf(await usedByKey(query, m, nowMs, 'team', {}))
      return { month: m.month, allocatedGpuHours: c.allocatedGpuHours, sampledGpuHours: c.sampledGpuHours, coverageRatio: c.allocatedGpuHours > 0 ? c.sampledGpuHours / c.allocatedGpuHours : null }
    }))
  } catch (err) {
    warnings.push(`no utilization coverage by month: ${(err as Error).message}`)
    return []
  }
}

/** Repeat offenders the report lists. */
const REPORT_OFFENDERS = 10

/** GPU-hours by final state per team over the data window (core/finalStates.ts); a failure becomes a warning. */
async function finalStatesOf(query: QueryFn, span: TimeWindow & { nowMs: number }, warnings: string[]): Promise<FinalStatesSummary | null> {
  try {
    return summarizeFinalStates(await finalStateRows(query, span), ['team'], REPORT_OFFENDERS)
  } catch (err) {
    warnings.push(`no GPU-hours by final state: ${(err as Error).message}`)
    return null
  }
}

function daysOf(fleet: DemandSeries, util: readonly UtilHour[]): ReportDay[] {
  const byHour = new Map(util.map((u) => [u.bucketMs, u]))
  const cap = fleet.capacity ? dailyMeans(fleet.startMs, fleet.capacity) : null
  const alloc = dailyMeans(fleet.startMs, fleet.allocated)
  const pend = dailyMeans(fleet.startMs, fleet.pending)
  return alloc.map((a, d) => {
    let sum = 0
    let n = 0
    let used = 0
    let usedHours = 0
    for (let h = 0; h < 24; h++) {
      const u = byHour.get(a.dayMs + h * HOUR_MS)
      const i = (a.dayMs + h * HOUR_MS - fleet.startMs) / HOUR_MS
      if (!u || u.weightedN === 0 || i < 0 || i >= fleet.allocated.length) continue
      sum += u.weightedSum
      n += u.weightedN
      used += fleet.allocated[i]! * (u.weightedSum / u.weightedN)
      usedHours++
    }
    return {
      dayMs: a.dayMs, capacityGpus: cap?.[d]?.value ?? null, allocatedGpus: a.value, pendingGpus: pend[d]!.value, demandGpus: a.value + pend[d]!.value,
      utilRatio: n > 0 ? sum / n : null, usedGpus: usedHours > 0 ? used / usedHours : null,
    }
  })
}

/** Quarter totals: GPU-hours from the fleet's hourly series; utilization and its coverage from usedByKey, as in the chargeback and GET /usage. */
function totalsOf(fleet: DemandSeries, util: readonly UtilHour[], used: Map<string, UsageTotals>): ReportTotals {
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0)
  const capacityGpuHours = fleet.capacity ? sum(fleet.capacity) : null
  const allocatedGpuHours = sum(fleet.allocated)
  const [samples, gr] = util.reduce((a, u) => [a[0] + u.samples, a[1] + u.grEngineActiveSamples], [0, 0])
  const c = coverageOf(used)
  return {
    capacityGpuHours, allocatedGpuHours, pendingGpuHours: sum(fleet.pending),
    allocationRatio: capacityGpuHours ? allocatedGpuHours / capacityGpuHours : null,
    utilRatio: c.usedGpuHours !== null && c.sampledGpuHours > 0 ? c.usedGpuHours / c.sampledGpuHours : null, utilMetric: utilMetricOf(samples, gr),
    sampledGpuHours: c.sampledGpuHours, utilCoverageRatio: c.allocatedGpuHours > 0 ? c.sampledGpuHours / c.allocatedGpuHours : null,
  }
}

/** Idle waste by team from usedByKey's totals: the chargeback rows' idle GPU-hours (core/chargeback.ts, same formula), most waste first. */
function wasteOf(used: Map<string, UsageTotals>): TeamWaste[] {
  return [...used]
    .filter(([, t]) => t.allocatedGpuHours > 0)
    .map(([team, t]) => {
      const measuredGpuHours = Math.max(0, t.allocatedGpuHours - t.utilUnknownGpuHours)
      return {
        team: team === '' ? UNATTRIBUTED_ROW : team, allocatedGpuHours: t.allocatedGpuHours, measuredGpuHours,
        utilRatio: t.usedGpuHours !== null && measuredGpuHours > 0 ? t.usedGpuHours / measuredGpuHours : null, wasteGpuHours: t.usedGpuHours === null ? null : Math.max(0, measuredGpuHours - t.usedGpuHours),
        unknownGpuHours: t.utilUnknownGpuHours,
      }
    })
    .sort((a, b) => (b.wasteGpuHours ?? -1) - (a.wasteGpuHours ?? -1) || b.allocatedGpuHours - a.allocatedGpuHours)
}
