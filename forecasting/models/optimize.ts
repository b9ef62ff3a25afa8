/**
 * Nelder-Mead simplex minimisation over an unbounded space. Bounded model
 * parameters are mapped into it with `toBounded`/`toUnbounded` (a logistic
 * map), so the optimiser never proposes α = 1.3.
 */

/** Options of one minimisation. */
export interface MinimizeOptions {
  maxIterations: number
  /** Stop when the simplex's values differ by less than this (relative to the best). */
  tolerance: number
  /** Initial step of each coordinate when building the simplex. */
  step: number
}

/** The best point found and its value. */
export interface Minimum {
  x: number[]
  value: number
  iterations: number
}

const DEFAULTS: MinimizeOptions = { maxIterations: 300, tolerance: 1e-7, step: 0.6 }

/** Minimises `f` from `start` with the standard coefficients (reflect 1, expand 2, contract ½, shrink ½). */
export function nelderMead(f: (x: number[]) => number, start: readonly number[], options: Partial<MinimizeOptions> = {}): Minimum {
  const o = { ...DEFAULTS, ...options }
  const k = start.length
  let simplex = [start.slice(), ...start.map((_, i) => start.map((v, j) => (i === j ? v + o.step : v)))].map((x) => ({ x, v: f(x) }))
  let iterations = 0
  for (; iterations < o.maxIterations; iterations++) {
    simplex.sort((a, b) => a.v - b.v)
    const best = simplex[0]!
    const worst = simplex[k]!
    if (Math.abs(worst.v - best.v) <= o.tolerance * (Math.abs(best.v) + 1e-12)) break
    const centroid = Array.from({ length: k }, (_, j) => simplex.slice(0, k).reduce((s, p) => s + p.x[j]!, 0) / k)
    const along = (t: number) => centroid.map((c, j) => c + t * (worst.x[j]! - c))
    const reflected = point(f, along(-1))
    if (reflected.v < best.v) {
      const expanded = point(f, along(-2))
      simplex[k] = expanded.v < reflected.v ? expanded : reflected
    } else if (reflected.v < simplex[k - 1]!.v) {
      simplex[k] = reflected
    } else {
      const contracted = point(f, reflected.v < worst.v ? along(-0.5) : along(0.5))
      if (contracted.v < Math.min(worst.v, reflected.v)) simplex[k] = contracted
      else simplex = simplex.map((p, i) => (i === 0 ? p : point(f, p.x.map((v, j) => best.x[j]! + 0.5 * (v - best.x[j]!)))))
    }
  }
  simplex.sort((a, b) => a.v - b.v)
  return { x: simplex[0]!.x, value: simplex[0]!.v, iterations }
}

function point(f: (x: number[]) => number, x: number[]): { x: number[]; v: number } {
  const v = f(x)
  return { x, v: Number.isFinite(v) ? v : Number.POSITIVE_INFINITY }
}

/** Maps an unbounded value into (lo, hi) with the logistic function. */
export const toBounded = (u: number, lo: number, hi: number): number => lo + (hi - lo) / (1 + Math.exp(-u))

/** Inverse of toBounded, for a start value strictly inside (lo, hi). */
export const toUnbounded = (x: number, lo: number, hi: number): number => Math.log((x - lo) / (hi - x))
