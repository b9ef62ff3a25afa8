import { beforeAll, describe, expect, it } from 'vitest'
import { loadHeliosVcs } from '../collector/replay/traces/helios'
import { InputError } from '../core/errors'
import { sharedFixtures } from '../test/helpers/fixtures'
import { backtest, crossValidatedCoverage, pooledResidualQuantiles, referenceCoverage, type HorizonBacktest } from './backtest'
import { chooseModel } from './choose'
import { forecastSeries } from './forecast'
import { candidates, defaultModelIds, MODEL_IDS } from './models/index'
import type { HourlySeries } from './series'
import { residualQuantiles } from './intervals'
import { heliosHourlyDemand } from './traces'

// DESIGN.md, Forecasting: the bar — Helios Earth May 2020 hourly demand (running + pending
// GPUs, 16 VCs), 24 h horizon, rolling origin over the last 7 days (7 origins 24 h apart).
let helios: HourlySeries
let day: HorizonBacktest
const pct = (r: number) => Math.round(r * 1000) / 10
const score = (bt: HorizonBacktest, id: string) => bt.scores.find((s) => s.modelId === id)!

beforeAll(async () => {
  const { minutes } = await loadHeliosVcs(sharedFixtures('helios', 'Earth_vcs_2020-05'))
  helios = heliosHourlyDemand(minutes)
  day = backtest(helios, { horizonHours: 24, origins: 7, strideHours: 24, models: candidates([...MODEL_IDS]), baselineId: 'snaive24' })
})

describe('backtest on Helios Earth May 2020 hourly demand', () => {
  it('reads 31 days of hourly demand, 744 whole hours', () => {
    expect(helios.values).toHaveLength(744)
    expect(new Date(helios.startMs).toISOString()).toBe('2020-05-01T00:00:00.000Z')
  })

  it.each([
    { id: 'snaive24', want: 11.3 },
    { id: 'snaive168', want: 12.7 },
    { id: 'mstl-ets', want: 13.6 },
  ])('reproduces DESIGN.md: $id sMAPE $want% at 24 h over the last 7 days', ({ id, want }) => {
    expect(pct(score(day, id).smapeRatio)).toBe(want)
    expect(day.points).toBe(168)
  })

  it('scales MASE by seasonal naive (24 h) on the same hours, so the baseline scores exactly 1', () => {
    expect(score(day, 'snaive24').mase).toBe(1)
    expect(score(day, 'snaive168').mase).toBeGreaterThan(1)
  })

  it('chooses a model that beats seasonal naive on sMAPE and MASE (the combination of naive and Holt-Winters, 9.8%)', () => {
    const choice = chooseModel(day)
    expect(choice.naive).toBe(false)
    expect(choice.modelId).toBe('combo-weekly')
    expect(choice.score.smapeRatio).toBeLessThan(choice.bar.smapeRatio)
    expect(choice.score.mase).toBeLessThan(1)
    expect(pct(choice.score.smapeRatio)).toBe(9.8)
  })

  it('reports naive as the choice when no other model beats it', () => {
    const onlyWeak = backtest(helios, { horizonHours: 24, origins: 7, strideHours: 24, models: candidates(['snaive168', 'linear']), baselineId: 'snaive24' })
    const choice = chooseModel(onlyWeak)
    expect(choice.naive).toBe(true)
    expect(choice.modelId).toBe('snaive24')
    expect(choice.reason).toMatch(/^naive is the choice: no model beat seasonal naive \(24 h\) \(sMAPE 11\.3%\)/)
  })

  it('measures cross-validated 80% and 50% interval coverage for every model', () => {
    for (const s of day.scores) {
      expect(s.coverage80).toBeGreaterThan(0.6)
      expect(s.coverage80).toBeLessThan(0.9)
      expect(s.coverage50!).toBeLessThan(s.coverage80!)
    }
  })
})

