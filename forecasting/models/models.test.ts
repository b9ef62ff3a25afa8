import { describe, expect, it } from 'vitest'
import { InputError } from '../../core/errors'
import { fitParams, fitParamsTogether, holtWintersWith, prefitHoltWinters, type HoltWintersSpec } from './holtWinters'
import { nelderMead } from './optimize'
import { modelById, MODEL_IDS, parseModelIds, type ModelId } from './index'

const DAY = 24
const WEEK = 168
const daily = (t: number) => 100 + 30 * Math.sin((2 * Math.PI * t) / DAY)
const weekly = (t: number) => daily(t) + (Math.floor((t % WEEK) / DAY) >= 5 ? -40 : 0)
const series = (n: number, f: (t: number) => number) => Array.from({ length: n }, (_, t) => f(t))
const maxAbsError = (f: number[], truth: (t: number) => number, from: number) => Math.max(...f.map((v, h) => Math.abs(v - truth(from + h))))

describe('models recover synthetic series whose answer is known', () => {
  it.each<{ name: string; id: ModelId; truth: (t: number) => number; n: number; tolerance: number }>([
    { name: 'seasonal naive (24 h) repeats a pure daily season exactly', id: 'snaive24', truth: daily, n: 10 * DAY, tolerance: 1e-9 },
    { name: 'seasonal naive (168 h) repeats a pure weekly pattern exactly', id: 'snaive168', truth: weekly, n: 3 * WEEK, tolerance: 1e-9 },
    { name: 'Holt-Winters (daily) learns a pure daily season', id: 'hw-daily', truth: daily, n: 14 * DAY, tolerance: 0.5 },
    { name: 'Holt-Winters damped (daily) learns a pure daily season', id: 'hw-damped-daily', truth: daily, n: 14 * DAY, tolerance: 0.5 },
    { name: 'Holt-Winters (daily + weekly) learns a weekday/weekend pattern', id: 'hw-weekly', truth: weekly, n: 4 * WEEK, tolerance: 1 },
    { name: 'Holt-Winters damped (daily + weekly) learns a weekday/weekend pattern', id: 'hw-damped-weekly', truth: weekly, n: 4 * WEEK, tolerance: 1 },
    { name: 'linear trend extends a pure trend exactly', id: 'linear', truth: (t) => 50 + 0.5 * t, n: 2 * WEEK, tolerance: 1e-6 },
    { name: 'Holt-Winters (daily) extends a trend under a daily season', id: 'hw-daily', truth: (t) => daily(t) + 0.2 * t, n: 21 * DAY, tolerance: 1.5 },
    { name: 'the naive + Holt-Winters combination keeps a pure daily season', id: 'combo-daily', truth: daily, n: 14 * DAY, tolerance: 0.5 },
  ])('$name', ({ id, truth, n, tolerance }) => {
    const f = modelById(id).fit(series(n, truth)).forecast(DAY)
    expect(f).toHaveLength(DAY)
    expect(maxAbsError(f, truth, n)).toBeLessThan(tolerance)
  })

  it('linear trend reports the slope it fitted', () => {
    const fitted = modelById('linear').fit(series(WEEK, (t) => 7 + 3 * t))
    expect(fitted.params.slopeGpusPerHour).toBeCloseTo(3, 9)
  })

  it('Holt-Winters follows a step in demand within a day, where a linear trend cannot', () => {
    const step = (t: number) => (t < 12 * DAY ? 100 : 200)
    const y = series(14 * DAY, step)
    const hw = modelById('hw-damped-daily').fit(y).forecast(DAY)
    const linear = modelById('linear').fit(y).forecast(DAY)
    expect(Math.max(...hw.map((v) => Math.abs(v - 200)))).toBeLessThan(10)
    expect(Math.max(...linear.map((v) => Math.abs(v - 200)))).toBeGreaterThan(30)
  })

  it('damping flattens a trend over a long horizon, the undamped model keeps climbing', () => {
    const y = series(21 * DAY, (t) => 100 + 0.5 * t)
    const far = 13 * WEEK
    const damped = modelById('hw-damped-daily').fit(y).forecast(far)
    const undamped = modelById('hw-daily').fit(y).forecast(far)
    expect(undamped[far - 1]! - undamped[far - 1 - WEEK]!).toBeGreaterThan(50)
    expect(Math.abs(damped[far - 1]! - damped[far - 1 - WEEK]!)).toBeLessThan(1)
  })
})

describe('a series too short for a model is an error naming the minimum length', () => {
  it.each<{ id: ModelId; n: number; need: number }>([
    { id: 'snaive24', n: 10, need: 24 },
    { id: 'snaive168', n: 100, need: 168 },
    { id: 'hw-daily', n: 47, need: 48 },
    { id: 'hw-weekly', n: 300, need: 336 },
    { id: 'combo-weekly', n: 300, need: 336 },
    { id: 'mstl-ets', n: 300, need: 336 },
  ])('$id with $n values needs $need', ({ id, n, need }) => {
    const fit = () => modelById(id).fit(series(n, daily))
    expect(fit).toThrow(InputError)
    expect(fit).toThrow(new RegExp(`at least ${need} hourly values.*has ${n}`))
  })
})

