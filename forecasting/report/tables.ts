/**
 * The report's tables as plain rows of strings, shared by the HTML and the
 * Markdown so both say the same thing, and as raw values for the CSV files.
 */
import { UNATTRIBUTED_ROW } from '../../core/chargeback'
import type { FinalState } from '../../core/finalStates'
import { backtestTable, BACKTEST_DIGITS, type PlainTable } from '../backtestReport'
import { planMonthsTable } from '../planText'
import { formatHours } from '../series'
import { dailyForecast } from './charts'
import type { QuarterReport, ReportChargeback } from './data'

/** A titled table of display strings. */
export interface TextTable {
  title: string
  columns: string[]
  rows: string[][]
}

const num = (x: number | null | undefined, digits = 1) => (x === null || x === undefined ? '-' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }))
const pct = (x: number | null) => (x === null ? 'unknown' : `${(x * 100).toFixed(1)}%`)
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10)

const fromPlain = (title: string, t: PlainTable | ReturnType<typeof planMonthsTable>, digits: Readonly<Record<string, number>> = {}): TextTable => ({
  title,
  columns: t.columns,
  rows: t.rows.map((r) => t.columns.map((c) => {
    const v = r[c]
    if (v === null || v === undefined) return '-'
    if (typeof v === 'boolean') return v ? 'yes' : ''
    return typeof v === 'number' && digits[c] !== undefined ? v.toFixed(digits[c]) : String(v)
  })),
})

/** The quarter in totals. */
export function summaryTable(r: QuarterReport): TextTable {
  const t = r.totals
  return {
    title: `${r.quarter} in figures (${iso(r.dataWindow.fromMs)} to ${iso(r.dataWindow.toMs)})`,
    columns: ['measure', 'value'],
    rows: [
      ['capacity GPU-hours', num(t.capacityGpuHours, 0)],
      ['allocated GPU-hours', num(t.allocatedGpuHours, 0)],
      ['pending GPU-hours', num(t.pendingGpuHours, 0)],
      ['allocation (allocated / capacity)', pct(t.allocationRatio)],
      ['utilization of allocated GPUs', t.utilRatio === null ? 'unknown (no DCGM samples)' : `${pct(t.utilRatio)} (${t.utilMetric}) over the ${pct(t.utilCoverageRatio)} of allocated GPU-hours with DCGM samples`],
      ['allocated GPU-hours with DCGM samples', `${num(t.sampledGpuHours, 0)} (${pct(t.utilCoverageRatio)})`],
    ],
  }
}

/** The share of a month's allocated GPU-hours with DCGM samples, by month (measured months only). */
const coverageByMonth = (r: QuarterReport) => new Map(r.monthCoverage.map((c) => [c.month, c.coverageRatio]))

/** The plan's monthly trend, with the coverage of each measured month's utilization next to it. */
export function planTable(r: QuarterReport): TextTable | null {
  if (!r.plan) return null
  const t = fromPlain('Month by month: measured, then forecast against capacity held flat from the plan\'s start (utilization over the allocated GPU-hours with DCGM samples; coverage: their share of allocated GPU-hours)', planMonthsTable(r.plan))
  const coverage = coverageByMonth(r)
  const found = t.columns.indexOf('utilization')
  const at = found < 0 ? t.columns.length : found + 1
  const cell = (month: string | undefined) => {
    const c = month === undefined ? undefined : coverage.get(month)
    return c === undefined || c === null ? '-' : pct(c)
  }
  return {
    ...t,
    columns: [...t.columns.slice(0, at), 'utilization coverage', ...t.columns.slice(at)],
    rows: t.rows.map((row, i) => [...row.slice(0, at), cell(r.plan?.months[i]?.month), ...row.slice(at)]),
  }
}

/** The backtest behind the forecast. */
export function backtestTextTable(r: QuarterReport): TextTable | null {
  if (!r.forecast) return null
  const bt = r.forecast.backtest
  return fromPlain(`Backtest at ${formatHours(bt.horizonHours)}, ${bt.originsMs.length} origins (model choice)`, backtestTable([{ horizonHours: bt.horizonHours, backtest: bt, choice: r.forecast.choice }]), BACKTEST_DIGITS)
}