describe('forecast horizons', () => {
  it('decides a quarter-long forecast on the 7 d backtest and says why 28 d was skipped and where intervals are extrapolated', () => {
    const f = forecastSeries(helios, { horizonHours: 13 * 168, modelIds: defaultModelIds(), origins: 7, strideHours: 24 })
    expect(f.backtest.horizonHours).toBe(168)
    expect(f.notes).toContain('no 28 d backtest: it needs 35 d of history, the series has 31 d')
    expect(f.notes.some((n) => n.startsWith('intervals past 7 d'))).toBe(true)
    expect(f.point).toHaveLength(13 * 168)
    expect(f.quantiles.every((q) => q.every((v, i) => v >= 0 && (i === 0 || v >= q[i - 1]!)))).toBe(true)
  })

  it('refuses a series too short for the shortest backtest, naming the minimum length', () => {
    const short = { startMs: helios.startMs, values: helios.values.slice(0, 150) }
    const run = () => forecastSeries(short, { horizonHours: 24, modelIds: defaultModelIds(), origins: 7, strideHours: 24 })
    expect(run).toThrow(InputError)
    expect(run).toThrow('series too short for a 24 h backtest with 7 origins 24 h apart: it needs at least 192 hourly values (8 d), and has 150 (150 h)')
  })

  it('skips a model that needs more history than the first origin has, with the reason', () => {
    const twoWeeks = { startMs: helios.startMs, values: helios.values.slice(0, 400) }
    const bt = backtest(twoWeeks, { horizonHours: 24, origins: 7, strideHours: 24, models: candidates(['hw-weekly']), baselineId: 'snaive24' })
    expect(bt.skipped).toEqual([{ modelId: 'hw-weekly', label: 'Holt-Winters (daily + weekly)', reason: 'needs 14 d of history before the first origin, which has 232 h' }])
  })
})

describe('the sliding-pool interval computations equal the per-step pools of forecasting/intervals.ts', () => {
  /** Seeded origins × steps of actuals and forecasts; `grid` rounds them so many residuals tie. */
  function sample(origins: number, steps: number, seed: number, grid: number) {
    let state = seed
    const next = () => ((state = (state * 16807) % 2147483647) / 2147483647)
    const round = (v: number) => (grid > 0 ? Math.round(v / grid) * grid : v)
    const actual = Array.from({ length: origins }, () => Array.from({ length: steps }, () => round(50 + 100 * next())))
    const forecasts = actual.map((row) => row.map((a) => Math.max(0, round(a + 40 * (next() - 0.5) + 5))))
    const residuals = actual.map((row, k) => row.map((a, h) => a - forecasts[k]![h]!))
    return { actual, forecasts, residuals }
  }

  it.each([
    { name: '7 origins, 24 h', origins: 7, steps: 24, grid: 0 },
    { name: '7 origins, 7 d', origins: 7, steps: 168, grid: 0 },
    { name: '7 origins, 28 d, whole GPUs (many ties)', origins: 7, steps: 672, grid: 1 },
    { name: '2 origins, 5 h', origins: 2, steps: 5, grid: 0 },
    { name: '2 origins, 30 h, whole GPUs', origins: 2, steps: 30, grid: 1 },
    { name: '3 origins, 9 h', origins: 3, steps: 9, grid: 0 },
    { name: '3 origins, 1 h', origins: 3, steps: 1, grid: 0 },
    { name: '12 origins, 50 h, coarse values (ties and zero forecasts)', origins: 12, steps: 50, grid: 25 },
  ])('coverage and quantile tables: $name', ({ origins, steps, grid }) => {
    const { actual, forecasts, residuals } = sample(origins, steps, 7 + steps, grid)
    expect(crossValidatedCoverage(actual, forecasts, residuals)).toEqual(referenceCoverage(actual, forecasts, residuals))
    expect(pooledResidualQuantiles(residuals)).toEqual(residualQuantiles(residuals))
  })

  it.each([
    { id: 'combo-weekly', coverage80: 70.2, coverage50: 41.7 },
    { id: 'snaive24', coverage80: 69.0, coverage50: 44.0 },
    { id: 'combo-daily', coverage80: 68.5, coverage50: 45.2 },
  ])('reproduces the Helios 24 h interval coverage of docs/benchmarks.md: $id $coverage80% / $coverage50%', ({ id, coverage80, coverage50 }) => {
    expect(pct(score(day, id).coverage80!)).toBe(coverage80)
    expect(pct(score(day, id).coverage50!)).toBe(coverage50)
  })
})
