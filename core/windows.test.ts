import { describe, expect, it } from 'vitest'
import { InputError } from './errors.js'
import { alignStep, assertWindow, formatDuration, parseDuration, parseWindow, quarterOf } from './windows.js'

const at = (iso: string) => Date.parse(iso)
const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR
const NOW = at('2026-09-14T12:34:56.789Z')

function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  throw new Error('expected a throw')
}

describe('parseDuration', () => {
  it.each([
    { name: 'seconds', input: '30s', wantMs: 30_000 },
    { name: 'minutes', input: '5m', wantMs: 5 * MIN },
    { name: 'hours', input: '1h', wantMs: HOUR },
    { name: 'days', input: '1d', wantMs: DAY },
    { name: 'weeks', input: '1w', wantMs: 7 * DAY },
    { name: 'milliseconds', input: '250ms', wantMs: 250 },
    { name: 'composite hours and minutes', input: '1h30m', wantMs: 90 * MIN },
    { name: 'composite of every unit', input: '1w2d3h4m5s6ms', wantMs: 9 * DAY + 3 * HOUR + 4 * MIN + 5_006 },
    { name: 'surrounding spaces are ignored', input: ' 15m ', wantMs: 15 * MIN },
  ])('$name', ({ input, wantMs }) => {
    expect(parseDuration(input)).toBe(wantMs)
  })

  it.each([
    { name: 'no unit', input: '30' },
    { name: 'unknown unit', input: '5x' },
    { name: 'empty', input: '' },
    { name: 'zero', input: '0m' },
    { name: 'negative', input: '-5m' },
    { name: 'fraction', input: '1.5h' },
    { name: 'units out of order', input: '30m1h' },
    { name: 'repeated unit', input: '1h1h' },
    { name: 'upper-case unit', input: '5M' },
  ])('rejects $name with an InputError quoting the input', ({ input }) => {
    const err = thrown(() => parseDuration(input))
    expect(err).toBeInstanceOf(InputError)
    expect((err as Error).message).toContain(`'${input}'`)
  })
})

describe('formatDuration', () => {
  it.each([
    { name: 'zero', ms: 0, want: '0s' },
    { name: 'ninety minutes', ms: 90 * MIN, want: '1h30m' },
    { name: 'one week and a day', ms: 8 * DAY, want: '1w1d' },
    { name: 'milliseconds', ms: 1_500, want: '1s500ms' },
  ])('$name', ({ ms, want }) => {
    expect(formatDuration(ms)).toBe(want)
    if (ms > 0) expect(parseDuration(want)).toBe(ms)
  })
})

