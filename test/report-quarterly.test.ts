import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registerReportCommands } from '../cli/report'
import { backfill } from '../collector/replay/backfill'
import { clusterFromHelios, HELIOS_EARTH_GPU_TIME_SHARES } from '../collector/replay/sim/fromHelios'
import { loadHeliosVcs } from '../collector/replay/traces/helios'
import type { Config } from '../config/schema'
import { IDLE_ROW } from '../core/chargeback'
import { NotFoundError } from '../core/errors'
import { IDLE_ALLOCATED_ROW } from '../core/ledger'
import { loadQuarterReport, quarterlyReport, renderReport, type QuarterReport } from '../forecasting/report/index'
import { chargebackTable, planTable, summaryTable } from '../forecasting/report/tables'
import { sharedFixtures } from './helpers/fixtures'
import { openTestStore, type TestStore } from './helpers/store'
import { startTestApp, type TestApp } from './helpers/app'

// The Helios Earth month in chDB ending 2026-07-01 (so it is June 2026 and the last day of
// May), with GPU samples for the last week; the 2026-Q2 report is made "on" 2026-07-01.
const HOUR = 3_600_000
const END = Date.parse('2026-07-01T00:00:00Z')
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
const haveChromium = existsSync(CHROMIUM)
const inCi = Boolean(process.env.CI)
if (!haveChromium && !inCi) console.warn(`report-quarterly: browser test skipped: ${CHROMIUM} is not installed (apt-get install -y chromium)`)

let ts: TestStore
let app: TestApp
let base: string
let out: string
let report: QuarterReport

beforeAll(async () => {
  ts = await openTestStore()
  out = mkdtempSync(join(tmpdir(), 'gpuscope-report-'))
  const { minutes } = await loadHeliosVcs(sharedFixtures('helios', 'Earth_vcs_2020-05'))
  const sim = clusterFromHelios(minutes, END)
  await backfill(sim, ts.writers.sinks, {
    fromMs: sim.beginMs, toMs: END, sampleStepMs: 30 * 60_000, samplesFromMs: END - 7 * 24 * HOUR, notebookStepMs: HOUR, kubernetes: ts.config.collector.kubernetes,
  })
  await ts.writers.flush()
  report = await loadQuarterReport(ts.store.query, ts.config, '2026-Q2', END)
  app = await startTestApp(ts, { now: () => END })
  base = app.base
}, 600_000)

afterAll(async () => {
  await app?.close()
  await ts?.close()
  if (out) rmSync(out, { recursive: true, force: true })
})

async function cli(...args: string[]): Promise<string[]> {
  const lines: string[] = []
  const program = new Command().exitOverride()
  const loaded = { config: ts.config as Config, file: undefined, envVars: [] }
  registerReportCommands(program, () => loaded, { openStore: async () => ({ ...ts.store, close: async () => {} }), out: (t) => lines.push(t), now: () => END })
  await program.parseAsync(['node', 'gpuscope', 'report', ...args])
  return lines
}

describe('quarterly report data', () => {
  it('covers the part of 2026-Q2 the store has (from 2026-05-31) and says so', () => {
    expect(report.dataWindow).toEqual({ fromMs: Date.parse('2026-05-31T00:00:00Z'), toMs: END })
    expect(report.days).toHaveLength(31)
    expect(report.warnings[0]).toBe('the store has data from 2026-05-31T00:00:00.000Z only: earlier days of the quarter are not shown')
    expect(report.totals.capacityGpuHours).toBe(856 * 744)
  })

  it('knows utilization only for the days with GPU samples, never as 0 for the others', () => {
    expect(report.days[0]!.utilRatio).toBeNull()
    expect(report.days[30]!.utilRatio).toBeGreaterThan(0)
    expect(report.totals.utilMetric).not.toBeNull()
  })

  it('forecasts 2026-Q3 with a plan, charges back by team with core/chargeback.ts, and lists findings', () => {
    expect(report.nextQuarter).toBe('2026-Q3')
    expect(report.forecast?.horizonHours).toBe(92 * 24)
    expect(report.plan?.capacityGpus).toBe(856)
    const cb = report.chargeback!
    expect(cb.reconciliation.reconciled).toBe(true)
    expect(cb.rows.reduce((n, r) => n + r.costCents, 0)).toBe(Math.round(cb.reconciliation.fleetCostUsd * 100))
    expect(report.waste.some((w) => w.wasteGpuHours !== null && w.wasteGpuHours > 0)).toBe(true)
    expect(report.findings.length).toBeGreaterThanOrEqual(5)
    expect(report.findings.some((f) => /^Allocation averaged \d+\.\d% of capacity/.test(f))).toBe(true)
  })
})

