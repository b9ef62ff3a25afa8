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
import { demandQuantiles, MAX_POOL_RADIUS, probIndex, QUANTILE_PROBS, residualQuantiles, type ResidualQuantiles } from './intervals'
import { coverage, mae, relativeMae, smape } from './metrics'
import { prefitHoltWinters } from './models/holtWinters'
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
  // One history array per origin, shared by every model: a combination and its member then fit the same array once (models/holtWinters.ts).
  const histories = origins.map((o) => series.values.slice(0, o))
  // The Holt-Winters variants of every model are fitted side by side at the first origin: the same parameters, in less time (models/holtWinters.ts).
  prefitHoltWinters(histories[0]!, spec.models.filter((m) => m.minLength <= origins[0]!))
  for (const model of spec.models) {
    if (model.minLength > origins[0]!) {
      skipped.push({ modelId: model.id, label: model.label, reason: `needs ${formatHours(model.minLength)} of history before the first origin, which has ${formatHours(origins[0]!)}` })
      continue
    }
    // Parameters are estimated at the first origin and held; later origins only run the model over more data.
    const first = model.fit(histories[0]!)
    const at = (k: number) => (k === 0 ? first : first.reuse ? first.reuse(histories[k]!) : model.fit(histories[k]!))
    forecasts.set(model, origins.map((_, k) => clampForecast(at(k).forecast(spec.horizonHours))))
  }
  const flatActual = flatten(actual)
  const baselineMae = mae(flatActual, flatten(forecasts.get(baseline)!))
  const residuals: Record<string, number[][]> = {}
  const scores: ModelScore[] = []
  for (const [model, f] of forecasts) {
    const res = f.map((fk, k) => fk.map((v, h) => actual[k]![h]! - v))
    residuals[model.id] = res
    const flatForecast = flatten(f)
    const modelMae = mae(flatActual, flatForecast)
    scores.push({
      modelId: model.id,
      label: model.label,
      naive: model.naive,
      smapeRatio: smape(flatActual, flatForecast),
      maeGpus: modelMae,
      mase: relativeMae(modelMae, baselineMae),
      ...crossValidatedCoverage(actual, f, res),
    })
  }
  return { horizonHours: spec.horizonHours, originsMs: origins.map((o) => series.startMs + o * HOUR_MS), points: flatActual.length, baselineId: spec.baselineId, scores, skipped, residuals }
}

/** Origins' values end to end (Array.prototype.flat, without its generic slow path). */
function flatten(rows: readonly (readonly number[])[]): number[] {
  const out: number[] = []
  for (const row of rows) for (let i = 0; i < row.length; i++) out.push(row[i]!)
  return out
}

/** Demand is never negative: forecasts below 0 are cut to 0 before scoring. */
export function clampForecast(f: readonly number[]): number[] {
  const out = new Array<number>(f.length)
  for (let i = 0; i < f.length; i++) out[i] = Math.max(0, f[i]!)
  return out
}

/**
 * Coverage of the 80 % and 50 % intervals, each origin's intervals built from
 * the other origins' residuals. The reference computation is
 * `demandQuantiles(forecasts[k], residualQuantiles(residuals without k))` per
 * origin k (`referenceCoverage`); this gives the same numbers bit for bit
 * without building and sorting a fresh pool per origin and step: the pooled
 * window of residuals (every origin's, tagged) slides along the steps as one
 * sorted array, and origin k's leave-one-out quantiles are read from it by
 * skipping k's entries.
 */
