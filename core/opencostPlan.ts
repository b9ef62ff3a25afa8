/**
 * OpenCost's time words for GET /allocation/compute (window, step,
 * accumulate, accumulateBy) turned into time sets and the bucket grid the
 * store sums by. Pure.
 */
import { InputError } from './errors.js'
import { parseBool } from './opencost.js'
import { formatDuration, parseDuration, parseWindow, type TimeWindow } from './windows.js'

const MINUTE_MS = 60_000
const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
const WEEK_MS = 7 * DAY_MS

/** How sets are accumulated: none (one per step), all (one), or one per UTC calendar hour, day, week (from Sunday), month or quarter. */
export type Accumulate = 'none' | 'all' | 'hour' | 'day' | 'week' | 'month' | 'quarter'
const PERIODS = ['hour', 'day', 'week', 'month', 'quarter'] as const

/** Reads `accumulate` (a boolean or a period) and `accumulateBy` (a period, all or none, which wins). */
export function parseAccumulate(accumulate: string | undefined, accumulateBy: string | undefined): Accumulate {
  const period = (name: string, text: string): Accumulate | undefined => {
    const t = text.trim().toLowerCase()
    if (t === 'all' || t === 'none' || (PERIODS as readonly string[]).includes(t)) return t as Accumulate
    if (name === 'accumulate') return parseBool(name, text.trim(), false) ? 'all' : 'none'
    throw new InputError(`Invalid 'accumulateBy' parameter: '${text}': expected all, none, ${PERIODS.join(', ')}`)
  }
  if (accumulateBy !== undefined && accumulateBy.trim() !== '') return period('accumulateBy', accumulateBy)!
  if (accumulate === undefined || accumulate.trim() === '') return 'none'
  try {
    return period('accumulate', accumulate)!
  } catch {
    throw new InputError(`Invalid 'accumulate' parameter: '${accumulate}': expected true, false, all, ${PERIODS.join(', ')}`)
  }
}

/** Reads `step`: a duration (1h, 1d, 90m, 1h30m) or hour, day, week; it must be a whole number of minutes (utilization comes from minute rollups). */
export function parseStep(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined
  const named: Record<string, number> = { hour: HOUR_MS, day: DAY_MS, week: WEEK_MS }
  const t = text.trim().toLowerCase()
  let ms = named[t]
  if (ms === undefined) {
    if (t === 'month' || t === 'quarter') throw new InputError(`Invalid step parameter: '${text}': use accumulate=${t} for calendar ${t}s`)
    try {
      ms = parseDuration(t)
    } catch (err) {
      throw new InputError(`Invalid step parameter: '${text}': expected a duration like 1h, 1d or 90m, or hour, day, week`, { cause: err })
    }
  }
  if (ms % MINUTE_MS !== 0) throw new InputError(`Invalid step parameter: '${text}': it must be a whole number of minutes`)
  return ms
}

const dayStart = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS
const monthStart = (ms: number, add = 0) => {
  const d = new Date(ms)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + add, 1)
}
const WINDOW_FORMS =
  'expected today, yesterday, week, lastweek, month, lastmonth, a duration like 30m, 24h, 7d or 2w (optionally "7d offset 1d"), ' +
  'a pair of unix seconds "1586822400,1586908800" or of RFC 3339 times, or a gpuscope month (2026-09), quarter (2026-Q3) or day'

/**
 * Parses an OpenCost `window` in UTC: named windows (today, yesterday, week
 * and lastweek from Sunday, month, lastmonth); `<n><m|h|d|w>` rounded forward
 * as OpenCost does (24h ends at the next whole hour, 7d at the next UTC
 * midnight); `<n><unit> offset <n><unit>`; unix-second or RFC 3339 pairs; and
 * gpuscope's calendar forms. The end may lie after now: data stops at now.
 */
