/**
 * Holt-Winters, additive: level + trend (linear, or damped by φ as Gardner &
 * McKenzie) + a daily season, and optionally a weekly season on top of it
 * (Taylor's double-seasonal method, 2003). Smoothing parameters are fitted by
 * Nelder-Mead on the in-sample one-step squared error (a backtest fits the
 * variants side by side: prefitHoltWinters). The first level and
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
import { sseLanes, laneScratch, type Lane } from './holtWintersLanes'
import { nelderMeadSteps, toBounded, toUnbounded, type MinimizeSteps } from './optimize'
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
    holtWinters: [spec],
    fit(history) {
      requireLength(history.length, model.minLength, label)
      return fitted(history, spec, fitParamsOnce(history, spec))
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
  const state = cloneState(initialState(history, spec))
  run(history, 0, state, p)
  return fittedFrom(history, spec, p, state)
}

/**
 * The forecaster over a filtered state. Reusing it on a history that extends
 * this one (the next backtest origin) continues the filter over the new hours
 * only, which is the same computation as running it from the start: the
 * initial state reads only the first seasons, unchanged when the history is.
 */
function fittedFrom(history: readonly number[], spec: HoltWintersSpec, p: HoltWintersParams, state: State): Fitted {
  return {
    params: { ...p },
    forecast: (horizon) => forecastFrom(state, p, horizon),
    reuse(next) {
      if (!extendsHistory(next, history, spec)) return holtWintersWith(next, spec, p)
      const s = cloneState(state)
      run(next, history.length, s, p)
      return fittedFrom(next, spec, p, s)
    },
  }
}

/** True when `next` starts with `prev` and has the same span of seasons for the initial state. */
function extendsHistory(next: readonly number[], prev: readonly number[], spec: HoltWintersSpec): boolean {
  if (next.length < prev.length || initSpan(next.length, spec) !== initSpan(prev.length, spec)) return false
  if (next === prev) return true
  for (let i = 0; i < prev.length; i++) if (next[i] !== prev[i]) return false
  return true
}

/**
 * Fitted parameters per history and spec. A backtest hands every model the
 * same history array at an origin, so a combination and its member (combo-weekly
 * and hw-damped-weekly) estimate the parameters once; histories are not mutated
 * (models are pure), and the entries go with their arrays.
 */
const fittedParams = new WeakMap<readonly number[], Map<string, HoltWintersParams>>()

const paramsKey = (history: readonly number[], spec: HoltWintersSpec): string => `${spec.weekly ? 'w' : 'd'}${spec.damped ? 'p' : ''}:${history.length}`

function paramsCache(history: readonly number[]): Map<string, HoltWintersParams> {
  let byKey = fittedParams.get(history)
  if (!byKey) fittedParams.set(history, (byKey = new Map()))
  return byKey
}

function fitParamsOnce(history: readonly number[], spec: HoltWintersSpec): HoltWintersParams {
  const byKey = paramsCache(history)
  const key = paramsKey(history, spec)
  let p = byKey.get(key)
  if (!p) byKey.set(key, (p = fitParams(history, spec)))
  return { ...p }
}

/**
 * Fits, side by side, the Holt-Winters variants the models will estimate on
 * this history (the backtest calls it before fitting its models at the first
 * origin), so their fits then find the parameters ready. The parameters are
 * those each variant's own fit finds, bit for bit (fitParamsTogether).
 */
export function prefitHoltWinters(history: readonly number[], models: readonly Model[]): void {
  const byKey = paramsCache(history)
  const todo = new Map<string, HoltWintersSpec>()
  for (const model of models) {
    for (const spec of model.holtWinters ?? []) {
      const key = paramsKey(history, spec)
      if (!byKey.has(key) && history.length >= 2 * (spec.weekly ? WEEK_HOURS : DAY_HOURS)) todo.set(key, spec)
    }
  }
  if (todo.size < 2) return
  const params = fitParamsTogether(history, [...todo.values()])
  ;[...todo.keys()].forEach((key, i) => byKey.set(key, params[i]!))
}

/** One variant's parameter search: which parameters it fits, and its Nelder-Mead steps over them (unbounded). */
interface Search {
  spec: HoltWintersSpec
  decode(u: readonly number[]): HoltWintersParams
  init: State
  steps: MinimizeSteps
}

function search(history: readonly number[], spec: HoltWintersSpec): Search {
  const names = (['alpha', 'beta', 'gamma', ...(spec.weekly ? ['omega'] : []), ...(spec.damped ? ['phi'] : [])] as const) as ReadonlyArray<keyof HoltWintersParams>
  const decode = (u: readonly number[]): HoltWintersParams => {
    const p = { ...START, omega: 0, phi: 1 }
    names.forEach((name, i) => (p[name] = toBounded(u[i]!, BOUNDS[name][0], BOUNDS[name][1])))
    return p
  }
  const start = names.map((name) => toUnbounded(START[name], BOUNDS[name][0], BOUNDS[name][1]))
  return { spec, decode, init: initialState(history, spec), steps: nelderMeadSteps(start) }
}

