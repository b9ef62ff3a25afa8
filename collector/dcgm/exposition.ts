import { UpstreamError } from '../../core/errors'

/**
 * A strict parser for the Prometheus text exposition format (version 0.0.4),
 * the format dcgm-exporter serves. It returns flat samples, the way
 * Prometheus' own scrape loop sees them: histogram and summary series are
 * just samples named `_bucket`, `_sum`, `_count` with their labels intact.
 * Like Prometheus, it rejects the whole body on the first malformed line, so
 * an HTML error page or a truncated line is a failed scrape, never a silent gap.
 */

/** One sample line: metric name, labels (unescaped), value, and the optional timestamp. */
export interface ExpositionSample {
  name: string
  labels: Record<string, string>
  /** May be NaN or ±Infinity; callers decide what those mean. */
  value: number
  timestampMs?: number | undefined
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
/** Sticky (`y`): matched in place at `lastIndex`, without slicing the line. */
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y
const SPECIAL_VALUES: Record<string, number> = { nan: NaN, inf: Infinity, '+inf': Infinity, '-inf': -Infinity }
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

/** Parses a text-format body into samples; throws an UpstreamError naming the first bad line. */
export function parseExposition(text: string): ExpositionSample[] {
  const out: ExpositionSample[] = []
  const lines = text.split('\n')
  // dcgm-exporter repeats one label set per GPU across every metric: parse each once per body.
  // The parsed labels are shared between samples and frozen so no caller can change another's.
  const labelSets = new Map<string, Readonly<Record<string, string>>>()
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '').trim()
    if (line === '' || line.startsWith('#')) continue
    try {
      out.push(parseSampleLine(line, labelSets))
    } catch (err) {
      const shown = line.length > 120 ? `${line.slice(0, 120)}…` : line
      throw new UpstreamError(`invalid Prometheus text at line ${i + 1}: ${(err as Error).message}: ${JSON.stringify(shown)}`, { cause: err })
    }
  }
  return out
}

/** Parses one sample line (no comment, already trimmed). */
function parseSampleLine(line: string, labelSets: Map<string, Readonly<Record<string, string>>>): ExpositionSample {
  const name = METRIC_NAME.exec(line)?.[0]
  if (!name) throw new Error('expected a metric name')
  let pos = name.length
  let labels: Record<string, string> = {}
  if (line[pos] === '{') {
    // The value and timestamp after the label set never hold '}', so the last one closes it (a value may hold '}').
    const close = line.lastIndexOf('}')
    const key = close > pos ? line.slice(pos + 1, close) : undefined
    const known = key === undefined ? undefined : labelSets.get(key)
    if (known) {
      labels = known as Record<string, string>
      pos = close + 1
    } else {
      const parsed = parseLabels(line, pos + 1)
      labels = Object.freeze(parsed.labels) as Record<string, string>
      pos = parsed.end
      if (key !== undefined && parsed.end === close + 1) labelSets.set(key, labels)
    }
  }
  const rest = line.slice(pos)
  if (rest !== '' && !/^[ \t]/.test(rest)) throw new Error('expected whitespace before the value')
  const fields = rest.trim().split(/[ \t]+/)
  if (fields.length < 1 || fields.length > 2 || fields[0] === '') throw new Error('expected a value and an optional timestamp')
  const value = parseValue(fields[0] as string)
  const sample: ExpositionSample = { name, labels, value }
  if (fields[1] !== undefined) {
    if (!/^-?\d+$/.test(fields[1])) throw new Error(`bad timestamp '${fields[1]}'`)
    sample.timestampMs = Number(fields[1])
  }
  return sample
}

/** Parses `name="value",...}` starting just after `{`; returns the labels and the index after `}`. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  // No prototype: a label called `__proto__` or `constructor` is just a label.
  const labels: Record<string, string> = Object.create(null) as Record<string, string>
  let pos = start
  for (let guard = 0; guard <= line.length; guard++) {
    pos = skipBlanks(line, pos)
    if (line[pos] === '}') return { labels, end: pos + 1 }
    LABEL_NAME.lastIndex = pos
    const labelName = LABEL_NAME.exec(line)?.[0]
    if (!labelName) throw new Error(`expected a label name at column ${pos + 1}`)
    pos = skipBlanks(line, pos + labelName.length)
    if (line[pos] !== '=') throw new Error(`expected '=' after label '${labelName}'`)
    pos = skipBlanks(line, pos + 1)
    if (line[pos] !== '"') throw new Error(`expected '"' to open the value of label '${labelName}'`)
    const { value, end } = readQuoted(line, pos + 1)
    if (Object.hasOwn(labels, labelName)) throw new Error(`duplicate label '${labelName}'`)
    labels[labelName] = value
    pos = skipBlanks(line, end)
    if (line[pos] === ',') pos++
    else if (line[pos] !== '}') throw new Error(`expected ',' or '}' after label '${labelName}'`)
  }
  throw new Error('unterminated label set')
}

/** Reads an escaped label value (`\\`, `\"`, `\n`) up to its closing quote. */
function readQuoted(line: string, start: number): { value: string; end: number } {
  // Fast path: no escape before the closing quote (nearly every real value).
  const quote = line.indexOf('"', start)
  const backslash = line.indexOf('\\', start)
  if (quote >= 0 && (backslash < 0 || backslash > quote)) return { value: line.slice(start, quote), end: quote + 1 }
  let value = ''
  for (let pos = start; pos < line.length; pos++) {
    const ch = line[pos] as string
    if (ch === '"') return { value, end: pos + 1 }
    if (ch !== '\\') {
      value += ch
      continue
    }
    const next = line[++pos]
    if (next === 'n') value += '\n'
    else if (next === '\\' || next === '"') value += next
    else throw new Error(`bad escape '\\${next ?? ''}' in a label value`)
  }
  throw new Error('unterminated label value')
}

function skipBlanks(line: string, pos: number): number {
  while (line[pos] === ' ' || line[pos] === '\t') pos++
  return pos
}

function parseValue(raw: string): number {
  const special = SPECIAL_VALUES[raw.toLowerCase()]
  if (special !== undefined) return special
  if (!NUMBER.test(raw)) throw new Error(`bad value '${raw}'`)
  return Number(raw)
}
