/**
 * Prediction intervals from backtest residuals, per horizon step (empirical,
 * no distribution assumed). For step h (1-based) the residuals (actual −
 * forecast) of every backtest origin at steps h−r..h+r, r = max(2, ⌈h/4⌉),
 * are pooled (7 origins alone give too few points for a P5), and the
 * quantile p of the demand at h is forecast(h) + quantile p of that pool.
 * Past the longest backtested step H the pool of H is widened by √(h/H), the
 * growth of a random walk's spread: an assumption, and answers say when it
 * was used. Demand is never below 0, so quantiles are cut at 0.
 */
import { quantileSorted } from 'simple-statistics'

/** The quantiles every forecast carries: P5..P95 (the 90 %, 80 % and 50 % intervals and the median). */
export const QUANTILE_PROBS = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95] as const

/** Widest pooling radius in steps: ±12 h keeps a pool local in time and its sort cheap at 28 d horizons. */
export const MAX_POOL_RADIUS = 12

/** Residual quantiles per horizon step: `byStep[h - 1][i]` is quantile QUANTILE_PROBS[i] of the residuals at step h. */
export interface ResidualQuantiles {
  byStep: number[][]
  /** Residuals the widest pool held (the fewest behind any step). */
  minPool: number
}

/** Pools `residuals[origin][step]` around each step and takes QUANTILE_PROBS of each pool. */
export function residualQuantiles(residuals: readonly (readonly number[])[]): ResidualQuantiles {
  const steps = Math.max(0, ...residuals.map((r) => r.length))
  let minPool = Number.POSITIVE_INFINITY
  const byStep: number[][] = []
  for (let h = 1; h <= steps; h++) {
    const r = Math.min(MAX_POOL_RADIUS, Math.max(2, Math.ceil(h / 4)))
    const pool: number[] = []
    for (const series of residuals) for (let s = Math.max(1, h - r); s <= Math.min(steps, h + r); s++) if (s <= series.length) pool.push(series[s - 1]!)
    pool.sort((a, b) => a - b)
    minPool = Math.min(minPool, pool.length)
    byStep.push(QUANTILE_PROBS.map((p) => (pool.length === 0 ? 0 : quantileSorted(pool, p))))
  }
  return { byStep, minPool: Number.isFinite(minPool) ? minPool : 0 }
}

/** Quantiles of demand per step and probability: point forecast + residual quantile (√-widened past the table), cut at 0. */
export function demandQuantiles(point: readonly number[], table: ResidualQuantiles): number[][] {
  const H = table.byStep.length
  return point.map((f, i) => {
    const h = i + 1
    const row = table.byStep[Math.min(h, H) - 1] ?? QUANTILE_PROBS.map(() => 0)
    const widen = h > H && H > 0 ? Math.sqrt(h / H) : 1
    const centre = row[QUANTILE_PROBS.indexOf(0.5)]!
    // Widen around the median residual, so a biased model keeps its bias but not a growing one.
    return row.map((q) => Math.max(0, f + centre + (q - centre) * widen))
  })
}

/** Index of a probability in QUANTILE_PROBS (throws for one that is not carried). */
export function probIndex(p: number): number {
  const i = QUANTILE_PROBS.indexOf(p as (typeof QUANTILE_PROBS)[number])
  if (i < 0) throw new RangeError(`quantile ${p} is not one of ${QUANTILE_PROBS.join(', ')}`)
  return i
}
