/**
 * Rolling-origin backtest (Tashman 2000): the series is cut at several
 * origins, every model is fitted on the hours before each origin and
 * forecasts the next `horizon` hours, and the forecasts are scored against
 * what happened. Origins are `stride` hours apart and the last forecast ends
 * with the series, so with a 24 h horizon, 7 origins and a 24 h stride the
 * forecasts tile the last 7 days exactly once. Every model is scored on the
 * same origins and hours; a model that needs more history than the first
 * origin has is skipped with a note, never scored on fewer origins. A
 * model's parameters (Holt-Winters' smoothing constants) are estimated once,
 * at the first origin, and held for the later ones, whose states are updated
 * with the new hours ("updating without recalibration", Tashman 2000): the
 * forecasts stay honest (no origin sees its future) at a seventh of the cost.
 *
 * Interval coverage is cross-validated: the intervals of origin k are built
 * (forecasting/intervals.ts) from the residuals of the other origins only.
 */
import { InputError } from '../core/errors'
import { demandQuantiles, probIndex, residualQuantiles } from './intervals'
import { coverage, mae, relativeMae, smape } from './metrics'
import type { Model } from './models/types'
import { formatHours, HOUR_MS, type HourlySeries } from './series'

/** How a backtest is run. */
export interface BacktestSpec {
  horizonHours: number
  /** Number of forecast origins. */
  origins: number
  /** Hours between consecutive origins. */
  strideHours: number
  /** Candidate models; the baseline must be among them. */
  models: readonly Model[]
  /** Id of the model MASE is scaled by (seasonal naive 24 h). */
  baselineId: string
}

/** One model's scores over every origin and hour of a backtest. */
export interface ModelScore {
  modelId: string
  label: string
  naive: boolean
  /** sMAPE as a ratio (0.113 = 11.3 %). */
  smapeRatio: number
  maeGpus: number
  /** MAE over the baseline's MAE on the same hours; null when the baseline made no error. */
  mase: number | null
  /** Share of actuals inside the cross-validated 80 % (P10-P90) and 50 % (P25-P75) intervals; null with one origin. */
  coverage80: number | null
  coverage50: number | null
}

/** A model left out of a backtest, and why. */
export interface Skipped {
  modelId: string
  label: string
  reason: string
}

/** A backtest at one horizon. */
export interface HorizonBacktest {
  horizonHours: number
  /** Epoch ms of each origin (the first forecast hour). */
  originsMs: number[]
  /** Forecast hours scored per model (origins × horizon). */
  points: number
  baselineId: string
  scores: ModelScore[]
  skipped: Skipped[]
  /** Residuals (actual − forecast) per model, origin and step, for intervals. */
  residuals: Record<string, number[][]>
}

/** Fewest hourly values a backtest of this shape needs (the baseline's history before the first origin, then every origin). */
export function backtestMinHours(spec: Pick<BacktestSpec, 'horizonHours' | 'origins' | 'strideHours'>, baselineMinHours: number): number {
  return baselineMinHours + spec.horizonHours + (spec.origins - 1) * spec.strideHours
}

/** Runs the backtest; throws InputError naming the minimum length when the series is too short for it. */
export function backtest(series: HourlySeries, spec: BacktestSpec): HorizonBacktest {
  const baseline = spec.models.find((m) => m.id === spec.baselineId)
  if (!baseline) throw new Error(`backtest: baseline '${spec.baselineId}' is not among the models`)
  const n = series.values.length
  const need = backtestMinHours(spec, baseline.minLength)
  if (n < need) {
    throw new InputError(
      `series too short for a ${formatHours(spec.horizonHours)} backtest with ${spec.origins} origins ${spec.strideHours} h apart: ` +
        `it needs at least ${need} hourly values (${formatHours(need)}), and has ${n} (${formatHours(n)})`,
    )
  }
  const origins = Array.from({ length: spec.origins }, (_, k) => n - spec.horizonHours - (spec.origins - 1 - k) * spec.strideHours)
  const actual = origins.map((o) => series.values.slice(o, o + spec.horizonHours))
  const skipped: Skipped[] = []
  const forecasts = new Map<Model, number[][]>()
  for (const model of spec.models) {
    if (model.minLength > origins[0]!) {
      skipped.push({ modelId: model.id, label: model.label, reason: `needs ${formatHours(model.minLength)} of history before the first origin, which has ${formatHours(origins[0]!)}` })
      continue
    }
    // Parameters are estimated at the first origin and held; later origins only run the model over more data.
    const first = model.fit(series.values.slice(0, origins[0]))
    const at = (o: number, k: number) => (k === 0 ? first : first.reuse ? first.reuse(series.values.slice(0, o)) : model.fit(series.values.slice(0, o)))
    forecasts.set(model, origins.map((o, k) => clampForecast(at(o, k).forecast(spec.horizonHours))))
  }
  const flatActual = actual.flat()
  const baselineMae = mae(flatActual, forecasts.get(baseline)!.flat())
  const residuals: Record<string, number[][]> = {}
  const scores: ModelScore[] = []
  for (const [model, f] of forecasts) {
    const res = f.map((fk, k) => fk.map((v, h) => actual[k]![h]! - v))
    residuals[model.id] = res
    const modelMae = mae(flatActual, f.flat())
    scores.push({
      modelId: model.id,
      label: model.label,
      naive: model.naive,
      smapeRatio: smape(flatActual, f.flat()),
      maeGpus: modelMae,
      mase: relativeMae(modelMae, baselineMae),
      ...crossValidatedCoverage(actual, f, res),
    })
  }
  return { horizonHours: spec.horizonHours, originsMs: origins.map((o) => series.startMs + o * HOUR_MS), points: flatActual.length, baselineId: spec.baselineId, scores, skipped, residuals }
}

/** Demand is never negative: forecasts below 0 are cut to 0 before scoring. */
export const clampForecast = (f: readonly number[]): number[] => f.map((v) => Math.max(0, v))

/** Coverage of the 80 % and 50 % intervals, each origin's intervals built from the other origins' residuals. */
function crossValidatedCoverage(actual: number[][], forecasts: number[][], residuals: number[][]): Pick<ModelScore, 'coverage80' | 'coverage50'> {
  if (actual.length < 2) return { coverage80: null, coverage50: null }
  const [p10, p90, p25, p75] = [probIndex(0.1), probIndex(0.9), probIndex(0.25), probIndex(0.75)]
  const a: number[] = []
  const lo80: number[] = []
  const hi80: number[] = []
  const lo50: number[] = []
  const hi50: number[] = []
  actual.forEach((ak, k) => {
    const q = demandQuantiles(forecasts[k]!, residualQuantiles(residuals.filter((_, j) => j !== k)))
    ak.forEach((v, h) => {
      a.push(v)
      lo80.push(q[h]![p10]!)
      hi80.push(q[h]![p90]!)
      lo50.push(q[h]![p25]!)
      hi50.push(q[h]![p75]!)
    })
  })
  return { coverage80: coverage(a, lo80, hi80), coverage50: coverage(a, lo50, hi50) }
}
