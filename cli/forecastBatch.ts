/**
 * `gpuscope forecast batch`: the backtest report and the forecast of many
 * series in one run, spread over worker threads (forecasting/batch): by
 * default every series `forecast list` names plus the fleet, ranked by how
 * far their P90 demand may climb. A series too short or with gaps is a row
 * with the reason; the run goes on.
 */
import type { Command } from 'commander'
import { InputError } from '../core/errors'
import { BACKTEST_DIGITS, formatTable, type PlainTable } from '../forecasting/backtestReport'
import { forecastBatch, MAX_WORKERS, type BatchInput, type SeriesAnswer } from '../forecasting/batch/index'
import { listSelectors, parseSelector } from '../forecasting/demand'
import { probIndex } from '../forecasting/intervals'
import { endOf, formatHours, type HourlySeries } from '../forecasting/series'
import { heliosBatch, historyOf, loadHistory, parseHorizonHours } from '../forecasting/service'
import { csvText, parseFormat, tuned, usage, UsageError, type CliIo } from './forecast'

interface BatchOpts {
  series?: string[]
  horizon?: string
  workers?: string
  models?: string
  origins?: string
  stride?: string
  helios?: string
  format?: string
}

/** A series that could not even be read (a gap in a trace VC), reported as a row like a refused one. */
type Loaded = { label: string; series: HourlySeries } | { label: string; error: string }

/** Registers `forecast batch` on the forecast command. */
export function registerBatchCommand(forecast: Command, io: () => CliIo): void {
  forecast
    .command('batch')
    .description('backtest and forecast many series at once (every series by default), on worker threads; one row per series')
    .option('--series <selectors...>', "series to forecast (default: 'fleet' and every series `forecast list` names)")
    .option('--horizon <horizon>', 'how far ahead: a duration (13w) or a quarter (2026-Q4); default config forecast.planHorizon')
    .option('--workers <n>', 'worker threads (default: one per core, at most one per series; 1 = no threads)')
    .option('--models <ids>', 'candidate models, comma-separated (default: config forecast.models)')
    .option('--origins <n>', 'backtest origins (default: config forecast.backtestOrigins)')
    .option('--stride <duration>', 'hours between origins, e.g. 24h (default: config forecast.originStrideHours)')
    .option('--helios <dir>', 'forecast the Helios trace in DIR instead of the store: the fleet and each VC')
    .option('--format <format>', 'table, csv or json', 'table')
    .action(async (opts: BatchOpts) => runBatch(io(), opts))
}

async function runBatch(io: CliIo, opts: BatchOpts): Promise<void> {
  const format = parseFormat(opts.format)
  const workers = opts.workers === undefined ? undefined : Number(opts.workers)
  if (workers !== undefined && (!/^\d+$/.test(opts.workers!) || workers < 1 || workers > MAX_WORKERS)) {
    throw new UsageError(`bad --workers '${opts.workers}': expected a whole number from 1 to ${MAX_WORKERS}`)
  }
  const options = tuned(io.config, opts)
  const horizon = opts.horizon ?? io.config.forecast.planHorizon
  // A bad horizon is refused before any series is read (each series' own origin is applied below).
  usage(() => parseHorizonHours(horizon, io.nowMs))
  if (opts.series) opts.series = [...new Set(opts.series)]
  for (const s of opts.series ?? []) usage(() => parseSelector(s))
  const loaded = await loadSeries(io, opts)
  const inputs: BatchInput[] = loaded.flatMap((l) => ('series' in l ? [{ ...l, horizonHours: parseHorizonHours(horizon, endOf(l.series)) }] : []))
  const started = Date.now()
  let reported = 0
  io.err(`forecast batch: ${inputs.length} series, horizon ${horizon}${workers ? `, ${workers} worker(s)` : ''}`)
  const answers = await forecastBatch(inputs, options, {
    ...(workers !== undefined ? { workers } : {}),
    onProgress: (done, total) => {
      // About every 10 %, and the last one.
      if (done === total || done - reported >= Math.max(1, Math.ceil(total / 10))) {
        reported = done
        io.err(`forecast batch: ${done}/${total} series (${((Date.now() - started) / 1000).toFixed(1)} s)`)
      }
    },
  })
  const byLabel = new Map(answers.map((a) => [a.label, a]))
  const rows: SeriesAnswer[] = loaded.map((l) => ('series' in l ? byLabel.get(l.label)! : { label: l.label, hours: 0, error: l.error }))
  if (format === 'json') return io.out(JSON.stringify(rows, null, 2))
  const table = batchTable(rows)
  if (format === 'csv') return io.out(csvText(table))
  io.out(formatTable(table, { ...BACKTEST_DIGITS, naiveSmapePct: 2, peakP50Gpus: 1, peakP90Gpus: 1 }))
  const failed = rows.filter((r) => r.error).length
  io.out(`${rows.length - failed} series forecast${failed > 0 ? `, ${failed} not (see note)` : ''}; P50/P90 peak = highest hourly quantile over the horizon`)
}

