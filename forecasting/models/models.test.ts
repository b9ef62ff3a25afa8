import { describe, expect, it } from 'vitest'
import { InputError } from '../../core/errors'
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