/** The terms a chargeback was computed on, in words: basis, idle share, and the surcharge when the basis is hybrid. */
export function chargeTermsText(cb: ReportChargeback): string {
  const b = cb.basis
  const surcharge = b.basis === 'hybrid' ? `, idle surcharge $${b.idleSurchargeUsdPerGpuHour}/idle GPU-hour` : ''
  return `${b.basis} basis, idle share ${cb.reconciliation.policy}${surcharge}`
}

/** Chargeback rows by team, on the configured basis (GET /api/v1/chargeback's rows for the quarter). */
export function chargebackTable(r: QuarterReport): TextTable | null {
  if (!r.chargeback) return null
  return {
    title: `Chargeback by team (${chargeTermsText(r.chargeback)})`,
    columns: ['team', 'allocated GPU-h', 'used GPU-h', 'idle GPU-h', 'unknown GPU-h', 'allocated cost USD', 'idle share USD', 'basis adjustment USD', 'cost USD'],
    rows: r.chargeback.rows.map((c) => [
      c.key, num(c.allocatedGpuHours), num(c.usedGpuHours), num(c.idleGpuHours), num(c.utilUnknownGpuHours),
      num(c.allocatedCostUsd, 2), num(c.idleShareCostUsd, 2), num(c.basisAdjustmentUsd, 2), num(c.costUsd, 2),
    ]),
  }
}

/** chargeback.csv: the table's columns as raw values, then the terms (basis, idle share, surcharge) on every row, as GET /chargeback's CSV has them. */
function chargebackCsv(cb: ReportChargeback | null): PlainTable {
  const hours = ['allocatedGpuHours', 'usedGpuHours', 'idleGpuHours', 'utilUnknownGpuHours'] as const
  const money = ['allocatedCostUsd', 'idleShareCostUsd', 'basisAdjustmentUsd', 'costUsd'] as const
  const columns = ['team', ...hours, ...money, 'chargeBasis', 'idleShare', 'idleSurchargeUsdPerGpuHour']
  if (!cb) return { columns, rows: [] }
  const terms = { chargeBasis: cb.basis.basis, idleShare: cb.reconciliation.policy, idleSurchargeUsdPerGpuHour: cb.basis.idleSurchargeUsdPerGpuHour }
  return { columns, rows: cb.rows.map((c) => ({ team: c.key, ...Object.fromEntries([...hours, ...money].map((k) => [k, c[k]])), ...terms })) }
}

/** Idle waste by team. */
export function wasteTable(r: QuarterReport): TextTable {
  return {
    title: 'Idle waste by team: allocated GPU-hours × (1 − utilization), over the GPU-hours with DCGM samples',
    columns: ['team', 'allocated GPU-h', 'measured GPU-h', 'utilization', 'waste GPU-h', 'unknown GPU-h'],
    rows: r.waste.map((w) => [w.team, num(w.allocatedGpuHours), num(w.measuredGpuHours), pct(w.utilRatio), num(w.wasteGpuHours), num(w.unknownGpuHours)]),
  }
}

const STATE_NAMES: ReadonlyArray<[FinalState, string]> = [
  ['succeeded', 'succeeded'], ['failed', 'failed'], ['cancelled', 'cancelled (deleted before finishing)'], ['running', 'still running'], ['unknown', 'ended, state unknown'],
]
const teamName = (team: string | undefined) => (team === undefined || team === '' ? UNATTRIBUTED_ROW : team)

/** The fleet's GPU-hours by final state, with shares of all GPU-hours. */
export function finalStatesTable(r: QuarterReport): TextTable | null {
  const f = r.finalStates
  if (!f) return null
  const t = f.totals
  return {
    title: 'GPU-hours by final state of the work that held them',
    columns: ['final state', 'GPU-h', 'share', 'pods'],
    rows: [
      ...STATE_NAMES.filter(([s]) => s !== 'unknown' || t.pods.unknown > 0).map(([s, name]) => [name, num(t.gpuHours[s]), pct(t.shares[s]), num(t.pods[s], 0)]),
      ['total', num(t.totalGpuHours), pct(t.totalGpuHours > 0 ? 1 : null), num(Object.values(t.pods).reduce((a, b) => a + b, 0), 0)],
    ],
  }
}

/** GPU-hours by final state per team, most failed + cancelled first. */
export function finalStatesByTeamTable(r: QuarterReport): TextTable | null {
  const f = r.finalStates
  if (!f) return null
  return {
    title: 'Failed and cancelled GPU-hours by team (share: of the GPU-hours of work that ended)',
    columns: ['team', 'succeeded GPU-h', 'failed GPU-h', 'cancelled GPU-h', 'running GPU-h', 'failed + cancelled share'],
    rows: f.groups.map((g) => [teamName(g.team), num(g.gpuHours.succeeded), num(g.gpuHours.failed), num(g.gpuHours.cancelled), num(g.gpuHours.running), pct(g.failedOrCancelledRatio)]),
  }
}

