import { beforeAll, describe, expect, it } from 'vitest'
import { forecastSchema } from '../../config/forecast'
import { InputError } from '../../core/errors'
import { sharedFixtures } from '../../test/helpers/fixtures'
import { backtestAndForecast, backtestHorizons } from '../backtestReport'
import { forecastSeries } from '../forecast'
import { backtestOptions, forecastOptions, heliosBatch } from '../service'
import type { HourlySeries } from '../series'
import { forecastBatch, type BatchInput } from './index'

// The Helios Earth month as a batch: the fleet and its 16 VCs (31 days hourly each).
const cfg = forecastSchema.parse({})
const HORIZON = 13 * 168
let series: Array<{ label: string; series: HourlySeries }>

beforeAll(async () => {
  const all = await heliosBatch(sharedFixtures('helios', 'Earth_vcs_2020-05'))
  series = all.map((s) => ({ label: s.label, series: s.series! }))
})

const inputs = (): BatchInput[] => series.map((s) => ({ ...s, horizonHours: HORIZON }))

describe('backtestAndForecast', () => {
  it('gives what backtestHorizons and forecastSeries give when run apart, reusing the deciding backtest', () => {
    const fleet = series[0]!.series
    const opts = forecastOptions(cfg, HORIZON)
    const { outcomes, forecast } = backtestAndForecast(fleet, opts)
    expect(outcomes).toEqual(backtestHorizons(fleet, backtestOptions(cfg)))
    expect(forecast).toEqual(forecastSeries(fleet, opts))
    // The documented Helios result (docs/benchmarks.md): 28 d skipped (31 days of history), 7 d decides, combo-daily.
    expect(outcomes.map((o) => o.skipped === undefined)).toEqual([true, true, false])
    expect(forecast.choice.horizonHours).toBe(168)
    expect(forecast.model.id).toBe('combo-daily')
  })

  it('throws the InputError naming the minimum length for a series too short for any backtest', () => {
    const short = { startMs: 0, values: series[0]!.series.values.slice(0, 100) }
    expect(() => backtestAndForecast(short, forecastOptions(cfg, 24))).toThrow(InputError)
    expect(() => backtestAndForecast(short, forecastOptions(cfg, 24))).toThrow(/series too short/)
  })
})

describe('forecastBatch', () => {
  it('answers the Helios fleet and VCs on two worker threads exactly as one by one in this thread, in input order', async () => {
    const progress: Array<[number, number]> = []
    const threaded = await forecastBatch(inputs(), backtestOptions(cfg), { workers: 2, onProgress: (done, total) => progress.push([done, total]) })
    const inline = await forecastBatch(inputs(), backtestOptions(cfg), { workers: 1 })
    expect(threaded.map((a) => a.label)).toEqual(series.map((s) => s.label))
    expect(threaded).toEqual(inline)
    expect(threaded.every((a) => a.forecast !== undefined && a.error === undefined)).toBe(true)
    expect(progress).toEqual(series.map((_, i) => [i + 1, series.length]))
    // Each answer is that series' own forecast (not a neighbour's): the fleet's as forecastSeries gives it.
    const { backtest: _bt, ...fleet } = forecastSeries(series[0]!.series, forecastOptions(cfg, HORIZON))
    expect(threaded[0]!.forecast).toEqual(fleet)
    expect(threaded[0]!.hours).toBe(744)
  }, 120_000)

  it('answers a series the forecaster refuses with the reason, and forecasts the others', async () => {
    const short: BatchInput = { label: 'short', series: { startMs: 0, values: [1, 2, 3] }, horizonHours: 24 }
    const gap: BatchInput = { label: 'gap', series: { startMs: 0, values: [...series[1]!.series.values.slice(0, 400), Number.NaN, ...series[1]!.series.values.slice(401)] }, horizonHours: 24 }
    const answers = await forecastBatch([inputs()[0]!, short, gap], backtestOptions(cfg), { workers: 2 })
    expect(answers.map((a) => a.label)).toEqual(['fleet', 'short', 'gap'])
    expect(answers[0]!.forecast?.model.id).toBe('combo-daily')
    expect(answers[1]).toEqual({ label: 'short', hours: 3, error: expect.stringMatching(/^series too short for any backtest: 24 h needs .* the series has 3 h/) })
    expect(answers[2]!.error).toBe('demand series: value 400 is NaN, expected a finite number of GPUs')
    expect(answers[2]!.forecast).toBeUndefined()
  }, 120_000)

  it('refuses a worker count that is not a whole number from 1 to 64', async () => {
    for (const workers of [0, 1.5, 65]) {
      await expect(forecastBatch(inputs(), backtestOptions(cfg), { workers })).rejects.toThrow(`bad worker count ${workers}: expected a whole number from 1 to 64`)
    }
  })
})

describe('forecastSeries given backtests already run', () => {
  it('uses one only when it has the same origins, stride and candidates as the forecast asks for', () => {
    const fleet = series[0]!.series
    const opts = forecastOptions(cfg, HORIZON)
    const { forecast } = backtestAndForecast(fleet, opts)
    // A 7 d backtest run with other options (3 origins) is not taken for the forecast's own.
    const other = backtestAndForecast(fleet, { ...opts, origins: 3 }).forecast.backtest
    expect(other.originsMs).toHaveLength(3)
    const withOther = forecastSeries(fleet, opts, new Map([[168, other]]))
    expect(withOther.backtest.originsMs).toHaveLength(7)
    expect(withOther).toEqual(forecastSeries(fleet, opts))
    expect(forecast.backtest.originsMs).toHaveLength(7)
  })
})
