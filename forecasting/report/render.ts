/**
 * Renders the quarterly report: one self-contained HTML page (inline CSS and
 * SVG, no script, no external asset), the same content in Markdown (tables,
 * no charts), and CSV files of the figures behind the charts.
 */
import { stringify } from 'csv-stringify/sync'
import { planSentences } from '../planText'
import { chargebackChart, fanChart, quarterChart, wasteChart } from './charts'
import type { QuarterReport } from './data'
import { escapeXml } from './svg'
import {
  backtestTextTable, chargebackTable, chargeTermsText, csvTables, finalStatesByTeamTable, finalStatesTable, planTable, repeatOffendersTable, summaryTable, wasteTable, type TextTable,
} from './tables'

/** The rendered report: HTML, Markdown and CSV files by name. */
export interface RenderedReport {
  html: string
  markdown: string
  csv: Record<string, string>
}

const CSS = `body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:1em 0;font-size:.9em;display:block;overflow-x:auto;max-width:100%}th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:600;padding:4px 0}
.warn{background:#fff6e0;border-left:4px solid #f0b400;padding:.5em 1em}.chart{max-width:100%;height:auto;display:block;margin:1em 0}
footer{margin-top:3em;color:#777;font-size:.85em}`

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)

/** Renders the three forms of the report. */
export function renderReport(r: QuarterReport): RenderedReport {
  const csv: Record<string, string> = {}
  for (const [name, t] of Object.entries(csvTables(r))) csv[name] = stringify(t.rows, { header: true, columns: t.columns })
  return { html: html(r), markdown: markdown(r), csv }
}

interface Section {
  title: string
  paragraphs: string[]
  charts: Array<string | null>
  tables: Array<TextTable | null>
}

function sections(r: QuarterReport): Section[] {
  return [
    { title: `Capacity, allocation and utilization in ${r.quarter}`, paragraphs: [], charts: [quarterChart(r)], tables: [summaryTable(r)] },
    {
      title: `Demand forecast for ${r.nextQuarter}`,
      paragraphs: r.forecast ? [`${r.forecast.choice.reason}.`, 'Bands: 50% (P25-P75, daily means of hourly quantiles) and 80% (P10-P90, from each day\'s lowest hourly P10 to its highest hourly P90) prediction intervals from backtest residuals; the dashed vertical line marks where intervals start being widened past the longest backtest (an assumption).', ...r.forecast.notes.map((n) => `Note: ${n}.`)] : ['No forecast could be made (see warnings).'],
      charts: [fanChart(r)],
      tables: [backtestTextTable(r)],
    },
    { title: 'Capacity plan', paragraphs: r.plan ? planSentences(r.plan) : ['No plan without a forecast.'], charts: [], tables: [planTable(r)] },
    {
      title: 'Chargeback by team',
      paragraphs: r.chargeback ? chargebackParagraphs(r, r.chargeback) : ['No chargeback (see warnings).'],
      charts: [chargebackChart(r)],
      tables: [chargebackTable(r)],
    },
    {
      title: 'Idle waste',
      paragraphs: r.waste.some((w) => w.wasteGpuHours !== null) ? [wasteCoverage(r)] : ['Utilization is unknown (no DCGM samples in the quarter), so idle waste cannot be measured; allocated GPU-hours by team are shown.'],
      charts: [wasteChart(r)],
      tables: [wasteTable(r)],
    },
    { title: 'Waste from failed and cancelled work', paragraphs: finalStatesParagraphs(r), charts: [], tables: [finalStatesTable(r), finalStatesByTeamTable(r), repeatOffendersTable(r)] },
  ]
}

const gpuH = (x: number) => Math.round(x).toLocaleString('en-US')
const money = (x: number) => x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })
const pct = (x: number | null) => (x === null ? 'unknown' : `${(x * 100).toFixed(1)}%`)

/** What each basis makes owners pay (core/ledger.ts). */
const BASIS_TEXT = {
  allocated: () => 'Teams pay for the GPU-hours they held.',
  effective: () => 'Teams pay for the GPU-hours they used: the cost of the GPU-hours they held idle moves to __idle_allocated__, which the fleet carries.',
  hybrid: (usd: number) => `Teams pay for the GPU-hours they held plus $${usd} per GPU-hour held idle; __idle_allocated__ holds the opposite sum, so the rows still reconcile.`,
} as const

/** What the chargeback section says above its table: the period and terms, what the basis means, reconciliation, warnings. */
function chargebackParagraphs(r: QuarterReport, cb: NonNullable<QuarterReport['chargeback']>): string[] {
  return [
    `The rows of GET /api/v1/chargeback?period=${r.quarter}&by=team (${day(cb.period.fromMs)} to ${day(cb.period.toMs)}) on the configured terms: ${chargeTermsText(cb)} (analytics.chargeBasis, analytics.idleShare). ` +
      BASIS_TEXT[cb.basis.basis](cb.basis.idleSurchargeUsdPerGpuHour),
    `GPU-hours with no DCGM sample are unknown, neither used nor idle (charged as used under every basis). Computed with core/chargeback.ts at the configured rate card; rows reconcile to the fleet's capacity cost ($${money(cb.reconciliation.fleetCostUsd)}).`,
    ...cb.warnings,
  ]
}