/** Users whose work failed or was cancelled again and again. */
export function repeatOffendersTable(r: QuarterReport): TextTable | null {
  const f = r.finalStates
  if (!f) return null
  return {
    title: 'Top repeat offenders: users with two or more failed or cancelled pods, by GPU-hours lost',
    columns: ['team', 'user', 'failed pods', 'cancelled pods', 'ended pods', 'failed + cancelled GPU-h', 'share of their ended GPU-h'],
    rows: f.offenders.map((o) => [teamName(o.team), o.user, num(o.failedPods, 0), num(o.cancelledPods, 0), num(o.endedPods, 0), num(o.failedOrCancelledGpuHours), pct(o.failedOrCancelledRatio)]),
  }
}

/** The report's CSV tables, by name (the file is `<name>.csv`); daily is the main one. */
export const REPORT_CSV_TABLES = ['daily', 'forecast-daily', 'plan-months', 'chargeback', 'waste', 'final-states', 'repeat-offenders'] as const

/** One of REPORT_CSV_TABLES. */
export type ReportCsvTable = (typeof REPORT_CSV_TABLES)[number]

/** The CSV files of the report, by file name (raw values; ratios 0..1). */
export function csvTables(r: QuarterReport): Record<`${ReportCsvTable}.csv`, PlainTable> {
  const probs = r.forecast?.quantileProbs ?? []
  return {
    'daily.csv': { columns: ['day', 'capacityGpus', 'allocatedGpus', 'pendingGpus', 'demandGpus', 'utilRatio', 'usedGpus'], rows: r.days.map((d) => ({ day: iso(d.dayMs), ...d })) },
    'forecast-daily.csv': {
      columns: ['day', ...probs.map((p) => `p${Math.round(p * 100)}Gpus`)],
      rows: r.forecast ? dailyForecast(r.forecast).map((d) => ({ day: iso(d.dayMs), ...Object.fromEntries(probs.map((p, i) => [`p${Math.round(p * 100)}Gpus`, d.q[i]!])) })) : [],
    },
    'plan-months.csv': {
      columns: ['month', 'actualHours', 'forecastHours', 'capacityGpus', 'allocatedGpus', 'demandGpus', 'p50DemandGpus', 'p90DemandGpus', 'allocationRatio', 'forecastDemandRatio', 'utilRatio', 'utilMetric', 'utilCoverageRatio'],
      rows: (r.plan?.months ?? []).map((m) => ({ ...m, utilCoverageRatio: coverageByMonth(r).get(m.month) ?? null })),
    },
    'chargeback.csv': chargebackCsv(r.chargeback),
    'waste.csv': { columns: ['team', 'allocatedGpuHours', 'measuredGpuHours', 'utilRatio', 'wasteGpuHours', 'unknownGpuHours'], rows: r.waste.map((w) => ({ ...w })) },
    'final-states.csv': {
      columns: ['team', 'succeededGpuHours', 'failedGpuHours', 'cancelledGpuHours', 'runningGpuHours', 'unknownGpuHours', 'totalGpuHours', 'failedOrCancelledGpuHours', 'failedOrCancelledRatio'],
      rows: (r.finalStates?.groups ?? []).map((g) => ({
        team: teamName(g.team), succeededGpuHours: g.gpuHours.succeeded, failedGpuHours: g.gpuHours.failed, cancelledGpuHours: g.gpuHours.cancelled, runningGpuHours: g.gpuHours.running,
        unknownGpuHours: g.gpuHours.unknown, totalGpuHours: g.totalGpuHours, failedOrCancelledGpuHours: g.failedOrCancelledGpuHours, failedOrCancelledRatio: g.failedOrCancelledRatio,
      })),
    },
    'repeat-offenders.csv': {
      columns: ['team', 'user', 'failedPods', 'cancelledPods', 'endedPods', 'failedGpuHours', 'cancelledGpuHours', 'failedOrCancelledGpuHours', 'failedOrCancelledRatio'],
      rows: (r.finalStates?.offenders ?? []).map((o) => ({ ...o, team: teamName(o.team) })),
    },
  }
}
