import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { Command } from 'commander'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registerForecastCommands, tuned } from '../cli/forecast'
import { defaultConfig } from '../config/schema'
import { InputError } from '../core/errors'
import { backtestHorizons } from '../forecasting/backtestReport'
import { forecastSeries, MAX_HORIZON_HOURS, namedModels } from '../forecasting/forecast'
import { backtestOptions, forecastOptions, heliosSeries, parseHorizonHours } from '../forecasting/service'
import type { HourlySeries } from '../forecasting/series'
import { sharedFixtures } from './helpers/fixtures'

// Limits of what a forecast is asked for: the longest horizon and what a
// horizon accepts (finding: an unbounded horizon blocked the server), and a
// series too short for the models the user named (finding: it fell back to
// seasonal naive silently). The Helios Earth trace is cut to its first 9 and
// 25 days in a temp folder, as `forecast show --helios` reads it.
const HOUR = 3_600_000
const ORIGIN = Date.parse('2026-07-01T00:00:00Z')
const HELIOS = sharedFixtures('helios', 'Earth_vcs_2020-05')
const cfg = defaultConfig()
const tmp = mkdtempSync(join(tmpdir(), 'gpuscope-forecast-limits-'))
let nineDays: string
let nine: HourlySeries
let twentyFive: HourlySeries

/** A copy of the Helios VC sequences with the minutes before `until` only. */
function cutHelios(name: string, until: string): string {
  const dir = join(tmp, name)
  mkdirSync(dir)
  for (const file of readdirSync(HELIOS)) {
    const lines = gunzipSync(readFileSync(join(HELIOS, file))).toString('utf8').split('\n')
    const kept = lines.filter((l, i) => i === 0 || (l !== '' && l.slice(0, 19) < until))
    writeFileSync(join(dir, file), gzipSync(`${kept.join('\n')}\n`))
  }
  return dir
}

beforeAll(async () => {
  nineDays = cutHelios('nine', '2020-05-10 00:00:00')
  nine = await heliosSeries(nineDays, 'fleet')
  twentyFive = await heliosSeries(cutHelios('twenty-five', '2020-05-26 00:00:00'), 'fleet')
}, 120_000)

afterAll(() => rmSync(tmp, { recursive: true, force: true }))

/** Runs `gpuscope forecast ...` in-process (no store: --helios reads the trace); returns what it printed. */
async function cli(...args: string[]): Promise<string> {
  const lines: string[] = []
  const program = new Command().exitOverride()
  registerForecastCommands(program, () => ({ config: cfg, file: undefined, envVars: [] }), { out: (t) => lines.push(t), err: () => {}, now: () => ORIGIN })
  await program.parseAsync(['node', 'gpuscope', 'forecast', ...args])
  return lines.join('\n')
}

const FORMS = 'a horizon is a duration of whole hours (24h, 7d, 13w) or a quarter to forecast through the end of (2026-Q4), at most 730 d (2 years, 17520 h) ahead'

describe('parseHorizonHours', () => {
  it.each([
    { name: 'a day', text: '24h', want: 24 },
    { name: 'a quarter, through its end', text: '2026-Q3', want: 92 * 24 },
    { name: 'exactly the maximum, 730 d', text: '730d', want: MAX_HORIZON_HOURS },
  ])('reads $name', ({ text, want }) => {
    expect(parseHorizonHours(text, ORIGIN)).toBe(want)
  })

  it.each([
    { name: 'a horizon past the maximum', text: '100000d', message: "bad horizon '100000d': 100000 d ahead is more than the maximum, 730 d (2 years, 17520 h)" },
    { name: 'one day past the maximum', text: '731d', message: "bad horizon '731d': 731 d ahead is more than the maximum, 730 d (2 years, 17520 h)" },
    { name: 'a quarter ending past the maximum', text: '2030-Q4', message: "bad horizon '2030-Q4': 1645 d ahead is more than the maximum, 730 d (2 years, 17520 h)" },
    { name: 'a quarter 5, naming what a horizon accepts (not a window)', text: '2026-Q5', message: `bad horizon '2026-Q5': ${FORMS}` },
    { name: 'a word', text: 'soon', message: `bad horizon 'soon': ${FORMS}` },
    { name: 'a zero duration', text: '0h', message: `bad horizon '0h': ${FORMS}` },
    { name: 'a month (a window, not a horizon)', text: '2026-09', message: `bad horizon '2026-09': ${FORMS}` },
    { name: 'part of an hour', text: '90m', message: "bad horizon '90m': expected whole hours, like 24h, 7d or 13w" },
    { name: 'a quarter already over', text: '2026-Q2', message: "bad horizon '2026-Q2': the quarter ends before the forecast starts (2026-07-01T00:00:00.000Z)" },
  ])('refuses $name', ({ text, message }) => {
    const run = () => parseHorizonHours(text, ORIGIN)
    expect(run).toThrow(InputError)
    expect(run).toThrow(message)
  })

  it('forecastSeries refuses a horizon past the maximum however it is called', () => {
    expect(() => forecastSeries(twentyFive, forecastOptions(cfg.forecast, MAX_HORIZON_HOURS + 1))).toThrow(`bad horizon ${MAX_HORIZON_HOURS + 1} h: expected a whole number of hours from 1 to ${MAX_HORIZON_HOURS}`)
  })
})

