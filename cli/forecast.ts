/**
 * `gpuscope forecast ...`: backtest, show a forecast, list series, and the
 * capacity plan. Registered on the main program by registerForecastCommands;
 * a command opens the store, reads, prints and closes it.
 */
import type { Command } from 'commander'
import { stringify } from 'csv-stringify/sync'
import { forecastSchema } from '../config/forecast'
import type { LoadedConfig } from '../config/load'
import type { Config } from '../config/schema'
import { InputError } from '../core/errors'
import { BACKTEST_DIGITS, backtestHorizons, backtestTable, formatTable, type BacktestOptions, type HorizonOutcome, type PlainTable } from '../forecasting/backtestReport'
import { listSelectors, parseSelector } from '../forecasting/demand'
import { forecastSeries, type SeriesForecast } from '../forecasting/forecast'
import { parseModelIds } from '../forecasting/models/index'
import type { CapacityPlan } from '../forecasting/plan'
import { formatHours, HOUR_MS, type HourlySeries } from '../forecasting/series'
import { forecastHourly, planLines, planMonthsCsv } from '../forecasting/planText'
import { alibabaSeries, backtestOptions, buildPlan, burstSourcesOf, heliosSeries, historyOf, loadHistory, parseHorizonHours } from '../forecasting/service'
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
  origins?: string
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

/**
 * A bad command-line value: exit 2 like a bad configuration (README, exit codes),
 * where an InputError about the data ("no data", "series too short") exits 1.
 */
export class UsageError extends InputError {}

/** Runs the parse of a command-line value; its InputError becomes a UsageError with the same message. */
export function usage<T>(parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (err instanceof InputError && !(err instanceof UsageError)) throw new UsageError(err.message, { cause: err })
    throw err
  }
}

/** Output formats of the forecast commands. */
export type Format = 'table' | 'csv' | 'json'
const ALL_FORMATS: readonly Format[] = ['table', 'csv', 'json']

/** Checks --format against what a command prints; UsageError naming the accepted values. */
export function parseFormat(text: string | undefined, accepted: readonly Format[] = ALL_FORMATS): Format {
  const format = (text ?? 'table') as Format
  if (!accepted.includes(format)) throw new UsageError(`bad --format '${text}': expected ${accepted.slice(0, -1).join(', ')} or ${accepted.at(-1)}`)
  return format
}

/** A table as RFC 4180 CSV with a header row (booleans as true / false), without the last newline. */
export function csvText(table: PlainTable): string {
  return stringify(table.rows, { header: true, columns: table.columns, cast: { boolean: (b) => (b ? 'true' : 'false') } }).trimEnd()
}