describe('model ids', () => {
  it('builds every listed model under its own id', () => {
    for (const id of MODEL_IDS) expect(modelById(id).id).toBe(id)
  })

  it('rejects an unknown model id and lists the known ones', () => {
    expect(() => parseModelIds('snaive24,prophet')).toThrow(/unknown model\(s\) 'prophet': known models are snaive24, snaive168/)
  })
})

describe('MSTL + AutoETS through augurs WASM on Node', () => {
  it('fits a daily + weekly pattern and forecasts it', () => {
    const y = series(4 * WEEK, weekly)
    const f = modelById('mstl-ets').fit(y).forecast(DAY)
    expect(maxAbsError(f, weekly, y.length)).toBeLessThan(5)
  })
})

describe('Holt-Winters reuse (later backtest origins) continues the filter and equals a run from the start', () => {
  const noisy = (t: number) => weekly(t) + 0.05 * t + 7 * Math.sin(t * 1.7) + (t > 500 ? 25 : 0)
  it.each<{ id: ModelId; first: number; next: number }>([
    { id: 'hw-damped-weekly', first: 5 * WEEK, next: 5 * WEEK + 3 * DAY },
    { id: 'hw-daily', first: 6 * WEEK, next: 6 * WEEK + 24 },
    // Shorter than the four weeks the initial seasons read: the next history has more whole seasons of them, so the state is rebuilt.
    { id: 'hw-weekly', first: 3 * WEEK + 100, next: 4 * WEEK + 10 },
    { id: 'hw-damped-daily', first: 20 * DAY, next: 27 * DAY },
  ])('$id from $first to $next hours', ({ id, first, next }) => {
    const y = series(next, noisy)
    const fitted = modelById(id).fit(y.slice(0, first))
    const spec = { weekly: id.includes('weekly'), damped: id.includes('damped') }
    const params = { alpha: 0, beta: 0, gamma: 0, omega: 0, phi: 1, ...fitted.params }
    expect(fitted.reuse!(y).forecast(2 * WEEK)).toEqual(holtWintersWith(y, spec, params).forecast(2 * WEEK))
  })

  it('refits rather than continues when the next history does not extend the first', () => {
    const y = series(5 * WEEK, noisy)
    const fitted = modelById('hw-damped-weekly').fit(y)
    const changed = y.map((v, t) => (t === 10 ? v + 50 : v))
    const params = { alpha: 0, beta: 0, gamma: 0, omega: 0, phi: 1, ...fitted.params }
    expect(fitted.reuse!(changed).forecast(DAY)).toEqual(holtWintersWith(changed, { weekly: true, damped: true }, params).forecast(DAY))
    expect(fitted.reuse!(changed).forecast(DAY)).not.toEqual(fitted.forecast(DAY))
  })
})

describe('Holt-Winters variants fitted side by side find the parameters each finds alone, bit for bit', () => {
  const noisy = (t: number) => weekly(t) + 0.05 * t + 9 * Math.sin(t * 1.7) + 4 * Math.cos(t * 0.37) + (t > 400 ? 25 : 0) - (t > 900 ? 40 : 0)
  const all: HoltWintersSpec[] = [
    { weekly: false, damped: false },
    { weekly: false, damped: true },
    { weekly: true, damped: false },
    { weekly: true, damped: true },
  ]
  it.each<{ name: string; n: number; specs: HoltWintersSpec[] }>([
    { name: 'the four variants (a pass of four lanes, then fewer as searches finish)', n: 8 * WEEK, specs: all },
    { name: 'three variants', n: 5 * WEEK + 7, specs: all.slice(1) },
    { name: 'a daily and a weekly variant (two lanes of different seasons)', n: 4 * WEEK, specs: [all[0]!, all[3]!] },
    { name: 'five searches (a batch of four and one more)', n: 3 * WEEK, specs: [...all, all[1]!] },
    { name: 'exactly two weeks of history', n: 2 * WEEK, specs: all },
  ])('$name', ({ n, specs }) => {
    const y = series(n, noisy)
    const together = fitParamsTogether(y, specs)
    expect(together).toEqual(specs.map((spec) => fitParams(y, spec)))
    // Each variant's parameters differ (a mixed-up lane would show as a swap or a copy).
    expect(new Set(together.map((p) => JSON.stringify(p))).size).toBe(new Set(specs.map((s) => JSON.stringify(s))).size)
  })

  it('a backtest prefit leaves every model forecasting exactly as when it fits alone', () => {
    const y = series(6 * WEEK, noisy)
    const ids: ModelId[] = ['hw-daily', 'hw-damped-daily', 'hw-weekly', 'hw-damped-weekly', 'combo-daily', 'combo-weekly']
    const models = ids.map(modelById)
    const shared = y.slice()
    prefitHoltWinters(shared, models)
    for (const model of models) {
      const fitted = model.fit(shared)
      const alone = model.fit(y.slice())
      expect(fitted.params).toEqual(alone.params)
      expect(fitted.forecast(WEEK)).toEqual(alone.forecast(WEEK))
    }
  })

  it('Nelder-Mead finds the minimum of a bowl', () => {
    const min = nelderMead(([a, b]) => (a! - 1) ** 2 + 10 * (b! + 2) ** 2, [0, 0], { tolerance: 1e-14 })
    expect(min.x[0]).toBeCloseTo(1, 4)
    expect(min.x[1]).toBeCloseTo(-2, 4)
  })
})
