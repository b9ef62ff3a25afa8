/**
 * `gpuscope forecast ...`: backtest, show a forecast, list series, and the
 * capacity plan. Registered on the main program by registerForecastCommands;
 * a command opens the store, reads, prints and closes it.
 */
import type { Command } from 'commander'
import type { LoadedConfig } from '../config/load'
import type { Config } from '../config/schema'
import { InputError } from '../core/errors'
import { BACKTEST_DIGITS, backtestHorizons, backtestTable, formatTable, type BacktestOptions, type HorizonOutcome } from '../forecasting/backtestReport'
import { listSelectors } from '../forecasting/demand'
import { forecastSeries, type SeriesForecast } from '../forecasting/forecast'
import { parseModelIds } from '../forecasting/models/index'
import { formatHours, HOUR_MS, type HourlySeries } from '../forecasting/series'
import { planLines } from '../forecasting/planText'
import { alibabaSeries, backtestOptions, buildPlan, heliosSeries, historyOf, loadHistory, parseHorizonHours } from '../forecasting/service'
import { createStore, type Store } from '../store/client'
import { registerBatchCommand } from './forecastBatch'

/** What the forecast commands need from outside; tests pass a store and capture the output. */
export interface CliDeps {
  openStore?: (config: Config) => Promise<Store>
  out?: (text: string) => void
  /** Progress and notes for a person watching (stderr by default), kept out of the output. */
  err?: (text: string) => void
  now?: () => number
}

interface SeriesOpts {
  series: string
  horizon?: string
  models?: string
  origins?: number
  stride?: string
  helios?: string
  alibaba?: string
  format?: string
}

/** Resolved IO for one command run. */
export interface CliIo {
  config: Config
  out: (text: string) => void
  err: (text: string) => void
  nowMs: number
  withStore<T>(fn: (store: Store) => Promise<T>): Promise<T>
}

/** Builds the IO of one command run from the loaded config and the deps. */
export function cliIo(loadConfig: () => LoadedConfig, deps: CliDeps): CliIo {
  const config = loadConfig().config
  const open = deps.openStore ?? ((c: Config) => createStore(c.store))
  return {
    config,
    out: deps.out ?? ((text) => void process.stdout.write(`${text}\n`)),
    err: deps.err ?? ((text) => void process.stderr.write(`${text}\n`)),
    nowMs: (deps.now ?? Date.now)(),
    async withStore(fn) {
      const store = await open(config)
      try {
        return await fn(store)
      } finally {
        await store.close()
      }
    },
  }
}

/** Registers `forecast backtest | show | list | plan` on the program. */
export function registerForecastCommands(program: Command, loadConfig: () => LoadedConfig, deps: CliDeps = {}): void {
  const forecast = program.command('forecast').description('GPU demand forecasts: backtests, forecasts, capacity plan')
  const seriesOptions = (cmd: Command) =>
    cmd
      .requiredOption('--series <selector>', "series: cluster=NAME, pool=NAME, gpuModel=NAME, team=NAME (comma-joined), or 'fleet'", 'fleet')
      .option('--models <ids>', 'candidate models, comma-separated (default: config forecast.models)')
      .option('--origins <n>', 'backtest origins (default: config forecast.backtestOrigins)', Number)
      .option('--stride <duration>', 'hours between origins, e.g. 24h (default: config forecast.originStrideHours)')
      .option('--helios <dir>', 'read the Helios VC sequences in DIR instead of the store (series: fleet or pool=<vc>)')
      .option('--alibaba <dir>', 'rebuild hourly demand from the Alibaba PAI v2023 pod intervals in DIR instead of the store (series: fleet)')
      .option('--format <format>', 'table, csv or json', 'table')

  seriesOptions(forecast.command('backtest').description('rolling-origin backtest: sMAPE, MASE vs seasonal naive, interval coverage; the model each horizon would choose'))
    .option('--horizon <duration>', 'one horizon (default: 24h, 7d and 28d, skipping those the data cannot support)')
    .action(async (opts: SeriesOpts) => {
      const io = cliIo(loadConfig, deps)
      const { series, label } = await readSeries(io, opts)
      const options = tuned(io.config, opts)
      const horizons = opts.horizon ? [parseHorizonHours(opts.horizon, 0)] : undefined
      printBacktest(io, label, series, backtestHorizons(series, options, horizons), opts.format)
    })

  seriesOptions(forecast.command('show').description('forecast a series: the chosen model and daily P10 / P50 / P90 demand'))
    .option('--horizon <duration>', 'how far ahead: a duration (7d, 13w) or a quarter (2026-Q4)', '7d')
    .action(async (opts: SeriesOpts) => {
      const io = cliIo(loadConfig, deps)
      const { series, label } = await readSeries(io, opts)
      const origin = series.startMs + series.values.length * HOUR_MS
      const f = forecastSeries(series, { ...tuned(io.config, opts), horizonHours: parseHorizonHours(opts.horizon ?? '7d', origin) })
      printForecast(io, label, f, opts.format)
    })

  forecast
    .command('plan')
    .description('capacity plan: when P50 / P90 demand first exceed capacity, GPUs to buy, the cloud-burst alternative, the monthly trend')
    .option('--series <selector>', 'cluster=NAME, pool=NAME or gpuModel=NAME (not a team), or fleet', 'fleet')
    .option('--horizon <horizon>', 'a duration (13w) or a quarter (2026-Q4); default config forecast.planHorizon')
    .option('--format <format>', 'table or json', 'table')
    .action(async (opts: { series: string; horizon?: string; format?: string }) => {
      const io = cliIo(loadConfig, deps)
      const { plan, warnings } = await io.withStore((store) => buildPlan(store.query, opts.series, opts.horizon, io.config.forecast, io.nowMs))
      for (const w of warnings) io.out(`warning: ${w}`)
      if (opts.format === 'json') io.out(JSON.stringify(plan, null, 2))
      else for (const line of planLines(plan)) io.out(line)
    })

  registerBatchCommand(forecast, () => cliIo(loadConfig, deps))

  forecast
    .command('list')
    .description('list the series the store can forecast (one key each; keys combine with commas)')
    .action(async () => {
      const io = cliIo(loadConfig, deps)
      for (const s of await io.withStore((store) => listSelectors(store.query))) io.out(s)
    })
}

