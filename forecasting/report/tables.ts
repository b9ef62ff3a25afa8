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
import type { QuarterReport } from './data'

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
      ['utilization of allocated GPUs', t.utilRatio === null ? 'unknown (no DCGM samples)' : `${pct(t.utilRatio)} (${t.utilMetric})`],
    ],
  }
}

/** The plan's monthly trend. */
export const planTable = (r: QuarterReport): TextTable | null => (r.plan ? fromPlain('Month by month: measured, then forecast against today\'s capacity', planMonthsTable(r.plan)) : null)

/** The backtest behind the forecast. */
export function backtestTextTable(r: QuarterReport): TextTable | null {
  if (!r.forecast) return null
  const bt = r.forecast.backtest
  return fromPlain(`Backtest at ${formatHours(bt.horizonHours)}, ${bt.originsMs.length} origins (model choice)`, backtestTable([{ horizonHours: bt.horizonHours, backtest: bt, choice: r.forecast.choice }]), BACKTEST_DIGITS)
}

/** Chargeback rows by team. */
export function chargebackTable(r: QuarterReport): TextTable | null {
  if (!r.chargeback) return null
  return {
    title: `Chargeback by team (idle share: ${r.chargeback.reconciliation.policy})`,
    columns: ['team', 'allocated GPU-h', 'used GPU-h', 'idle GPU-h', 'unknown GPU-h', 'cost USD'],
    rows: r.chargeback.rows.map((c) => [c.key, num(c.allocatedGpuHours), num(c.usedGpuHours), num(c.idleGpuHours), num(c.utilUnknownGpuHours), num(c.costUsd, 2)]),
  }
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
    'plan-months.csv': { columns: ['month', 'actualHours', 'forecastHours', 'capacityGpus', 'allocatedGpus', 'demandGpus', 'p50DemandGpus', 'p90DemandGpus', 'allocationRatio', 'forecastDemandRatio', 'utilRatio', 'utilMetric'], rows: (r.plan?.months ?? []).map((m) => ({ ...m })) },
    'chargeback.csv': { columns: ['team', 'allocatedGpuHours', 'usedGpuHours', 'idleGpuHours', 'costUsd'], rows: (r.chargeback?.rows ?? []).map((c) => ({ team: c.key, allocatedGpuHours: c.allocatedGpuHours, usedGpuHours: c.usedGpuHours, idleGpuHours: c.idleGpuHours, costUsd: c.costUsd })) },
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