// Helios summary, Earth: (cancel + fail) / (complete + cancel + fail) GPU-time = 50.06%.
const earthWeight = (s: string) => HELIOS_EARTH_GPU_TIME_SHARES.find(([f]) => f === s)?.[1] ?? 0
const EARTH_FAILED_OR_CANCELLED = (earthWeight('Deleted') + earthWeight('Failed')) / HELIOS_EARTH_GPU_TIME_SHARES.reduce((n, [, w]) => n + w, 0)

describe('waste from failed and cancelled work in the report', () => {
  it('reproduces the Helios summary: about half of the ended GPU time went to failed or cancelled jobs', () => {
    const t = report.finalStates!.totals
    // Tolerance 1.5 points: the replay's final states follow the summary's GPU-time shares by a
    // seeded systematic sample over one month of simulated jobs, exact up to the jobs at the state
    // boundaries (the largest holds about 1% of the month's ended GPU time).
    expect(Math.abs(t.failedOrCancelledRatio! - EARTH_FAILED_OR_CANCELLED)).toBeLessThan(0.015)
    expect(t.gpuHours.cancelled).toBeGreaterThan(t.gpuHours.failed)
    expect(report.finalStates!.groups.length).toBeGreaterThanOrEqual(5)
    expect(report.finalStates!.offenders.length).toBe(10)
    expect(report.findings.some((f) => /^\d+\.\d% of the GPU time of work that ended went to pods that failed or were cancelled/.test(f))).toBe(true)
  })

  it('says the same as GET /api/v1/waste/final-states for the quarter', async () => {
    const res = await fetch(`${base}/api/v1/waste/final-states?period=2026-Q2&by=team&top=10`)
    const body = (await res.json()) as any
    const r = report.finalStates!
    for (const s of ['succeeded', 'failed', 'cancelled', 'running'] as const) expect(body.data.totals.gpuHours[s]).toBeCloseTo(r.totals.gpuHours[s], 6)
    expect(body.data.groups.map((g: any) => g.team)).toEqual(r.groups.map((g) => g.team))
    expect(body.data.offenders).toEqual(r.offenders)
  })

  it('is a section of the HTML and Markdown, and two CSV files', async () => {
    const { renderReport } = await import('../forecasting/report/index')
    const rendered = renderReport(report)
    const ratio = `${(report.finalStates!.totals.failedOrCancelledRatio! * 100).toFixed(1)}% of the GPU time of work that ended`
    for (const text of [rendered.html, rendered.markdown]) {
      expect(text).toContain('Waste from failed and cancelled work')
      expect(text).toContain(ratio)
      expect(text).toContain('Top repeat offenders')
    }
    expect(rendered.markdown).toMatch(/\| cancelled \(deleted before finishing\) \| [\d,]+\.\d \| \d+\.\d% \| [\d,]+ \|/)
    const teams = rendered.csv['final-states.csv']!.trim().split('\n')
    expect(teams[0]).toBe('team,succeededGpuHours,failedGpuHours,cancelledGpuHours,runningGpuHours,unknownGpuHours,totalGpuHours,failedOrCancelledGpuHours,failedOrCancelledRatio')
    expect(teams).toHaveLength(report.finalStates!.groups.length + 1)
    const offenders = rendered.csv['repeat-offenders.csv']!.trim().split('\n')
    expect(offenders[0]).toBe('team,user,failedPods,cancelledPods,endedPods,failedGpuHours,cancelledGpuHours,failedOrCancelledGpuHours,failedOrCancelledRatio')
    expect(offenders).toHaveLength(11)
  })
})