/** How much of the allocation the waste figures speak for. */
function wasteCoverage(r: QuarterReport): string {
  const t = r.totals
  const unknown = r.waste.reduce((n, w) => n + w.unknownGpuHours, 0)
  return `Idle GPU-hours are the chargeback's, over the ${gpuH(t.sampledGpuHours)} allocated GPU-hours (${pct(t.utilCoverageRatio)}) with DCGM samples; the other ${gpuH(unknown)} have none: unknown, neither idle nor used.`
}

/** What the final-states section says above its tables. */
function finalStatesParagraphs(r: QuarterReport): string[] {
  const f = r.finalStates
  if (!f) return ['GPU-hours by final state could not be read (see warnings).']
  const t = f.totals
  if (t.failedOrCancelledRatio === null) return ['No GPU work ended in the quarter, so no GPU-hours can be called failed or cancelled yet.']
  const out = [
    `${gpuH(t.failedOrCancelledGpuHours)} GPU-hours, ${(t.failedOrCancelledRatio * 100).toFixed(1)}% of the GPU time of work that ended, went to pods that failed (${gpuH(t.gpuHours.failed)}) or were cancelled, i.e. deleted before they finished (${gpuH(t.gpuHours.cancelled)}). ` +
      `${gpuH(t.gpuHours.running)} GPU-hours went to work still running at the end, which is counted in no final state yet.`,
  ]
  if (f.offenders.length === 0) out.push('No user had two or more pods fail or be cancelled.')
  return out
}

function htmlTable(t: TextTable): string {
  const head = t.columns.map((c) => `<th>${escapeXml(c)}</th>`).join('')
  const body = t.rows.map((row) => `<tr>${row.map((v) => `<td>${escapeXml(v)}</td>`).join('')}</tr>`).join('')
  return `<table><caption>${escapeXml(t.title)}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`
}

function html(r: QuarterReport): string {
  const title = `GPU capacity report ${r.quarter}`
  const body = [
    `<h1>${escapeXml(title)}</h1>`,
    `<p>Fleet figures from ${day(r.dataWindow.fromMs)} to ${day(r.dataWindow.toMs)}; generated ${escapeXml(new Date(r.nowMs).toISOString())}.</p>`,
    ...(r.warnings.length ? [`<div class="warn"><ul>${r.warnings.map((w) => `<li>${escapeXml(w)}</li>`).join('')}</ul></div>`] : []),
    '<h2>Top findings</h2>',
    `<ol>${r.findings.map((f) => `<li>${escapeXml(f)}</li>`).join('')}</ol>`,
    ...sections(r).map((s) => [
      `<section><h2>${escapeXml(s.title)}</h2>`,
      ...s.paragraphs.map((p) => `<p>${escapeXml(p)}</p>`),
      ...s.charts.filter((c): c is string => c !== null),
      ...s.tables.filter((t): t is TextTable => t !== null).map(htmlTable),
      '</section>',
    ].join('\n')),
    '<footer>Definitions: demand = allocation + pending demand; GPU-hours from exact pod intervals; utilization = DCGM GR_ENGINE_ACTIVE where reported, else GPU_UTIL; waste = allocated GPU-hours × (1 − utilization); final state = the last phase of the pod (cancelled = deleted before it finished). Made by gpuscope.</footer>',
  ]
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title><style>${CSS}</style></head><body>\n${body.join('\n')}\n</body></html>\n`
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|')

function mdTable(t: TextTable): string {
  return [`**${mdCell(t.title)}**`, '', `| ${t.columns.map(mdCell).join(' | ')} |`, `| ${t.columns.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...t.rows.map((row) => `| ${row.map(mdCell).join(' | ')} |`)].join('\n')
}

function markdown(r: QuarterReport): string {
  const out = [`# GPU capacity report ${r.quarter}`, '', `Fleet figures from ${day(r.dataWindow.fromMs)} to ${day(r.dataWindow.toMs)}; generated ${new Date(r.nowMs).toISOString()}. Charts are in the HTML report.`, '']
  if (r.warnings.length) out.push(...r.warnings.map((w) => `> ${w}`), '')
  out.push('## Top findings', '', ...r.findings.map((f, i) => `${i + 1}. ${f}`), '')
  for (const s of sections(r)) {
    out.push(`## ${s.title}`, '', ...s.paragraphs.flatMap((p) => [p, '']))
    for (const t of s.tables) if (t) out.push(mdTable(t), '')
  }
  return out.join('\n')
}
