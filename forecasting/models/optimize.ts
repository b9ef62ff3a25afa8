/**
 * Nelder-Mead simplex minimisation over an unbounded space. Bounded model
 * parameters are mapped into it with `toBounded`/`toUnbounded` (a logistic
 * map), so the optimiser never proposes α = 1.3. The search is written as a
 * generator of the points it needs evaluated, so several independent searches
 * can advance side by side and have their points evaluated together
 * (models/holtWinters.ts fits its variants that way); `nelderMead` drives one.
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

/** One search: yields each point to evaluate, is resumed with its value, returns the minimum. */
export type MinimizeSteps = Generator<number[], Minimum, number>

const DEFAULTS: MinimizeOptions = { maxIterations: 300, tolerance: 1e-7, step: 0.6 }

/** Minimises `f` from `start` with the standard coefficients (reflect 1, expand 2, contract ½, shrink ½). */
export function nelderMead(f: (x: number[]) => number, start: readonly number[], options: Partial<MinimizeOptions> = {}): Minimum {
  const steps = nelderMeadSteps(start, options)
  let next = steps.next()
  while (!next.done) next = steps.next(f(next.value))
  return next.value
}

/**
 * The Nelder-Mead search as a generator: the same points in the same order
 * as evaluating `f` inline, so driving it gives the same minimum bit for bit
 * however the evaluations are scheduled.
 */
export function* nelderMeadSteps(start: readonly number[], options: Partial<MinimizeOptions> = {}): MinimizeSteps {
  const o = { ...DEFAULTS, ...options }
  const k = start.length
  let simplex: Array<{ x: number[]; v: number }> = []
  for (const x of [start.slice(), ...start.map((_, i) => start.map((v, j) => (i === j ? v + o.step : v)))]) simplex.push({ x, v: yield x })
  let iterations = 0
  for (; iterations < o.maxIterations; iterations++) {
    simplex.sort((a, b) => a.v - b.v)
    const best = simplex[0]!
    const worst = simplex[k]!
    if (Math.abs(worst.v - best.v) <= o.tolerance * (Math.abs(best.v) + 1e-12)) break
    const centroid = Array.from({ length: k }, (_, j) => simplex.slice(0, k).reduce((s, p) => s + p.x[j]!, 0) / k)
    const along = (t: number) => centroid.map((c, j) => c + t * (worst.x[j]! - c))
    const rx = along(-1)
    const reflected = scored(rx, yield rx)
    if (reflected.v < best.v) {
      const ex = along(-2)
      const expanded = scored(ex, yield ex)
      simplex[k] = expanded.v < reflected.v ? expanded : reflected
    } else if (reflected.v < simplex[k - 1]!.v) {
      simplex[k] = reflected
    } else {
      const cx = reflected.v < worst.v ? along(-0.5) : along(0.5)
      const contracted = scored(cx, yield cx)
      if (contracted.v < Math.min(worst.v, reflected.v)) simplex[k] = contracted
      else {
        const shrunk = [best]
        for (let i = 1; i <= k; i++) {
          const sx = simplex[i]!.x.map((v, j) => best.x[j]! + 0.5 * (v - best.x[j]!))
          shrunk.push(scored(sx, yield sx))
        }
        simplex = shrunk
      }
    }
  }
  simplex.sort((a, b) => a.v - b.v)
  return { x: simplex[0]!.x, value: simplex[0]!.v, iterations }
}

/** A point of a search with its value; a value that is not finite counts as +∞. */
const scored = (x: number[], v: number): { x: number[]; v: number } => ({ x, v: Number.isFinite(v) ? v : Number.POSITIVE_INFINITY })

/** Maps an unbounded value into (lo, hi) with the logistic function. */
export const toBounded = (u: number, lo: number, hi: number): number => lo + (hi - lo) / (1 + Math.exp(-u))

/** Inverse of toBounded, for a start value strictly inside (lo, hi). */
export const toUnbounded = (x: number, lo: number, hi: number): number => Math.log((x - lo) / (hi - x))