/** Fits α, β, γ (ω, φ) by minimising the one-step squared error after the first season. */
export function fitParams(history: readonly number[], spec: HoltWintersSpec): HoltWintersParams {
  const { decode, init, steps } = search(history, spec)
  const y = Float64Array.from(history)
  const work = cloneState(init)
  let ask = steps.next()
  while (!ask.done) {
    resetState(work, init)
    ask = steps.next(run(y, 0, work, decode(ask.value)))
  }
  return decode(ask.value.x)
}

/**
 * Fits several variants on one history at once: their Nelder-Mead searches
 * advance in lockstep, one point each per round, and a round's points are
 * evaluated in one interleaved filter pass of two or four lanes
 * (holtWintersLanes.ts); a lone search (the others done) runs the plain
 * filter. Each search sees exactly the values its own fit would, so the
 * result is `specs.map((s) => fitParams(history, s))` bit for bit. The four
 * variants take about 20 % less time so (measured: the searches stop after
 * 110 to 240 evaluations, so the last rounds have fewer lanes to share).
 */
export function fitParamsTogether(history: readonly number[], specs: readonly HoltWintersSpec[]): HoltWintersParams[] {
  const y = Float64Array.from(history)
  const searches = specs.map((spec) => search(history, spec))
  const asks = searches.map((s) => s.steps.next())
  const scratch = laneScratch()
  const sse = new Float64Array(4)
  const work = searches.map((s) => cloneState(s.init))
  for (;;) {
    const active = searches.flatMap((_, i) => (asks[i]!.done ? [] : [i]))
    if (active.length === 0) break
    if (active.length === 1) {
      // A lone search runs the plain filter: one lane costs less alone than in a pass built for two.
      const i = active[0]!
      const s = searches[i]!
      resetState(work[i]!, s.init)
      asks[i] = s.steps.next(run(y, 0, work[i]!, s.decode(asks[i]!.value as number[])))
      continue
    }
    for (let from = 0; from < active.length; from += 4) {
      const batch = active.slice(from, from + 4)
      const lanes: Lane[] = batch.map((i) => {
        const s = searches[i]!
        return { state: s.init, params: s.decode(asks[i]!.value as number[]), burnIn: s.spec.weekly ? WEEK_HOURS : DAY_HOURS }
      })
      sseLanes(y, lanes, scratch, sse)
      batch.forEach((i, l) => (asks[i] = searches[i]!.steps.next(sse[l]!)))
    }
  }
  return asks.map((ask, i) => {
    if (!ask.done) throw new Error('fitParamsTogether: a search did not finish')
    return searches[i]!.decode(ask.value.x)
  })
}

/** Hours of history the initial seasons are estimated from: whole seasons, up to four weeks. */
const initSpan = (length: number, spec: HoltWintersSpec): number => {
  const m = spec.weekly ? WEEK_HOURS : DAY_HOURS
  return Math.floor(Math.min(length, INIT_HOURS) / m) * m
}

/**
 * Initial states per history (by length and season), as the fitted parameters
 * are: every model at a backtest origin starts from the same two (daily and
 * weekly). Callers never write to them (they clone or copy from them).
 */
const initialStates = new WeakMap<readonly number[], Map<string, State>>()

function initialState(history: readonly number[], spec: HoltWintersSpec): State {
  let byKey = initialStates.get(history)
  if (!byKey) initialStates.set(history, (byKey = new Map()))
  const key = `${spec.weekly ? 'w' : 'd'}:${history.length}`
  let state = byKey.get(key)
  if (!state) byKey.set(key, (state = initState(history, spec)))
  return state
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
  const span = initSpan(y.length, spec)
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

/** Copies `from` into `to` (same spec), so the optimiser's trials reuse one state's arrays. */
function resetState(to: State, from: State): void {
  to.level = from.level
  to.trend = from.trend
  to.t = from.t
  to.daily.set(from.daily)
  if (to.weekly && from.weekly) to.weekly.set(from.weekly)
}

/** Hours in a day and a week as plain numbers: the filter is the hot loop of every fit. */
const DAY = 24
const WEEK = 168

/**
 * Advances the state over y[from..] and returns the one-step squared error
 * after the first longest season. The seasonal indices run as counters, not
 * `t mod m`; the arithmetic is the equations' in the same order.
 */
function run(y: ArrayLike<number>, from: number, s: State, p: HoltWintersParams): number {
  const { alpha, beta, gamma, omega, phi } = p
  const daily = s.daily
  const weekly = s.weekly
  const burnIn = weekly ? WEEK : DAY
  let level = s.level
  let trend = s.trend
  let t = s.t
  let d = t % DAY
  let w = t % WEEK
  let sse = 0
  for (let i = from; i < y.length; i++) {
    const dv = daily[d]!
    const wv = weekly ? weekly[w]! : 0
    const value = y[i]!
    const e = value - (level + phi * trend + dv + wv)
    if (t >= burnIn) sse += e * e
    const prev = level
    level = alpha * (value - dv - wv) + (1 - alpha) * (prev + phi * trend)
    trend = beta * (level - prev) + (1 - beta) * phi * trend
    daily[d] = gamma * (value - level - wv) + (1 - gamma) * dv
    if (weekly) weekly[w] = omega * (value - level - dv) + (1 - omega) * wv
    t++
    if (++d === DAY) d = 0
    if (++w === WEEK) w = 0
  }
  s.level = level
  s.trend = trend
  s.t = t
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