const HW_WEEKLY_TOO_SHORT =
  'series too short for the model(s) named: Holt-Winters (daily + weekly) (hw-weekly): a 24 h backtest with 7 origins 24 h apart ' +
  'needs a series of at least 504 h (21 d) to fit it, and this one has 216 h (9 d); give more history, or name models that need less (or none, to choose among the configured candidates)'

describe('a series too short for the models the user named', () => {
  it('is told apart from the config default by the options the CLI builds, also after a copy to a worker thread', () => {
    expect(namedModels(structuredClone(tuned(cfg, { models: 'hw-weekly' })))).toEqual(['hw-weekly'])
    expect(namedModels(structuredClone(tuned(cfg, { models: 'snaive24' })))).toEqual([])
    expect(namedModels(structuredClone(tuned(cfg, {})))).toEqual([])
    expect(namedModels(backtestOptions(cfg.forecast))).toEqual([])
  })

  it('`forecast show --models hw-weekly` on 9 days fails naming the minimum length, instead of forecasting with seasonal naive', async () => {
    expect(nine.values).toHaveLength(216)
    await expect(cli('show', '--helios', nineDays, '--models', 'hw-weekly')).rejects.toThrow(InputError)
    await expect(cli('show', '--helios', nineDays, '--models', 'hw-weekly')).rejects.toThrow(HW_WEEKLY_TOO_SHORT)
  })

  it.each([
    { name: 'one horizon (--horizon 24h)', horizons: [24] },
    { name: 'the standard horizons', horizons: undefined },
  ])('`forecast backtest --models hw-weekly` on 9 days fails the same way: $name', ({ horizons }) => {
    expect(() => backtestHorizons(nine, tuned(cfg, { models: 'hw-weekly' }), horizons)).toThrow(HW_WEEKLY_TOO_SHORT)
  })

  it('the CLI backtest command says the same', async () => {
    await expect(cli('backtest', '--helios', nineDays, '--models', 'hw-weekly', '--horizon', '24h')).rejects.toThrow(HW_WEEKLY_TOO_SHORT)
  })

  it('with the config default candidates, a model the series is too short for is still skipped with a note', () => {
    const f = forecastSeries(nine, forecastOptions(cfg.forecast, 168))
    expect(f.backtest.horizonHours).toBe(24)
    expect(f.notes).toContain('Holt-Winters (daily + weekly) not considered: needs 14 d of history before the first origin, which has 2 d')
  })

  it('when one of the named models fits, the other is skipped with a note', () => {
    const f = forecastSeries(nine, { ...tuned(cfg, { models: 'hw-weekly,hw-daily' }), horizonHours: 24 })
    expect(f.backtest.scores.map((s) => s.modelId).sort()).toEqual(['hw-daily', 'snaive24'])
    expect(f.notes).toContain('Holt-Winters (daily + weekly) not considered: needs 14 d of history before the first origin, which has 2 d')
  })

  it('decides on the longest backtest the named models fit, saying why a longer one was not run', () => {
    const f = forecastSeries(twentyFive, { ...tuned(cfg, { models: 'hw-weekly' }), horizonHours: 168 })
    expect(f.backtest.horizonHours).toBe(24)
    expect(f.backtest.skipped).toEqual([])
    expect(f.backtest.scores.map((s) => s.modelId).sort()).toEqual(['hw-weekly', 'snaive24'])
    expect(f.notes).toContain('no 7 d backtest: it needs 27 d of history for the named models, the series has 25 d')
    expect(f.point).toHaveLength(168)
    expect(twentyFive.startMs + twentyFive.values.length * HOUR).toBe(Date.parse('2020-05-26T00:00:00Z'))
  })
})
