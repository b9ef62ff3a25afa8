/**
 * TabSeparated encoding of rows for inserts. TSV is the fastest text format
 * chDB parses here (see docs/benchmarks.md) and the only kind the chDB
 * connection can carry (it sends the body as text).
 */

/** Encodes one row's value for one column as TSV text. */
export type Encoder<T> = (row: T) => string

/** A table's insert layout: column names and one encoder per column. */
export interface TableSpec<T> {
  table: string
  columns: readonly string[]
  encoders: readonly Encoder<T>[]
}

const NULL = '\\N'
const NEEDS_ESCAPE = /[\t\n\r\\]/
const ESCAPES: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\\': '\\\\' }

/** A string with TSV's special characters escaped. */
export function escapeTsv(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(/[\t\n\r\\]/g, (c) => ESCAPES[c] as string) : s
}

/** Text column. */
export const str = <T>(get: (r: T) => string): Encoder<T> => (r) => escapeTsv(get(r))
/** Non-null number; a non-finite value is a bug upstream, so it fails the insert rather than storing a fake 0. */
export const num = <T>(get: (r: T) => number): Encoder<T> => (r) => String(get(r))
/** Nullable number: undefined, null and non-finite values become NULL (unknown), never 0. */
export const optNum = <T>(get: (r: T) => number | null | undefined): Encoder<T> => (r) => {
  const v = get(r)
  return v === undefined || v === null || !Number.isFinite(v) ? NULL : String(v)
}
/** Boolean column. */
export const bool = <T>(get: (r: T) => boolean): Encoder<T> => (r) => (get(r) ? 'true' : 'false')
/** DateTime64(3) from epoch milliseconds, written as `seconds.millis` (exact, zone-free). */
export const ts = <T>(get: (r: T) => number): Encoder<T> => (r) => msToText(get(r))
/** Nullable DateTime64(3). */
export const optTs = <T>(get: (r: T) => number | undefined): Encoder<T> => (r) => {
  const v = get(r)
  return v === undefined ? NULL : msToText(v)
}
const ARRAY_ITEM_ESCAPES: Record<string, string> = { ...ESCAPES, "'": "\\'" }

/**
 * Array(String) column, as TSV writes arrays: `['a','b']`, each item quoted,
 * with quotes, backslashes and TSV's control characters escaped (once: the
 * array text needs no second TSV escaping). Undefined is the empty array.
 */
export const strArray = <T>(get: (r: T) => readonly string[] | undefined): Encoder<T> => (r) =>
  `[${(get(r) ?? []).map((s) => `'${s.replace(/[\t\n\r\\']/g, (c) => ARRAY_ITEM_ESCAPES[c] as string)}'`).join(',')}]`

/** JSON text column. */
export const json = <T>(get: (r: T) => unknown): Encoder<T> => (r) => escapeTsv(JSON.stringify(get(r) ?? null))

/**
 * Epoch ms as `SSSSSSSSSS.mmm`. The seconds are zero-padded to 10 digits:
 * ClickHouse reads a shorter number as a date-time text, not a Unix time,
 * and refuses it (any time before 1973 has fewer digits).
 */
export function msToText(ms: number): string {
  if (!(ms >= 0)) throw new RangeError(`time ${ms} is before 1970 or not a number`)
  const whole = Math.floor(ms)
  const sec = Math.floor(whole / 1000)
  const frac = whole - sec * 1000
  return `${String(sec).padStart(10, '0')}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`
}

/**
 * The TSV body for rows: one line per row, columns in spec order. Cells and
 * lines are collected in arrays and joined once: building with `+=` made V8
 * flatten long rope strings and cost about twice the time (docs/benchmarks.md).
 */
export function encodeRows<T>(spec: TableSpec<T>, rows: readonly T[]): string {
  if (rows.length === 0) return ''
  const enc = spec.encoders
  const n = enc.length
  const cells = new Array<string>(n)
  const lines = new Array<string>(rows.length)
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as T
    for (let i = 0; i < n; i++) cells[i] = (enc[i] as Encoder<T>)(row)
    lines[r] = cells.join('\t')
  }
  return `${lines.join('\n')}\n`
}