export function crossValidatedCoverage(actual: number[][], forecasts: number[][], residuals: number[][]): Pick<ModelScore, 'coverage80' | 'coverage50'> {
  const origins = actual.length
  if (origins < 2) return { coverage80: null, coverage50: null }
  const steps = residuals[0]!.length
  if (origins > 255 || residuals.some((r) => r.length !== steps || r.some((v) => !Number.isFinite(v)))) return referenceCoverage(actual, forecasts, residuals)
  const pool = new SlidingPool(residuals)
  // The interval probabilities in ascending order: P10, P25, P50 (the centre), P75, P90.
  const probs = [0.1, 0.25, 0.5, 0.75, 0.9].map((p) => QUANTILE_PROBS[probIndex(p)]!)
  const q = new Float64Array(probs.length)
  const ranks = new QuantileRanks(probs.length)
  let in80 = 0
  let in50 = 0
  for (let h = 1; h <= steps; h++) {
    const r = Math.min(MAX_POOL_RADIUS, Math.max(2, Math.ceil(h / 4)))
    pool.slide(Math.max(1, h - r) - 1, Math.min(steps, h + r) - 1)
    // Every origin has the same steps in the window, so every leave-one-out pool has the same size and ranks.
    ranks.set(pool.length - pool.countOf(0), probs)
    for (let k = 0; k < origins; k++) {
      pool.quantilesWithout(k, ranks, q)
      const a = actual[k]![h - 1]!
      // The same expression as demandQuantiles with no widening: max(0, f + centre + (q - centre)).
      const centre = q[2]!
      const fc = forecasts[k]![h - 1]! + centre
      if (a >= Math.max(0, fc + (q[0]! - centre)) && a <= Math.max(0, fc + (q[4]! - centre))) in80++
      if (a >= Math.max(0, fc + (q[1]! - centre)) && a <= Math.max(0, fc + (q[3]! - centre))) in50++
    }
  }
  const points = origins * steps
  return { coverage80: in80 / points, coverage50: in50 / points }
}

/**
 * The same table as intervals.ts' `residualQuantiles` (bit for bit, held by a
 * unit test), from one sliding pool instead of a sorted pool per step: the
 * forecast's intervals at a 28 d horizon then cost a pass, not 672 sorts.
 */
export function pooledResidualQuantiles(residuals: readonly (readonly number[])[]): ResidualQuantiles {
  const steps = residuals[0]?.length ?? 0
  if (steps === 0 || residuals.length > 255 || residuals.some((r) => r.length !== steps || r.some((v) => !Number.isFinite(v)))) return residualQuantiles(residuals)
  const pool = new SlidingPool(residuals)
  let minPool = Number.POSITIVE_INFINITY
  const byStep: number[][] = []
  for (let h = 1; h <= steps; h++) {
    const r = Math.min(MAX_POOL_RADIUS, Math.max(2, Math.ceil(h / 4)))
    pool.slide(Math.max(1, h - r) - 1, Math.min(steps, h + r) - 1)
    minPool = Math.min(minPool, pool.length)
    byStep.push(QUANTILE_PROBS.map((p) => pool.quantile(p)))
  }
  return { byStep, minPool }
}


