/**
 * Backtests at several horizons (24 h, 7 d, 28 d by default) as one report:
 * each horizon either runs, with its scores and the model it would choose,
 * or is skipped with the reason (the series is too short for it). Also the
 * table the CLI prints and the API serves as CSV.
 */
import { InputError } from '../core/errors'
import { backtest, backtestMinHours, type HorizonBacktest } from './backtest'
import { chooseModel, type Choice } from './choose'
import { forecastSeries, namedMinHours, namedModels, namedTooShort, STANDARD_HORIZONS, type ForecastOptions, type SeriesForecast } from './forecast'
import { BASELINE_ID, candidates, modelById, type ModelId } from './models/index'
import { formatHours, type HourlySeries } from './series'

/** One horizon of a backtest report. */
export interface HorizonOutcome {
  horizonHours: number
  /** Scores (residuals left out); undefined when skipped. */
  backtest?: Omit<HorizonBacktest, 'residuals'>
  choice?: Choice
  skipped?: string
}

/** Options of a backtest report. */
export interface BacktestOptions {
  modelIds: readonly ModelId[]
  origins: number
  strideHours: number
  /** The config's candidate list (ForecastOptions.configModelIds): models other than these were named by the caller. */
  configModelIds?: readonly ModelId[]
}

/** A plain table: columns in order and rows keyed by column (the API's CSV shape). */
export interface PlainTable {
  columns: string[]
  rows: Array<Record<string, string | number | boolean | null>>
}

/**
 * Backtests every horizon (default 24 h, 7 d, 28 d); a horizon the series is
 * too short for (for the baseline, or for every model the caller named) is
 * skipped with a note, unless it is the only one asked for: then InputError.
 */
export function backtestHorizons(series: HourlySeries, opts: BacktestOptions, horizons: readonly number[] = STANDARD_HORIZONS): HorizonOutcome[] {
  return runHorizons(series, opts, horizons).outcomes
}

/** The backtest report and the forecast of one series. */
export interface ReportAndForecast {
  outcomes: HorizonOutcome[]
  forecast: SeriesForecast
}

/**
 * `backtestHorizons` and `forecastSeries` of one series, the forecast reusing
 * the report's backtest at its decision horizon instead of running it again:
 * the same numbers as calling both (the backtest is deterministic), with one
 * backtest fewer (at the 28 d horizon, the costliest, for plan horizons of
 * 28 d or more). Throws InputError as either would.
 */
export function backtestAndForecast(series: HourlySeries, opts: ForecastOptions, horizons: readonly number[] = STANDARD_HORIZONS): ReportAndForecast {
  const { outcomes, full } = runHorizons(series, opts, horizons)
  return { outcomes, forecast: forecastSeries(series, opts, full) }
}

/** Every horizon's outcome, and the full backtests (residuals kept) by horizon. */
function runHorizons(series: HourlySeries, opts: BacktestOptions, horizons: readonly number[]): { outcomes: HorizonOutcome[]; full: Map<number, HorizonBacktest> } {
  const models = candidates(opts.modelIds)
  const minBaseline = modelById(BASELINE_ID).minLength
  const outcomes: HorizonOutcome[] = []
  const full = new Map<number, HorizonBacktest>()
  const named = namedModels(opts)
  const n = series.values.length
  for (const h of horizons) {
    const spec = { horizonHours: h, origins: opts.origins, strideHours: opts.strideHours }
    const need = Math.max(backtestMinHours(spec, minBaseline), namedMinHours(named, spec))
    if (n < need && horizons.length > 1) {
      outcomes.push({ horizonHours: h, skipped: `needs ${formatHours(need)} of history (${opts.origins} origins ${opts.strideHours} h apart)${named.length > 0 ? ' for the named models' : ''}, the series has ${formatHours(n)}` })
      continue
    }
    if (n < namedMinHours(named, spec)) throw namedTooShort(named, spec, n)
    const bt = backtest(series, { ...spec, models, baselineId: BASELINE_ID })
    full.set(h, bt)
    const { residuals: _residuals, ...scores } = bt
    outcomes.push({ horizonHours: h, backtest: scores, choice: chooseModel({ ...scores, residuals: {} }) })
  }
  if (outcomes.every((o) => o.skipped)) {
    // When the baseline alone would fit the shortest horizon, the named models are why nothing ran: say so, with their minimum.
    const shortest = { horizonHours: Math.min(...horizons), origins: opts.origins, strideHours: opts.strideHours }
    if (named.length > 0 && n >= backtestMinHours(shortest, minBaseline)) throw namedTooShort(named, shortest, n)
    throw new InputError(`series too short for any backtest: ${outcomes.map((o) => `${formatHours(o.horizonHours)} ${o.skipped}`).join('; ')}`)
  }
  return { outcomes, full }
}

const round = (x: number | null, digits: number): number | null => (x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits)

/** One row per horizon and model (sMAPE and coverage in percent), skipped horizons as a row with the reason. */
export function backtestTable(outcomes: readonly HorizonOutcome[]): PlainTable {
  const columns = ['horizon', 'model', 'smapePct', 'mase', 'maeGpus', 'coverage80Pct', 'coverage50Pct', 'origins', 'chosen', 'note']
  const rows: PlainTable['rows'] = []
  for (const o of outcomes) {
    const horizon = formatHours(o.horizonHours)
    if (!o.backtest) {
      rows.push({ horizon, model: '', smapePct: null, mase: null, maeGpus: null, coverage80Pct: null, coverage50Pct: null, origins: null, chosen: false, note: `skipped: ${o.skipped}` })
      continue
    }
    for (const s of [...o.backtest.scores].sort((a, b) => a.smapeRatio - b.smapeRatio)) {
      rows.push({
        horizon, model: s.modelId, smapePct: round(s.smapeRatio * 100, 2), mase: round(s.mase, 3), maeGpus: round(s.maeGpus, 1),
        coverage80Pct: round(s.coverage80 === null ? null : s.coverage80 * 100, 1), coverage50Pct: round(s.coverage50 === null ? null : s.coverage50 * 100, 1),
        origins: o.backtest.originsMs.length, chosen: o.choice?.modelId === s.modelId, note: s.modelId === o.backtest.baselineId ? 'baseline' : s.naive ? 'naive' : '',
      })
    }
    for (const k of o.backtest.skipped) rows.push({ horizon, model: k.modelId, smapePct: null, mase: null, maeGpus: null, coverage80Pct: null, coverage50Pct: null, origins: null, chosen: false, note: `skipped: ${k.reason}` })
  }
  return { columns, rows }
}

/** Decimal places per column when the backtest table is printed. */
export const BACKTEST_DIGITS: Readonly<Record<string, number>> = { smapePct: 2, mase: 3, maeGpus: 1, coverage80Pct: 1, coverage50Pct: 1 }

/** Formats a table as aligned monospace text with a header rule: numbers right-aligned (fixed digits per column when given), null as '-', true as '*'. */
export function formatTable(table: PlainTable, digits: Readonly<Record<string, number>> = {}): string {
  const cell = (v: unknown, column: string) => {
    if (v === null || v === undefined) return '-'
    if (typeof v === 'boolean') return v ? '*' : ''
    if (typeof v === 'number' && digits[column] !== undefined) return v.toFixed(digits[column])
    return String(v)
  }
  const cells = table.rows.map((r) => table.columns.map((c) => cell(r[c], c)))
  const widths = table.columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)))
  const numeric = table.columns.map((c) => table.rows.some((r) => typeof r[c] === 'number'))
  const line = (vals: string[]) => vals.map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd()
  return [line(table.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n')
}