const CHARGEBACK_CSV_HEADER = 'team,allocatedGpuHours,usedGpuHours,idleGpuHours,utilUnknownGpuHours,allocatedCostUsd,idleShareCostUsd,basisAdjustmentUsd,costUsd,chargeBasis,idleShare,idleSurchargeUsdPerGpuHour'
const HOURS = ['allocatedGpuHours', 'usedGpuHours', 'idleGpuHours', 'utilUnknownGpuHours'] as const
const pct = (x: number) => `${(x * 100).toFixed(1)}%`

describe('the report charges back as GET /api/v1/chargeback does', () => {
  it('has /chargeback\'s allocated, used, idle and unknown GPU-hours and cents per team for the quarter, and its idle waste is those idle GPU-hours', async () => {
    const body = (await (await fetch(`${base}/api/v1/chargeback?period=2026-Q2&by=team`)).json()) as any
    const api = body.data.rows as any[]
    const rows = report.chargeback!.rows
    expect(rows.map((r) => r.key)).toEqual(api.map((r) => r.key))
    rows.forEach((r, i) => {
      for (const k of HOURS) {
        if (api[i][k] === null) expect(r[k]).toBeNull()
        else expect(r[k]).toBeCloseTo(api[i][k], 6)
      }
      expect(r.costCents).toBe(api[i].costCents)
    })
    const owners = rows.filter((r) => r.key !== IDLE_ROW)
    // Samples cover the last week only: teams have both idle (sampled) and unknown (unsampled) GPU-hours.
    expect(owners.filter((r) => (r.idleGpuHours ?? 0) > 0 && r.utilUnknownGpuHours > 0).length).toBeGreaterThanOrEqual(3)
    expect(report.waste.map((w) => w.team).sort()).toEqual(owners.map((r) => r.key).sort())
    for (const r of owners) {
      const w = report.waste.find((x) => x.team === r.key)!
      if (r.idleGpuHours === null) expect(w.wasteGpuHours).toBeNull()
      else expect(w.wasteGpuHours).toBeCloseTo(r.idleGpuHours, 6)
      expect(w.unknownGpuHours).toBeCloseTo(r.utilUnknownGpuHours, 6)
      expect(w.measuredGpuHours).toBeCloseTo(r.allocatedGpuHours - r.utilUnknownGpuHours, 6)
    }
  })

  it('writes the unknown GPU-hours and the terms into chargeback.csv, one row per table row, as the table shows them', () => {
    const lines = renderReport(report).csv['chargeback.csv']!.trim().split('\n')
    expect(lines[0]).toBe(CHARGEBACK_CSV_HEADER)
    const table = chargebackTable(report)!
    expect(table.columns).toContain('unknown GPU-h')
    expect(lines).toHaveLength(table.rows.length + 1)
    const unknownAt = table.columns.indexOf('unknown GPU-h')
    lines.slice(1).forEach((line, i) => {
      const cells = line.split(',')
      const row = report.chargeback!.rows[i]!
      expect(cells[0]).toBe(row.key)
      expect(Number(cells[4])).toBe(row.utilUnknownGpuHours)
      expect(table.rows[i]![unknownAt]).toBe(row.utilUnknownGpuHours.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 }))
      expect(cells.slice(-3)).toEqual(['allocated', 'none', '0'])
    })
  })

  it.each([
    { basis: 'effective' as const, surcharge: 0, q: 'basis=effective', terms: 'effective basis, idle share none' },
    { basis: 'hybrid' as const, surcharge: 0.5, q: 'basis=hybrid&idleSurcharge=0.5', terms: 'hybrid basis, idle share none, idle surcharge $0.5/idle GPU-hour' },
  ])('charges on analytics.chargeBasis $basis as /chargeback does, and names the terms in the table, the Markdown and the CSV', async ({ basis, surcharge, q, terms }) => {
    const config: Config = { ...ts.config, analytics: { ...ts.config.analytics, chargeBasis: basis, idleSurchargeUsdPerGpuHour: surcharge } }
    const r = await loadQuarterReport(ts.store.query, config, '2026-Q2', END)
    const body = (await (await fetch(`${base}/api/v1/chargeback?period=2026-Q2&by=team&${q}`)).json()) as any
    const cents = (rows: Array<{ key: string; costCents: number; basisAdjustmentUsd: number }>) => rows.map((x) => [x.key, x.costCents, x.basisAdjustmentUsd])
    expect(body.data.chargeBasis).toBe(basis)
    expect(cents(r.chargeback!.rows)).toEqual(cents(body.data.rows))
    expect(r.chargeback!.rows.find((x) => x.key === IDLE_ALLOCATED_ROW)?.costCents).not.toBe(0)
    expect(cents(r.chargeback!.rows)).not.toEqual(cents(report.chargeback!.rows))
    const title = `Chargeback by team (${terms})`
    expect(chargebackTable(r)!.title).toBe(title)
    const rendered = renderReport(r)
    expect(rendered.markdown).toContain(`**${title}**`)
    expect(rendered.html).toContain(`<caption>${title}</caption>`)
    const lines = rendered.csv['chargeback.csv']!.trim().split('\n')
    expect(lines.slice(1).every((l) => l.endsWith(`,${basis},none,${surcharge}`))).toBe(true)
  })
})