describe('parseWindow', () => {
  it.each([
    { name: '30m ends at now', input: '30m', from: NOW - 30 * MIN, to: NOW },
    { name: '24h ends at now', input: '24h', from: NOW - DAY, to: NOW },
    { name: '7d ends at now', input: '7d', from: NOW - 7 * DAY, to: NOW },
    { name: '2w ends at now', input: '2w', from: NOW - 14 * DAY, to: NOW },
    { name: '90s ends at now', input: '90s', from: NOW - 90_000, to: NOW },
    {
      name: 'RFC 3339 range with Z',
      input: '2026-07-01T00:00:00Z,2026-10-01T00:00:00Z',
      from: at('2026-07-01T00:00:00Z'),
      to: at('2026-10-01T00:00:00Z'),
    },
    {
      name: 'RFC 3339 range with offsets and fractions',
      input: '2026-07-01T02:00:00.5+02:00, 2026-06-30T20:30:00.123456-04:00',
      from: at('2026-07-01T00:00:00.500Z'),
      to: at('2026-07-01T00:30:00.123Z'),
    },
    { name: 'quarter Q1', input: '2026-Q1', from: at('2026-01-01T00:00:00Z'), to: at('2026-04-01T00:00:00Z') },
    { name: 'quarter Q3', input: '2026-Q3', from: at('2026-07-01T00:00:00Z'), to: at('2026-10-01T00:00:00Z') },
    { name: 'quarter Q4 ends at the next year', input: '2026-q4', from: at('2026-10-01T00:00:00Z'), to: at('2027-01-01T00:00:00Z') },
    { name: 'month', input: '2026-09', from: at('2026-09-01T00:00:00Z'), to: at('2026-10-01T00:00:00Z') },
    { name: 'December ends at the next year', input: '2026-12', from: at('2026-12-01T00:00:00Z'), to: at('2027-01-01T00:00:00Z') },
    { name: 'leap-year February 2028', input: '2028-02', from: at('2028-02-01T00:00:00Z'), to: at('2028-03-01T00:00:00Z') },
    { name: 'leap day 2028-02-29', input: '2028-02-29', from: at('2028-02-29T00:00:00Z'), to: at('2028-03-01T00:00:00Z') },
    { name: 'leap day 2000-02-29 (divisible by 400)', input: '2000-02-29', from: at('2000-02-29T00:00:00Z'), to: at('2000-03-01T00:00:00Z') },
    { name: 'day', input: '2026-09-14', from: at('2026-09-14T00:00:00Z'), to: at('2026-09-15T00:00:00Z') },
  ])('$name', ({ input, from, to }) => {
    expect(parseWindow(input, NOW)).toEqual({ fromMs: from, toMs: to })
  })

  it.each([
    // Months and days are UTC, so the days that change clocks in Europe and the US are still 24 h long.
    { name: 'March 2026 is exactly 31 days', input: '2026-03', wantMs: 31 * DAY },
    { name: 'October 2026 is exactly 31 days', input: '2026-10', wantMs: 31 * DAY },
    { name: 'February 2026 is 28 days', input: '2026-02', wantMs: 28 * DAY },
    { name: 'February 2028 is 29 days', input: '2028-02', wantMs: 29 * DAY },
    { name: 'the EU DST change day 2026-03-29 is 24 h', input: '2026-03-29', wantMs: DAY },
    { name: 'the US DST change day 2026-11-01 is 24 h', input: '2026-11-01', wantMs: DAY },
    { name: 'Q1 2028 has 91 days', input: '2028-Q1', wantMs: 91 * DAY },
  ])('$name', ({ input, wantMs }) => {
    const window = parseWindow(input, NOW)
    expect(window.toMs - window.fromMs).toBe(wantMs)
  })

  it.each([
    { name: 'unknown unit', input: '7x', reason: '' },
    { name: 'empty', input: '', reason: '' },
    { name: 'words', input: 'last week', reason: '' },
    { name: 'zero duration', input: '0h', reason: 'longer than 0' },
    { name: 'negative duration', input: '-24h', reason: '' },
    { name: 'month 13', input: '2026-13', reason: 'no month 13' },
    { name: 'month 00', input: '2026-00', reason: 'no month 00' },
    { name: 'February 30', input: '2026-02-30', reason: '2026-02 has no day 30' },
    { name: 'February 29 in a common year', input: '2026-02-29', reason: '2026-02 has no day 29' },
    { name: 'February 29 in 2100 (not a leap year)', input: '2100-02-29', reason: '2100-02 has no day 29' },
    { name: 'April 31', input: '2026-04-31', reason: 'no day 31' },
    { name: 'day 00', input: '2026-09-00', reason: 'no day 00' },
    { name: 'quarter Q5', input: '2026-Q5', reason: 'no quarter Q5' },
    { name: 'quarter Q0', input: '2026-Q0', reason: 'no quarter Q0' },
    { name: 'range ending before it starts', input: '2026-10-01T00:00:00Z,2026-07-01T00:00:00Z', reason: 'FROM must be before TO' },
    { name: 'empty range', input: '2026-07-01T00:00:00Z,2026-07-01T00:00:00Z', reason: 'FROM must be before TO' },
    { name: 'range without a zone', input: '2026-07-01T00:00:00,2026-10-01T00:00:00Z', reason: 'not an RFC 3339 time' },
    { name: 'range of days', input: '2026-07-01,2026-10-01', reason: 'not an RFC 3339 time' },
    { name: 'range with three parts', input: '2026-07-01T00:00:00Z,2026-08-01T00:00:00Z,2026-09-01T00:00:00Z', reason: 'exactly one comma' },
    { name: 'range with an empty end', input: '2026-07-01T00:00:00Z,', reason: 'not an RFC 3339 time' },
    { name: 'range with an impossible date', input: '2026-02-30T00:00:00Z,2026-10-01T00:00:00Z', reason: 'no day 30' },
    { name: 'range with hour 24', input: '2026-07-01T24:00:00Z,2026-10-01T00:00:00Z', reason: 'no such time of day' },
    { name: 'range with a leap second', input: '2026-06-30T23:59:60Z,2026-10-01T00:00:00Z', reason: 'no such time of day' },
    { name: 'range with offset +24:00', input: '2026-07-01T00:00:00+24:00,2026-10-01T00:00:00Z', reason: 'impossible UTC offset' },
  ])('rejects $name with an InputError quoting the input', ({ input, reason }) => {
    const err = thrown(() => parseWindow(input, NOW))
    expect(err).toBeInstanceOf(InputError)
    const message = (err as Error).message
    expect(message).toContain(`bad window '${input}'`)
    expect(message).toContain(reason)
    expect(message).toContain('a duration like 24h or 7d, a range FROM,TO in RFC 3339, a quarter like 2026-Q3')
  })

  it('gives the exact message the issue asks for on an unknown form', () => {
    expect(() => parseWindow('7x', NOW)).toThrow(
      "bad window '7x': expected a duration like 24h or 7d, a range FROM,TO in RFC 3339, a quarter like 2026-Q3, a month like 2026-09 or a day like 2026-09-14",
    )
  })

  it('rejects a now that is not a number', () => {
    expect(() => parseWindow('24h', Number.NaN)).toThrow(InputError)
  })
})

