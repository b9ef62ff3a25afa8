/**
 * Time windows: the `window` and `step` a user types (query parameter, CLI
 * flag) turned into epoch-millisecond ranges. Calendar forms are UTC, so a
 * month or a day never gains or loses an hour to daylight saving time.
 */
import { InputError } from './errors.js'

/** A half-open time range [fromMs, toMs) in epoch milliseconds (UTC). */
export interface TimeWindow {
  fromMs: number
  toMs: number
}

/** Default cap on the buckets one series may have, the same limit Prometheus puts on range queries. */
export const DEFAULT_MAX_POINTS = 11_000

const SECOND_MS = 1_000
const MINUTE_MS = 60 * SECOND_MS
const HOUR_MS = 60 * MINUTE_MS
const DAY_MS = 24 * HOUR_MS
const WEEK_MS = 7 * DAY_MS

// Largest unit first: a composite duration must list its units in this order, each once.
const UNITS: ReadonlyArray<readonly [unit: string, ms: number]> = [
  ['w', WEEK_MS],
  ['d', DAY_MS],
  ['h', HOUR_MS],
  ['m', MINUTE_MS],
  ['s', SECOND_MS],
  ['ms', 1],
]

const DURATION_FORMS = 'expected a number and unit like 30s, 5m, 1h, 1d or 1w, or a composite like 1h30m'
const WINDOW_FORMS =
  'expected a duration like 24h or 7d, a range FROM,TO in RFC 3339, a quarter like 2026-Q3, ' +
  'a month like 2026-09 or a day like 2026-09-14'

// A Date holds ±8.64e15 ms; beyond that toISOString throws.
const MAX_DATE_MS = 8.64e15

type Fail = (why?: string) => InputError

/** Parses a duration such as `30s`, `5m`, `1h`, `1d`, `1w` or `1h30m` into milliseconds; it must be longer than 0. */
export function parseDuration(input: string): number {
  const ms = durationMs(input.trim())
  if (ms === undefined) throw new InputError(`bad duration '${input}': ${DURATION_FORMS}`)
  if (ms <= 0) throw new InputError(`bad duration '${input}': it must be longer than 0`)
  return ms
}

/** Formats milliseconds as the shortest composite duration parseDuration reads back, e.g. 5_400_000 -> `1h30m`. */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new InputError(`bad duration ${ms}: expected a whole number of milliseconds >= 0`)
  }
  if (ms === 0) return '0s'
  let rest = ms
  let text = ''
  for (const [unit, unitMs] of UNITS) {
    const count = Math.floor(rest / unitMs)
    if (count > 0) text += `${count}${unit}`
    rest -= count * unitMs
  }
  return text
}

/**
 * Parses a window: a duration ending at `nowMs` (`24h`, `7d`), an RFC 3339
 * range `FROM,TO`, a UTC quarter (`2026-Q3`), month (`2026-09`) or day
 * (`2026-09-14`); anything else throws InputError quoting the input.
 */
export function parseWindow(input: string, nowMs: number): TimeWindow {
  assertNow(nowMs)
  const text = input.trim()
  const fail: Fail = (why) => new InputError(`bad window '${input}': ${why ? `${why}; ` : ''}${WINDOW_FORMS}`)
  if (text.includes(',')) return parseRange(text, fail)
  const calendar = parseCalendar(text, fail)
  if (calendar) return calendar
  const ms = durationMs(text)
  if (ms === undefined) throw fail()
  if (ms <= 0) throw fail('the duration must be longer than 0')
  return { fromMs: nowMs - ms, toMs: nowMs }
}

/** Names the UTC calendar quarter an instant falls in, e.g. `2026-Q3` for any time from Jul 1 to Sep 30, 2026. */
export function quarterOf(ms: number): string {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) {
    throw new InputError(`bad time ${ms}: expected epoch milliseconds`)
  }
  const date = new Date(ms)
  const year = String(date.getUTCFullYear()).padStart(4, '0')
  return `${year}-Q${Math.floor(date.getUTCMonth() / 3) + 1}`
}

/** Throws InputError unless the window has finite bounds (within the Date range) and fromMs <= toMs. */
export function assertWindow(window: TimeWindow): void {
  const { fromMs, toMs } = window
  const inRange = (ms: number) => Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS
  if (!inRange(fromMs) || !inRange(toMs) || fromMs > toMs) {
    throw new InputError(`bad window [${fromMs}, ${toMs}): expected epoch milliseconds with from <= to`)
  }
}

/**
 * Lists the start times of the step buckets covering the window, aligned to
 * multiples of `stepMs` since the epoch (so `1d` buckets start at UTC midnight,
 * while `1w` buckets start on Thursdays, as the epoch did); throws InputError
 * when there would be more than `maxPoints` buckets.
 */