describe('utilization with its coverage', () => {
  it('quotes fleet utilization over the allocated GPU-hours GET /usage has samples for, and their share of the allocation', async () => {
    const body = (await (await fetch(`${base}/api/v1/usage?window=2026-Q2&step=1d`)).json()) as any
    const fleet = body.data.series[0].totals
    const sampled = fleet.allocatedGpuHours - fleet.utilUnknownGpuHours
    const t = report.totals
    expect(t.sampledGpuHours).toBeCloseTo(sampled, 3)
    expect(t.utilCoverageRatio).toBeCloseTo(sampled / fleet.allocatedGpuHours, 6)
    // The report sums the teams' used GPU-hours (the chargeback rows); /usage weights one fleet-wide mean per day: equal to 0.1 point.
    expect(t.utilRatio).toBeCloseTo(fleet.usedGpuHours / sampled, 3)
    // GPU samples exist for the last 7 of the 31 days.
    expect(t.utilCoverageRatio).toBeGreaterThan(0.1)
    expect(t.utilCoverageRatio).toBeLessThan(0.4)
    const util = summaryTable(report).rows.find(([m]) => m === 'utilization of allocated GPUs')![1]
    expect(util).toBe(`${pct(t.utilRatio!)} (${t.utilMetric}) over the ${pct(t.utilCoverageRatio!)} of allocated GPU-hours with DCGM samples`)
  })

  it('gives each measured month of the plan the share of its allocated GPU-hours with samples, in the table and plan-months.csv', () => {
    const june = report.monthCoverage.find((m) => m.month === '2026-06')!
    expect(june.coverageRatio).toBeGreaterThan(0.1)
    // No GPU sample before the last week: May's one day has none.
    expect(report.monthCoverage.find((m) => m.month === '2026-05')?.coverageRatio).toBe(0)
    const table = planTable(report)!
    const at = table.columns.indexOf('utilization coverage')
    expect(at).toBe(table.columns.indexOf('utilization') + 1)
    const row = table.rows.find((x) => x[0] === '2026-06')!
    expect(row[at]).toBe(pct(june.coverageRatio!))
    expect(table.rows.find((x) => x[0] === '2026-08')![at]).toBe('-')
    const csv = renderReport(report).csv['plan-months.csv']!.trim().split('\n')
    expect(csv[0]!.endsWith(',utilRatio,utilMetric,utilCoverageRatio')).toBe(true)
    expect(csv.find((l) => l.startsWith('2026-06,'))!.endsWith(`,${june.coverageRatio}`)).toBe(true)
  })
})