export function parseOpenCostWindow(input: string | undefined, nowMs: number): TimeWindow {
  const text = (input ?? '').trim()
  const fail = (why?: string) => new InputError(`Invalid 'window' parameter: '${input ?? ''}'${why ? `: ${why}` : ''}; ${WINDOW_FORMS}`)
  if (text === '') throw new InputError(`Invalid 'window' parameter: window is required; ${WINDOW_FORMS}`)
  const today = dayStart(nowMs)
  const sunday = today - new Date(nowMs).getUTCDay() * DAY_MS
  const named: Record<string, TimeWindow> = {
    today: { fromMs: today, toMs: today + DAY_MS },
    yesterday: { fromMs: today - DAY_MS, toMs: today },
    week: { fromMs: sunday, toMs: nowMs },
    lastweek: { fromMs: sunday - WEEK_MS, toMs: sunday },
    month: { fromMs: monthStart(nowMs), toMs: nowMs },
    lastmonth: { fromMs: monthStart(nowMs, -1), toMs: monthStart(nowMs) },
  }
  if (named[text]) return named[text]!
  const units: Record<string, number> = { m: MINUTE_MS, h: HOUR_MS, d: DAY_MS, w: WEEK_MS }
  const dur = /^(\d+)([mhdw])$/.exec(text)
  if (dur) {
    const n = Number(dur[1])
    if (n <= 0) throw fail('the duration must be longer than 0')
    if (dur[2] === 'w') return { fromMs: dayStart(nowMs - n * WEEK_MS) + DAY_MS, toMs: today + DAY_MS }
    const unit = units[dur[2]!]!
    const toMs = Math.floor(nowMs / unit) * unit + unit
    return { fromMs: toMs - n * unit, toMs }
  }
  const offset = /^(\d+)([mhdw]) offset (\d+)([mhdw])$/.exec(text)
  if (offset) {
    const toMs = nowMs - Number(offset[3]) * units[offset[4]!]!
    const fromMs = toMs - Number(offset[1]) * units[offset[2]!]!
    if (fromMs >= toMs) throw fail('the duration must be longer than 0')
    return { fromMs, toMs }
  }
  // A dash pair of short numbers is a gpuscope calendar form (2026-06), not unix seconds.
  const unix = /^(\d+),(\d+)$/.exec(text) ?? /^(\d{5,})-(\d{5,})$/.exec(text)
  if (unix) {
    const [fromMs, toMs] = [Number(unix[1]) * 1000, Number(unix[2]) * 1000]
    if (fromMs >= toMs) throw fail('the start must be before the end')
    return { fromMs, toMs }
  }
  try {
    return parseWindow(text, nowMs)
  } catch (err) {
    const why = err instanceof InputError ? /^bad window '[^']*': (.*?)(; expected .*)?$/.exec(err.message)?.[1] : undefined
    throw fail(why && !why.startsWith('expected') ? why : undefined)
  }
}

/** The time sets of a query and the bucket grid the store sums by: every set boundary inside the window lies on a grid boundary. */
export interface SetPlan {
  window: TimeWindow
  /** Each set's window as OpenCost reports it (the last may end after now); sets that start at or after now are left out. */
  sets: TimeWindow[]
  grid: { originMs: number; stepMs: number }
  /** The step between sets in ms (the window's span when there is one set). */
  stepMs: number
}

const GRID_STEPS = [DAY_MS, HOUR_MS, 30 * MINUTE_MS, 15 * MINUTE_MS, 10 * MINUTE_MS, 5 * MINUTE_MS, MINUTE_MS]

function nextBoundary(period: (typeof PERIODS)[number], t: number): number {
  if (period === 'hour') return Math.floor(t / HOUR_MS) * HOUR_MS + HOUR_MS
  if (period === 'day') return dayStart(t) + DAY_MS
  if (period === 'week') return dayStart(t) + (7 - new Date(t).getUTCDay()) * DAY_MS
  if (period === 'month') return monthStart(t, 1)
  const d = new Date(t)
  return Date.UTC(d.getUTCFullYear(), Math.floor(d.getUTCMonth() / 3) * 3 + 3, 1)
}

/**
 * Splits the window into sets: one per step from the window's start (the
 * last cut at the window's end), one for the whole window (accumulate all, or
 * no step), or one per UTC calendar period cut to the window. Throws
 * InputError when the grid would need more than `maxBuckets` buckets.
 */
export function planSets(window: TimeWindow, stepMs: number | undefined, accumulate: Accumulate, nowMs: number, maxBuckets: number): SetPlan {
  const span = window.toMs - window.fromMs
  const sets: TimeWindow[] = []
  let grid: SetPlan['grid']
  let step = span
  if (accumulate !== 'none' && accumulate !== 'all') {
    for (let t = window.fromMs; t < window.toMs; ) {
      const next = Math.min(nextBoundary(accumulate, t), window.toMs)
      sets.push({ fromMs: t, toMs: next })
      t = next
    }
    const g = accumulate === 'hour' ? HOUR_MS : DAY_MS
    grid = { originMs: Math.floor(window.fromMs / g) * g, stepMs: g }
    step = { hour: HOUR_MS, day: DAY_MS, week: WEEK_MS, month: 30 * DAY_MS, quarter: 91 * DAY_MS }[accumulate]
  } else if (accumulate === 'none' && stepMs !== undefined && stepMs < span) {
    for (let t = window.fromMs; t < window.toMs; t += stepMs) sets.push({ fromMs: t, toMs: Math.min(t + stepMs, window.toMs) })
    grid = { originMs: window.fromMs, stepMs: GRID_STEPS.find((g) => stepMs % g === 0) ?? MINUTE_MS }
    step = stepMs
  } else {
    // One set: daily buckets for long windows and hourly for short ones, as /chargeback reads utilization.
    sets.push({ ...window })
    const g = span >= 2 * DAY_MS ? DAY_MS : HOUR_MS
    grid = { originMs: Math.floor(window.fromMs / g) * g, stepMs: g }
  }
  const buckets = Math.ceil((Math.min(window.toMs, nowMs) - grid.originMs) / grid.stepMs)
  if (buckets > maxBuckets) {
    throw new InputError(`Invalid step parameter: the window needs ${buckets} buckets of ${formatDuration(grid.stepMs)}, more than ${maxBuckets}: use a larger step or a shorter window`)
  }
  return { window, sets: sets.filter((s) => s.fromMs < nowMs), grid, stepMs: step }
}