/** The cross-validated coverage as intervals.ts defines it, one pool per origin and step (the fallback for odd inputs, and the test oracle). */
export function referenceCoverage(actual: number[][], forecasts: number[][], residuals: number[][]): Pick<ModelScore, 'coverage80' | 'coverage50'> {
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

/**
 * The residuals of every origin at steps [from, to] (0-based), ascending, each
 * entry keyed by its step and origin (`step << 8 | origin`). The window only
 * moves right: a slide is one merge pass that drops the steps left behind and
 * merges the new steps' residuals (sorted first) in, recording each origin's
 * positions. Flat typed arrays, double-buffered: the pass allocates nothing.
 */
class SlidingPool {
  private values: Float64Array
  private keys: Int32Array
  private spareValues: Float64Array
  private spareKeys: Int32Array
  private readonly incomingValues: Float64Array
  private readonly incomingKeys: Int32Array
  private size = 0
  private to = -1
  /** positions[k * capacity + j]: where origin k's j-th entry sits (ascending). */
  private readonly positions: Int32Array
  private readonly counts: Int32Array
  private readonly capacity: number

  constructor(private readonly residuals: readonly (readonly number[])[]) {
    const origins = residuals.length
    const capacity = (this.capacity = origins * (2 * MAX_POOL_RADIUS + 1))
    this.values = new Float64Array(capacity)
    this.keys = new Int32Array(capacity)
    this.spareValues = new Float64Array(capacity)
    this.spareKeys = new Int32Array(capacity)
    this.incomingValues = new Float64Array(capacity + 1)
    this.incomingKeys = new Int32Array(capacity)
    this.positions = new Int32Array(origins * capacity)
    this.counts = new Int32Array(origins)
  }

  /** Moves the window to steps [from, to]; both bounds never decrease. */
  slide(from: number, to: number): void {
    const origins = this.residuals.length
    const incValues = this.incomingValues
    const incKeys = this.incomingKeys
    let m = 0
    for (let s = Math.max(this.to + 1, from); s <= to; s++) {
      for (let k = 0; k < origins; k++) {
        // Insertion sort: a slide brings in at most a few steps of every origin.
        const v = this.residuals[k]![s]!
        let i = m++
        for (; i > 0 && incValues[i - 1]! > v; i--) {
          incValues[i] = incValues[i - 1]!
          incKeys[i] = incKeys[i - 1]!
        }
        incValues[i] = v
        incKeys[i] = (s << 8) | k
      }
    }
    const values = this.values
    const keys = this.keys
    const outValues = this.spareValues
    const outKeys = this.spareKeys
    const size = this.size
    const dropBelow = from << 8
    // Two sorted runs merged (the incoming one ends in a +∞ sentinel); entries of steps left behind are dropped on the way.
    incValues[m] = Number.POSITIVE_INFINITY
    let nextIncoming = incValues[0]!
    let n = 0
    let j = 0
    for (let i = 0; i < size; i++) {
      const v = values[i]!
      while (nextIncoming < v) {
        outValues[n] = nextIncoming
        outKeys[n++] = incKeys[j]!
        nextIncoming = incValues[++j]!
      }
      const key = keys[i]!
      if (key >= dropBelow) {
        outValues[n] = v
        outKeys[n++] = key
      }
    }
    for (; j < m; j++) {
      outValues[n] = incValues[j]!
      outKeys[n++] = incKeys[j]!
    }
    // Each origin's positions, ascending, for quantilesWithout.
    const positions = this.positions
    const counts = this.counts
    const capacity = this.capacity
    counts.fill(0)
    for (let p = 0; p < n; p++) {
      const tag = outKeys[p]! & 255
      positions[tag * capacity + counts[tag]!++] = p
    }
    this.spareValues = values
    this.spareKeys = keys
    this.values = outValues
    this.keys = outKeys
    this.size = n
    this.to = to
  }

  /** Entries in the window. */
  get length(): number {
    return this.size
  }

  /** Quantile p of every entry, interpolated as simple-statistics' quantileSorted (type 7). */
  quantile(p: number): number {
    const idx = (this.size - 1) * p
    if (idx % 1 === 0) return this.values[idx]!
    const lower = Math.floor(idx)
    const x0 = this.values[lower]!
    return x0 + (idx - lower) * (this.values[Math.ceil(idx)]! - x0)
  }

  /** Entries of origin `tag` in the window. */
  countOf(tag: number): number {
    return this.counts[tag]!
  }

  /**
   * Quantiles (ascending ranks, `ranks` set for the pool without one origin)
   * of the entries not tagged `tag` into `out`, interpolated as
   * simple-statistics' quantileSorted (type 7). The i-th smallest such entry
   * sits at i + j, j counting the tag's entries before it: the fewest j with
   * positions[j] > i + j. Lower ranks ascend with the probabilities, so j
   * only grows.
   */
  quantilesWithout(tag: number, ranks: QuantileRanks, out: Float64Array): void {
    const pos = this.positions
    const base = tag * this.capacity
    const count = this.counts[tag]!
    const values = this.values
    const lowers = ranks.lower
    const fractions = ranks.fraction
    let j = 0
    for (let p = 0; p < lowers.length; p++) {
      const lower = lowers[p]!
      while (j < count && pos[base + j]! - j <= lower) j++
      const x0 = values[lower + j]!
      const fraction = fractions[p]!
      if (fraction === 0) {
        out[p] = x0
        continue
      }
      // The next probability's lower rank may be this upper one or below it: step past it with a copy of j.
      const upper = lower + 1
      let ju = j
      while (ju < count && pos[base + ju]! - ju <= upper) ju++
      out[p] = x0 + fraction * (values[upper + ju]! - x0)
    }
  }
}

/** Where quantiles `probs` of n sorted values fall, as quantileSorted (type 7) computes it: index (n − 1)·p, its floor and the fraction past it. */
class QuantileRanks {
  readonly lower: Int32Array
  readonly fraction: Float64Array

  constructor(size: number) {
    this.lower = new Int32Array(size)
    this.fraction = new Float64Array(size)
  }

  set(n: number, probs: readonly number[]): void {
    for (let p = 0; p < probs.length; p++) {
      const idx = (n - 1) * probs[p]!
      const lower = Math.floor(idx)
      this.lower[p] = lower
      this.fraction[p] = idx - lower
    }
  }
}