describe('quarterOf', () => {
  it.each([
    { name: 'first instant of Q3', iso: '2026-07-01T00:00:00.000Z', want: '2026-Q3' },
    { name: 'last instant of Q3', iso: '2026-09-30T23:59:59.999Z', want: '2026-Q3' },
    { name: 'first instant of Q4', iso: '2026-10-01T00:00:00.000Z', want: '2026-Q4' },
    { name: 'new year is Q1', iso: '2027-01-01T00:00:00.000Z', want: '2027-Q1' },
    { name: 'leap day is Q1', iso: '2028-02-29T12:00:00.000Z', want: '2028-Q1' },
    { name: 'last instant of Q2', iso: '2026-06-30T23:59:59.999Z', want: '2026-Q2' },
  ])('$name', ({ iso, want }) => {
    expect(quarterOf(at(iso))).toBe(want)
  })

  it('round-trips with parseWindow', () => {
    const window = parseWindow(quarterOf(NOW), NOW)
    expect(window).toEqual({ fromMs: at('2026-07-01T00:00:00Z'), toMs: at('2026-10-01T00:00:00Z') })
  })

  it('rejects a time that is not a number', () => {
    expect(() => quarterOf(Number.POSITIVE_INFINITY)).toThrow(InputError)
  })
})

describe('alignStep', () => {
  const t0 = at('2026-09-14T00:00:00Z')
  it.each([
    { name: 'aligned hour window at 15m', window: { fromMs: t0, toMs: t0 + HOUR }, stepMs: 15 * MIN, want: [0, 15, 30, 45].map((m) => t0 + m * MIN) },
    { name: 'unaligned start and end are covered', window: { fromMs: t0 + 10 * MIN, toMs: t0 + 50 * MIN }, stepMs: 20 * MIN, want: [0, 20, 40].map((m) => t0 + m * MIN) },
    { name: 'window smaller than a step', window: { fromMs: t0 + MIN, toMs: t0 + 2 * MIN }, stepMs: HOUR, want: [t0] },
    { name: 'daily buckets start at UTC midnight', window: parseWindow('2028-02', 0), stepMs: DAY, want: Array.from({ length: 29 }, (_, i) => at('2028-02-01T00:00:00Z') + i * DAY) },
    { name: 'empty window has no buckets', window: { fromMs: t0, toMs: t0 }, stepMs: MIN, want: [] },
  ])('$name', ({ window, stepMs, want }) => {
    expect(alignStep(window, stepMs)).toEqual(want)
  })

  it.each([
    { name: 'a quarter at 1m is over the default 11,000', window: parseWindow('2026-Q3', 0), stepMs: MIN, maxPoints: undefined, count: 132_480 },
    { name: 'a day at 1m is over a limit of 1,000', window: parseWindow('2026-09-14', 0), stepMs: MIN, maxPoints: 1_000, count: 1_440 },
  ])('refuses $name', ({ window, stepMs, maxPoints, count }) => {
    const err = thrown(() => alignStep(window, stepMs, maxPoints))
    expect(err).toBeInstanceOf(InputError)
    expect((err as Error).message).toContain(`needs ${count} points, more than the limit of ${maxPoints ?? 11_000}`)
  })

  it('accepts exactly maxPoints buckets', () => {
    expect(alignStep(parseWindow('2026-09-14', 0), MIN, 1_440)).toHaveLength(1_440)
  })

  it.each([
    { name: 'zero step', stepMs: 0 },
    { name: 'negative step', stepMs: -MIN },
    { name: 'fractional step', stepMs: 1.5 },
    { name: 'NaN step', stepMs: Number.NaN },
  ])('rejects a $name', ({ stepMs }) => {
    expect(() => alignStep({ fromMs: t0, toMs: t0 + HOUR }, stepMs)).toThrow(InputError)
  })
})

describe('assertWindow', () => {
  it.each([
    { name: 'from after to', window: { fromMs: 2, toMs: 1 } },
    { name: 'NaN bound', window: { fromMs: Number.NaN, toMs: 1 } },
    { name: 'bound beyond the Date range', window: { fromMs: 0, toMs: 9e15 } },
  ])('rejects $name', ({ window }) => {
    expect(() => assertWindow(window)).toThrow(InputError)
  })
})
