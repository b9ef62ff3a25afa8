/**
 * Holt-Winters, additive: level + trend (linear, or damped by φ as Gardner &
 * McKenzie) + a daily season, and optionally a weekly season on top of it
 * (Taylor's double-seasonal method, 2003). Smoothing parameters are fitted by
 * Nelder-Mead on the in-sample one-step squared error. The first level and
 * trend come from the first two seasons; the seasons start as medians over
 * up to four weeks, so one bad day (Helios has a day of zeros) does not
 * become part of the weekly pattern.
 *
 * Equations, with d the daily index (t mod 24) and w the weekly one (t mod 168):
 *   ŷ(t)   = l + φb + D[d] + W[w]
 *   l'     = α(y − D[d] − W[w]) + (1 − α)(l + φb)
 *   b'     = β(l' − l) + (1 − β)φb
 *   D[d]'  = γ(y − l' − W[w]) + (1 − γ)D[d]
 *   W[w]'  = ω(y − l' − D[d]) + (1 − ω)W[w]
 *   ŷ(n+h) = l + (φ + … + φ^h)b + D[(n+h−1) mod 24] + W[(n+h−1) mod 168]
 * φ = 1 for the undamped model; W ≡ 0 without the weekly season.
 */
import { median } from 'simple-statistics'
import { DAY_HOURS, requireLength, WEEK_HOURS } from '../series'
import { nelderMead, toBounded, toUnbounded } from './optimize'
import type { Fitted, Model } from './types'

/** Which Holt-Winters: with or without the weekly season, damped trend or not. */
export interface HoltWintersSpec {
  weekly: boolean
  damped: boolean
}

/** Smoothing parameters: α level, β trend, γ daily season, ω weekly season, φ damping. */
export interface HoltWintersParams {
  alpha: number
  beta: number
  gamma: number
  omega: number
  phi: number
}

interface State {
  level: number
  trend: number
  daily: Float64Array
  weekly: Float64Array | null
  /** Hours processed since the start of the history (the seasonal indices count from it). */
  t: number
}

/** Bounds of each parameter while fitting; damping stays below 0.98 so a long horizon flattens out. */
const BOUNDS = { alpha: [0.001, 0.999], beta: [0.0001, 0.5], gamma: [0.001, 0.999], omega: [0.001, 0.999], phi: [0.8, 0.98] } as const
/** Seasons are first estimated from up to four weeks of history (by median, see initState). */
const INIT_HOURS = 4 * WEEK_HOURS
const START: HoltWintersParams = { alpha: 0.3, beta: 0.01, gamma: 0.2, omega: 0.2, phi: 0.9 }

/** The Holt-Winters model of the spec; needs two of its longest season (48 h daily, 336 h weekly). */
export function holtWinters(spec: HoltWintersSpec): Model {
  const season = spec.weekly ? WEEK_HOURS : DAY_HOURS
  const label = `Holt-Winters${spec.damped ? ' damped' : ''} (${spec.weekly ? 'daily + weekly' : 'daily'})`
  const model: Model = {
    id: `hw${spec.damped ? '-damped' : ''}-${spec.weekly ? 'weekly' : 'daily'}`,
    label,
    minLength: 2 * season,
    naive: false,
    fit(history) {
      requireLength(history.length, model.minLength, label)
      return fitted(history, spec, fitParams(history, spec))
    },
  }
  return model
}

/** Runs the filter over a history with fixed parameters and returns the forecaster (no fitting). */
export function holtWintersWith(history: readonly number[], spec: HoltWintersSpec, params: HoltWintersParams): Fitted {
  requireLength(history.length, 2 * (spec.weekly ? WEEK_HOURS : DAY_HOURS), 'Holt-Winters')
  return fitted(history, spec, params)
}

function fitted(history: readonly number[], spec: HoltWintersSpec, p: HoltWintersParams): Fitted {
  const state = initState(history, spec)
  run(history, state, p)
  return { params: { ...p }, forecast: (horizon) => forecastFrom(state, p, horizon), reuse: (next) => holtWintersWith(next, spec, p) }
}