/** Config's backtest shape with the command-line overrides. */
export function tuned(config: Config, opts: Pick<SeriesOpts, 'models' | 'origins' | 'stride'>): BacktestOptions {
  return {
    ...backtestOptions(config.forecast),
    ...(opts.models ? { modelIds: parseModelIds(opts.models) } : {}),
    ...(opts.origins !== undefined ? { origins: positiveInt(opts.origins, '--origins') } : {}),
    ...(opts.stride ? { strideHours: parseHorizonHours(opts.stride, 0) } : {}),
  }
}

function positiveInt(n: number, flag: string): number {
  if (!Number.isInteger(n) || n < 2) throw new InputError(`bad ${flag} ${n}: expected a whole number >= 2`)
  return n
}

async function readSeries(io: CliIo, opts: SeriesOpts): Promise<{ series: HourlySeries; label: string; warnings: string[] }> {
  if (opts.helios && opts.alibaba) throw new InputError('--helios and --alibaba are two sources: give one')
  if (opts.helios) return { series: await heliosSeries(opts.helios, opts.series), label: `helios ${opts.series} (${opts.helios})`, warnings: [] }
  if (opts.alibaba) return { series: await alibabaSeries(opts.alibaba, opts.series), label: `alibaba ${opts.series} (${opts.alibaba}; trace time from 1970-01-01)`, warnings: [] }
  const d = await io.withStore((store) => loadHistory(store.query, opts.series, io.config.forecast, io.nowMs))
  for (const w of d.warnings) io.out(`warning: ${w}`)
  return { series: historyOf(d).series, label: d.selector, warnings: d.warnings }
}

const iso = (ms: number) => new Date(ms).toISOString().replace(':00.000Z', 'Z')

function printBacktest(io: CliIo, label: string, series: HourlySeries, outcomes: HorizonOutcome[], format = 'table'): void {
  const table = backtestTable(outcomes)
  if (format === 'json') return io.out(JSON.stringify({ series: label, outcomes }, null, 2))
  if (format === 'csv') return io.out([table.columns.join(','), ...table.rows.map((r) => table.columns.map((c) => r[c] ?? '').join(','))].join('\n'))
  const hours = series.values.length
  io.out(`backtest of ${label}: ${formatHours(hours)} of hourly demand from ${iso(series.startMs)}`)
  io.out(formatTable(table, BACKTEST_DIGITS))
  for (const o of outcomes) io.out(o.choice ? `${formatHours(o.horizonHours)}: ${o.choice.reason}` : `${formatHours(o.horizonHours)}: skipped, ${o.skipped}`)
}

function printForecast(io: CliIo, label: string, f: SeriesForecast, format = 'table'): void {
  if (format === 'json') return io.out(JSON.stringify({ series: label, ...f }, null, 2))
  io.out(`forecast of ${label} from ${iso(f.originMs)}, ${formatHours(f.horizonHours)}: ${f.model.label}`)
  io.out(f.choice.reason)
  const rows = []
  for (let d = 0; d * 24 < f.point.length; d++) {
    const hours = f.quantiles.slice(d * 24, d * 24 + 24)
    const peak = (i: number) => Math.round(Math.max(...hours.map((q) => q[i]!)))
    rows.push({ day: iso(f.originMs + d * 24 * HOUR_MS).slice(0, 10), peakP10: peak(1), peakP50: peak(3), peakP90: peak(5) })
  }
  io.out(formatTable({ columns: ['day', 'peakP10', 'peakP50', 'peakP90'], rows }))
  for (const n of f.notes) io.out(`note: ${n}`)
}