/** The series: from a Helios trace, the ones asked for, or every listed series and the fleet. */
async function loadSeries(io: CliIo, opts: BatchOpts): Promise<Loaded[]> {
  if (opts.helios) {
    const all = await heliosBatch(opts.helios)
    const pick = opts.series ? all.filter((s) => opts.series!.includes(s.label)) : all
    if (opts.series && pick.length !== opts.series.length) {
      const missing = opts.series.filter((s) => !all.some((a) => a.label === s))
      throw new InputError(`no such series in the Helios trace: ${missing.join(', ')} (it has ${all.map((a) => a.label).join(', ')})`)
    }
    return pick.map((s): Loaded => (s.series ? { label: s.label, series: s.series } : { label: s.label, error: s.error ?? 'unreadable' }))
  }
  return io.withStore(async (store) => {
    const selectors = opts.series ?? ['fleet', ...(await listSelectors(store.query))]
    const out: Loaded[] = []
    for (const selector of selectors) {
      try {
        const d = await loadHistory(store.query, selector, io.config.forecast, io.nowMs)
        for (const w of d.warnings) io.err(`warning: ${d.selector}: ${w}`)
        out.push({ label: d.selector, series: historyOf(d).series })
      } catch (err) {
        if (!(err instanceof InputError) || opts.series) throw err
        out.push({ label: selector, error: err.message })
      }
    }
    return out
  })
}

const P50 = probIndex(0.5)
const P90 = probIndex(0.9)
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits

/** One row per series: the model chosen for the forecast, its backtest scores at the deciding horizon, the peaks; refused series last. */
export function batchTable(answers: readonly SeriesAnswer[]): PlainTable {
  const columns = ['series', 'history', 'model', 'decidedBy', 'smapePct', 'naiveSmapePct', 'mase', 'coverage80Pct', 'peakP50Gpus', 'peakP90Gpus', 'note']
  const peak = (q: number[][], i: number) => q.reduce((m, row) => Math.max(m, row[i]!), 0)
  const ok = answers.filter((a) => a.forecast).map((a) => {
    const f = a.forecast!
    return {
      series: a.label, history: formatHours(a.hours), model: f.model.id, decidedBy: `${formatHours(f.choice.horizonHours)} backtest`,
      smapePct: round(f.choice.score.smapeRatio * 100, 2), naiveSmapePct: round(f.choice.bar.smapeRatio * 100, 2),
      mase: f.choice.score.mase === null ? null : round(f.choice.score.mase, 3),
      coverage80Pct: f.choice.score.coverage80 === null ? null : round(f.choice.score.coverage80 * 100, 1),
      peakP50Gpus: round(peak(f.quantiles, P50), 1), peakP90Gpus: round(peak(f.quantiles, P90), 1),
      note: f.choice.naive ? 'no model beat seasonal naive' : '',
    }
  })
  ok.sort((a, b) => b.peakP90Gpus - a.peakP90Gpus)
  const refused = answers.filter((a) => !a.forecast).map((a) => ({
    series: a.label, history: a.hours > 0 ? formatHours(a.hours) : '', model: '', decidedBy: '', smapePct: null, naiveSmapePct: null, mase: null,
    coverage80Pct: null, peakP50Gpus: null, peakP90Gpus: null, note: `not forecast: ${a.error ?? 'no answer'}`,
  }))
  return { columns, rows: [...ok, ...refused] }
}