/** Fits α, β, γ (ω, φ) by minimising the one-step squared error after the first season. */
export function fitParams(history: readonly number[], spec: HoltWintersSpec): HoltWintersParams {
  const names = (['alpha', 'beta', 'gamma', ...(spec.weekly ? ['omega'] : []), ...(spec.damped ? ['phi'] : [])] as const) as ReadonlyArray<keyof HoltWintersParams>
  const decode = (u: readonly number[]): HoltWintersParams => {
    const p = { ...START, omega: 0, phi: 1 }
    names.forEach((name, i) => (p[name] = toBounded(u[i]!, BOUNDS[name][0], BOUNDS[name][1])))
    return p
  }
  const start = names.map((name) => toUnbounded(START[name], BOUNDS[name][0], BOUNDS[name][1]))
  const init = initState(history, spec)
  const objective = (u: number[]) => run(history, cloneState(init), decode(u))
  return decode(nelderMead(objective, start).x)
}

/** Initial level, trend and seasons from the first two longest seasons. */
function initState(y: readonly number[], spec: HoltWintersSpec): State {
  const m = spec.weekly ? WEEK_HOURS : DAY_HOURS
  const mean = (from: number, to: number) => {
    let s = 0
    for (let i = from; i < to; i++) s += y[i]!
    return s / (to - from)
  }
  const first = mean(0, m)
  const trend = (mean(m, 2 * m) - first) / m
  // Seasons from up to four weeks of whole seasons, by median, so one bad day (an outage) does not become a season.
  const span = Math.floor(Math.min(y.length, INIT_HOURS) / m) * m
  const resid = Array.from({ length: span }, (_, t) => y[t]! - (first + trend * (t - (m - 1) / 2)))
  const daily = seasonalMedians(resid, DAY_HOURS, () => 0)
  const weekly = spec.weekly ? seasonalMedians(resid, WEEK_HOURS, (t) => daily[t % DAY_HOURS]!) : null
  return { level: first - trend * ((m - 1) / 2 + 1), trend, daily, weekly, t: 0 }
}

/** Median of (r − less(t)) per season index, centred so the season sums to 0. */
function seasonalMedians(resid: readonly number[], period: number, less: (t: number) => number): Float64Array {
  const slots: number[][] = Array.from({ length: period }, () => [])
  resid.forEach((r, t) => slots[t % period]!.push(r - less(t)))
  const out = Float64Array.from(slots, (xs) => (xs.length === 0 ? 0 : median(xs)))
  const centre = out.reduce((a, v) => a + v, 0) / period
  return out.map((v) => v - centre)
}

const cloneState = (s: State): State => ({ ...s, daily: s.daily.slice(), weekly: s.weekly ? s.weekly.slice() : null })

/** Advances the state over the values and returns the one-step squared error after the first longest season. */
function run(y: readonly number[], s: State, p: HoltWintersParams): number {
  const burnIn = s.weekly ? WEEK_HOURS : DAY_HOURS
  let sse = 0
  for (let i = 0; i < y.length; i++, s.t++) {
    const d = s.t % DAY_HOURS
    const w = s.t % WEEK_HOURS
    const dv = s.daily[d]!
    const wv = s.weekly ? s.weekly[w]! : 0
    const value = y[i]!
    const e = value - (s.level + p.phi * s.trend + dv + wv)
    if (s.t >= burnIn) sse += e * e
    const prev = s.level
    s.level = p.alpha * (value - dv - wv) + (1 - p.alpha) * (prev + p.phi * s.trend)
    s.trend = p.beta * (s.level - prev) + (1 - p.beta) * p.phi * s.trend
    s.daily[d] = p.gamma * (value - s.level - wv) + (1 - p.gamma) * dv
    if (s.weekly) s.weekly[w] = p.omega * (value - s.level - dv) + (1 - p.omega) * wv
  }
  return sse
}

function forecastFrom(s: State, p: HoltWintersParams, horizon: number): number[] {
  const out: number[] = []
  let damp = 0
  let phiH = 1
  for (let h = 1; h <= horizon; h++) {
    phiH *= p.phi
    damp += phiH
    const t = s.t + h - 1
    out.push(s.level + damp * s.trend + s.daily[t % DAY_HOURS]! + (s.weekly ? s.weekly[t % WEEK_HOURS]! : 0))
  }
  return out
}