export function alignStep(window: TimeWindow, stepMs: number, maxPoints: number = DEFAULT_MAX_POINTS): number[] {
  assertWindow(window)
  if (!Number.isSafeInteger(stepMs) || stepMs <= 0) {
    throw new InputError(`bad step ${stepMs}: expected a whole number of milliseconds > 0`)
  }
  if (window.toMs === window.fromMs) return []
  const firstMs = Math.floor(window.fromMs / stepMs) * stepMs
  const count = Math.ceil((window.toMs - firstMs) / stepMs)
  if (count > maxPoints) {
    const range = `${new Date(window.fromMs).toISOString()},${new Date(window.toMs).toISOString()}`
    throw new InputError(
      `window ${range} at step ${formatDuration(stepMs)} needs ${count} points, more than the limit of ${maxPoints}: ` +
        'use a larger step or a shorter window',
    )
  }
  return Array.from({ length: count }, (_, i) => firstMs + i * stepMs)
}

function assertNow(nowMs: number): void {
  if (!Number.isFinite(nowMs) || Math.abs(nowMs) > MAX_DATE_MS) {
    throw new InputError(`bad now ${nowMs}: expected epoch milliseconds`)
  }
}

/** Milliseconds of a duration, 0 for `0s`, undefined when the text is not a duration. */
function durationMs(text: string): number | undefined {
  if (!/^(\d+(ms|[smhdw]))+$/.test(text)) return undefined
  let totalMs = 0
  let lastRank = -1
  for (const match of text.matchAll(/(\d+)(ms|[smhdw])/g)) {
    const rank = UNITS.findIndex(([unit]) => unit === match[2])
    const unit = UNITS[rank]
    // Units largest first and each once, as Prometheus requires: `30m1h` is more likely a typo than intent.
    if (unit === undefined || rank <= lastRank) return undefined
    lastRank = rank
    totalMs += Number(match[1]) * unit[1]
  }
  return Number.isSafeInteger(totalMs) && totalMs <= MAX_DATE_MS ? totalMs : undefined
}

function parseCalendar(text: string, fail: Fail): TimeWindow | undefined {
  const quarter = /^(\d{4})-[Qq](\d)$/.exec(text)
  if (quarter) {
    const year = Number(quarter[1])
    const q = Number(quarter[2])
    if (q < 1 || q > 4) throw fail(`there is no quarter Q${q}`)
    return { fromMs: utcMs(year, (q - 1) * 3 + 1, 1), toMs: utcMs(year, q * 3 + 1, 1) }
  }
  const month = /^(\d{4})-(\d{2})$/.exec(text)
  if (month) {
    const year = Number(month[1])
    const m = Number(month[2])
    if (m < 1 || m > 12) throw fail(`there is no month ${month[2]}`)
    return { fromMs: utcMs(year, m, 1), toMs: utcMs(year, m + 1, 1) }
  }
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  if (day) {
    const fromMs = dateMs(Number(day[1]), Number(day[2]), Number(day[3]), fail)
    return { fromMs, toMs: fromMs + DAY_MS }
  }
  return undefined
}

function parseRange(text: string, fail: Fail): TimeWindow {
  const parts = text.split(',')
  if (parts.length !== 2) throw fail('a range is FROM,TO with exactly one comma')
  const fromMs = parseInstant((parts[0] ?? '').trim(), fail)
  const toMs = parseInstant((parts[1] ?? '').trim(), fail)
  if (fromMs >= toMs) throw fail('FROM must be before TO')
  return { fromMs, toMs }
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/

/** Epoch ms of an RFC 3339 time with `Z` or a numeric offset; sub-millisecond digits are truncated. */
function parseInstant(text: string, fail: Fail): number {
  const m = RFC3339.exec(text)
  if (!m) throw fail(`'${text}' is not an RFC 3339 time like 2026-07-01T00:00:00Z`)
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6])]
  // Leap seconds (60) exist in RFC 3339 but not in epoch ms; reject rather than guess.
  if (hour > 23 || minute > 59 || second > 59) throw fail(`'${text}' has no such time of day`)
  const dayMs = dateMs(Number(m[1]), Number(m[2]), Number(m[3]), fail)
  const fractionMs = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3))
  let offsetMs = 0
  if (m[8] !== undefined) {
    const [offsetHours, offsetMinutes] = [Number(m[9]), Number(m[10])]
    if (offsetHours > 23 || offsetMinutes > 59) throw fail(`'${text}' has an impossible UTC offset`)
    offsetMs = (m[8] === '-' ? -1 : 1) * (offsetHours * HOUR_MS + offsetMinutes * MINUTE_MS)
  }
  return dayMs + hour * HOUR_MS + minute * MINUTE_MS + second * SECOND_MS + fractionMs - offsetMs
}

/** Epoch ms of UTC midnight on a real calendar date; throws for dates such as 2026-02-30. */
function dateMs(year: number, month: number, day: number, fail: Fail): number {
  const pad = (n: number) => String(n).padStart(2, '0')
  if (month < 1 || month > 12) throw fail(`there is no month ${pad(month)}`)
  const daysInMonth = (utcMs(year, month + 1, 1) - utcMs(year, month, 1)) / DAY_MS
  if (day < 1 || day > daysInMonth) throw fail(`${year}-${pad(month)} has no day ${pad(day)}`)
  return utcMs(year, month, day)
}

/** Epoch ms of UTC midnight; month is 1-based and may be 13 (January of the next year). */
function utcMs(year: number, month: number, day: number): number {
  // setUTCFullYear, unlike Date.UTC, does not map years 0..99 to 1900..1999.
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  return date.getTime()
}