/** Registers `forecast backtest | show | list | plan` on the program. */
export function registerForecastCommands(program: Command, loadConfig: () => LoadedConfig, deps: CliDeps = {}): void {
  const forecast = program.command('forecast').description('GPU demand forecasts: backtests, forecasts, capacity plan')
  const seriesOptions = (cmd: Command) =>
    cmd
      .requiredOption('--series <selector>', "series: cluster=NAME, pool=NAME, gpuModel=NAME, team=NAME (comma-joined), or 'fleet'", 'fleet')
      .option('--models <ids>', 'candidate models, comma-separated (default: config forecast.models)')
      .option('--origins <n>', 'backtest origins (default: config forecast.backtestOrigins)')
      .option('--stride <duration>', 'hours between origins, e.g. 24h (default: config forecast.originStrideHours)')
      .option('--helios <dir>', 'read the Helios VC sequences in DIR instead of the store (series: fleet or pool=<vc>)')
      .option('--alibaba <dir>', 'rebuild hourly demand from the Alibaba PAI v2023 pod intervals in DIR instead of the store (series: fleet)')
      .option('--format <format>', 'table, csv or json', 'table')

  seriesOptions(forecast.command('backtest').description('rolling-origin backtest: sMAPE, MASE vs seasonal naive, interval coverage; the model each horizon would choose'))
    .option('--horizon <duration>', 'one horizon (default: 24h, 7d and 28d, skipping those the data cannot support)')
    .action(async (opts: SeriesOpts) => {
      const format = parseFormat(opts.format)
      const io = cliIo(loadConfig, deps)
      const options = seriesArgs(io.config, opts)
      const horizons = opts.horizon ? [usage(() => parseHorizonHours(opts.horizon!, 0))] : undefined
      const { series, label } = await readSeries(io, opts)
      printBacktest(io, label, series, backtestHorizons(series, options, horizons), format)
    })

  seriesOptions(forecast.command('show').description('forecast a series: the chosen model and daily P10 / P50 / P90 demand'))
    .option('--horizon <duration>', 'how far ahead: a duration (7d, 13w) or a quarter (2026-Q4)', '7d')
    .action(async (opts: SeriesOpts) => {
      const format = parseFormat(opts.format)
      const io = cliIo(loadConfig, deps)
      const options = seriesArgs(io.config, opts)
      const { series, label } = await readSeries(io, opts)
      const origin = series.startMs + series.values.length * HOUR_MS
      // Parsed against the series' own origin (a quarter ends some hours after it), so only once the series is read.
      const f = forecastSeries(series, { ...options, horizonHours: usage(() => parseHorizonHours(opts.horizon ?? '7d', origin)) })
      printForecast(io, label, f, format)
    })

  forecast
    .command('plan')
    .description('capacity plan: when P50 / P90 demand first exceed capacity, GPUs to buy, the cloud-burst alternative, the monthly trend')
    .option('--series <selector>', 'cluster=NAME, pool=NAME or gpuModel=NAME (not a team), or fleet', 'fleet')
    .option('--horizon <horizon>', 'a duration (13w) or a quarter (2026-Q4); default config forecast.planHorizon')
    .option('--format <format>', 'table, csv (the monthly trend) or json', 'table')
    .action(async (opts: { series: string; horizon?: string; format?: string }) => {
      const format = parseFormat(opts.format)
      usage(() => parseSelector(opts.series))
      const io = cliIo(loadConfig, deps)
      // Refused before the store is read, like forecast batch (the plan's origin is the last whole hour before now).
      if (opts.horizon !== undefined) usage(() => parseHorizonHours(opts.horizon!, io.nowMs))
      const { plan, warnings } = await io.withStore((store) => buildPlan(store.query, opts.series, opts.horizon, io.config.forecast, io.nowMs, burstSourcesOf(io.config)))
      for (const w of warnings) io.err(`warning: ${w}`)
      if (format === 'json') io.out(JSON.stringify(plan, null, 2))
      else if (format === 'csv') io.out(csvText(planMonthsCsv(plan)))
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

/** The series options checked before any data is read: the selector's syntax and the backtest shape. */
function seriesArgs(config: Config, opts: SeriesOpts): BacktestOptions {
  usage(() => parseSelector(opts.series))
  if (opts.helios && opts.alibaba) throw new UsageError('--helios and --alibaba are two sources: give one')
  return tuned(config, opts)
}

const ORIGINS = forecastSchema.shape.backtestOrigins.unwrap()
const STRIDE_HOURS = forecastSchema.shape.originStrideHours.unwrap()

/** Config's backtest shape with the command-line overrides, in the bounds the config schema allows; UsageError for a bad value. */
export function tuned(config: Config, opts: Pick<SeriesOpts, 'models' | 'origins' | 'stride'>): BacktestOptions {
  return {
    ...backtestOptions(config.forecast),
    ...(opts.models ? { modelIds: usage(() => parseModelIds(opts.models!)) } : {}),
    ...(opts.origins !== undefined ? { origins: wholeNumber(opts.origins, '--origins', ORIGINS.minValue ?? 2, ORIGINS.maxValue ?? 60) } : {}),
    ...(opts.stride ? { strideHours: strideHours(opts.stride) } : {}),
  }
}

function wholeNumber(text: string, flag: string, min: number, max: number): number {
  const n = Number(text)
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new UsageError(`bad ${flag} '${text}': expected a whole number from ${min} to ${max}`)
  return n
}

function strideHours(text: string): number {
  const hours = usage(() => parseHorizonHours(text, 0))
  const [min, max] = [STRIDE_HOURS.minValue ?? 1, STRIDE_HOURS.maxValue ?? 672]
  if (hours < min || hours > max) throw new UsageError(`bad --stride '${text}': expected ${formatHours(min)} to ${formatHours(max)} between origins`)
  return hours
}

async function readSeries(io: CliIo, opts: SeriesOpts): Promise<{ series: HourlySeries; label: string; warnings: string[] }> {
  if (opts.helios) return { series: await heliosSeries(opts.helios, opts.series), label: `helios ${opts.series} (${opts.helios})`, warnings: [] }
  if (opts.alibaba) return { series: await alibabaSeries(opts.alibaba, opts.series), label: `alibaba ${opts.series} (${opts.alibaba}; trace time from 1970-01-01)`, warnings: [] }
  const d = await io.withStore((store) => loadHistory(store.query, opts.series, io.config.forecast, io.nowMs))
  // stderr: a warning must not break --format json / csv on stdout.
  for (const w of d.warnings) io.err(`warning: ${w}`)
  return { series: historyOf(d).series, label: d.selector, warnings: d.warnings }
}

const iso = (ms: number) => new Date(ms).toISOString().replace(':00.000Z', 'Z')

function printBacktest(io: CliIo, label: string, series: HourlySeries, outcomes: HorizonOutcome[], format: Format): void {
  const table = backtestTable(outcomes)
  if (format === 'json') return io.out(JSON.stringify({ series: label, outcomes }, null, 2))
  if (format === 'csv') return io.out(csvText(table))
  const hours = series.values.length
  io.out(`backtest of ${label}: ${formatHours(hours)} of hourly demand from ${iso(series.startMs)}`)
  io.out(formatTable(table, BACKTEST_DIGITS))
  for (const o of outcomes) io.out(o.choice ? `${formatHours(o.horizonHours)}: ${o.choice.reason}` : `${formatHours(o.horizonHours)}: skipped, ${o.skipped}`)
}

function printForecast(io: CliIo, label: string, f: SeriesForecast, format: Format): void {
  if (format === 'json') return io.out(JSON.stringify({ series: label, ...f }, null, 2))
  if (format === 'csv') return io.out(csvText(forecastHourly(f)))
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