describe('gpuscope report quarterly', () => {
  it('writes self-contained HTML, Markdown and CSV files', async () => {
    const lines = await cli('quarterly', '--quarter', '2026-Q2', '--out', out)
    expect(lines).toHaveLength(9)
    expect(readdirSync(out).sort()).toEqual([
      'gpuscope-2026-Q2-chargeback.csv', 'gpuscope-2026-Q2-daily.csv', 'gpuscope-2026-Q2-final-states.csv', 'gpuscope-2026-Q2-forecast-daily.csv', 'gpuscope-2026-Q2-plan-months.csv',
      'gpuscope-2026-Q2-repeat-offenders.csv', 'gpuscope-2026-Q2-waste.csv', 'gpuscope-2026-Q2.html', 'gpuscope-2026-Q2.md',
    ])
    const html = readFileSync(join(out, 'gpuscope-2026-Q2.html'), 'utf8')
    expect(html).not.toMatch(/<script|<link|\ssrc=|href=|@import|url\(/i)
    expect(html.match(/<svg /g)?.length).toBeGreaterThanOrEqual(3)
    const md = readFileSync(join(out, 'gpuscope-2026-Q2.md'), 'utf8')
    expect(md).toContain('## Top findings')
    expect(md).toContain('## Capacity plan')
    expect(md).toContain('## Waste from failed and cancelled work')
    expect(readFileSync(join(out, 'gpuscope-2026-Q2-daily.csv'), 'utf8').split('\n')[0]).toBe('day,capacityGpus,allocatedGpus,pendingGpus,demandGpus,utilRatio,usedGpus')
  })

  it('refuses a malformed quarter', async () => {
    await expect(cli('quarterly', '--quarter', '2026-Q5', '--out', out)).rejects.toThrow("bad --quarter '2026-Q5': expected a quarter like 2026-Q3")
  })
})

describe('GET /api/v1/reports/quarterly', () => {
  it('serves the report as HTML', async () => {
    const res = await fetch(`${base}/api/v1/reports/quarterly?quarter=2026-Q2`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await res.text()).toMatch(/^<!DOCTYPE html>[\s\S]*GPU capacity report 2026-Q2/)
  })

  it.each([
    { q: 'format=markdown', type: /^text\/markdown/, starts: '# GPU capacity report 2026-Q2' },
    { q: 'format=csv', type: /^text\/csv/, starts: 'day,capacityGpus,allocatedGpus,pendingGpus,demandGpus,utilRatio,usedGpus\n2026-05-31,856,' },
    { q: 'format=csv&table=chargeback', type: /^text\/csv/, starts: `${CHARGEBACK_CSV_HEADER}\n` },
    { q: 'format=html', type: /^text\/html/, starts: '<!DOCTYPE html>' },
  ])('serves $q', async ({ q, type, starts }) => {
    const res = await fetch(`${base}/api/v1/reports/quarterly?quarter=2026-Q2&${q}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(type)
    expect((await res.text()).startsWith(starts)).toBe(true)
  })

  it.each([
    { q: 'quarter=2026-Q9', message: 'bad query: quarter: expected a quarter like 2026-Q3' },
    { q: 'quarter=2026-Q4', message: 'quarter 2026-Q4 has not started yet (now is 2026-07-01T00:00:00.000Z)' },
    { q: 'quarter=2026-Q2&format=json', message: 'bad query: format: expected one of html, markdown, csv' },
    { q: 'quarter=2026-Q2&format=csv&table=teams', message: 'bad query: table: expected one of daily, forecast-daily, plan-months, chargeback, waste, final-states, repeat-offenders' },
    { q: 'quarter=2026-Q2&table=waste', message: 'bad query: table: only with format=csv (format is html)' },
  ])('answers 400 for $q', async ({ q, message }) => {
    const res = await fetch(`${base}/api/v1/reports/quarterly?${q}`)
    expect(res.status).toBe(400)
    expect(((await res.json()) as any).error.message).toBe(message)
  })

  it('answers 404 for a quarter before the data, naming the quarter, what the store holds and which quarter to ask for', async () => {
    const res = await fetch(`${base}/api/v1/reports/quarterly?quarter=2020-Q1`)
    expect(res.status).toBe(404)
    expect(((await res.json()) as any).error.message).toBe('no data for quarter 2020-Q1: the store holds fleet data from 2026-05-31T00:00:00.000Z to 2026-07-01T00:00:00.000Z; ask for 2026-Q2')
  })

  it('says when the quarter with no data was the default, the last complete one', async () => {
    const mid = Date.parse('2026-06-15T00:00:00Z')
    const run = quarterlyReport(ts.store.query, ts.config, undefined, mid)
    await expect(run).rejects.toThrow(NotFoundError)
    await expect(run).rejects.toThrow('no data for quarter 2026-Q1 (the default: the last complete quarter): the store holds fleet data from 2026-05-31T00:00:00.000Z to 2026-06-15T00:00:00.000Z; ask for 2026-Q2')
  })
})

describe('the HTML report in a real browser', () => {
  it.skipIf(!haveChromium && !inCi)(`draws every chart in headless Chromium${haveChromium ? '' : ` (skipped: ${CHROMIUM} not installed)`}`, async () => {
    if (!haveChromium) throw new Error(`CI is set but ${CHROMIUM} is missing: apt-get install -y chromium`)
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
    try {
      const page = await browser.newPage()
      const external: string[] = []
      await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : (external.push(route.request().url()), route.abort())))
      await page.goto(`file://${join(out, 'gpuscope-2026-Q2.html')}`)
      const charts = await page.$$eval('svg.chart', (svgs) =>
        svgs.map((svg) => ({
          id: svg.id,
          box: svg.getBoundingClientRect().width * svg.getBoundingClientRect().height,
          paths: [...svg.querySelectorAll('path')].map((p) => {
            const b = (p as any).getBBox()
            return { cls: p.getAttribute('class'), d: (p.getAttribute('d') ?? '').length, w: b.width, h: b.height, len: (p as any).getTotalLength() }
          }),
          bars: [...svg.querySelectorAll('rect.bar')].map((r) => (r as any).getBBox().width),
        })),
      )
      expect(external).toEqual([])
      expect(charts.map((c) => c.id)).toEqual(['chart-quarter', 'chart-fan', 'chart-chargeback', 'chart-waste'])
      for (const c of charts) expect(c.box).toBeGreaterThan(0)
      const quarter = charts[0]!
      expect(quarter.paths.filter((p) => p.cls === 'line')).toHaveLength(4)
      for (const p of quarter.paths) expect(p.d > 0 && p.len > 0 && p.w > 0).toBe(true)
      const fan = charts[1]!
      expect(fan.paths.filter((p) => p.cls === 'band' && p.w > 0 && p.h > 0)).toHaveLength(2)
      expect(fan.paths.filter((p) => p.cls === 'line' && p.len > 0).length).toBeGreaterThanOrEqual(3)
      expect(charts[2]!.bars.every((w) => w > 0)).toBe(true)
    } finally {
      await browser.close()
    }
  })
})
