import { createReadStream } from 'node:fs'
import { basename } from 'node:path'
import { createGunzip } from 'node:zlib'
import { parse } from 'csv-parse'
import type { z } from 'zod'
import { InputError } from '../../../core/errors'

/** One row a loader refused: where it is and why. */
export interface BadRow {
  file: string
  line: number
  message: string
}

/** What a loader read: rows kept, rows skipped, and the first bad rows by file and line. */
export interface LoadReport {
  file: string
  rows: number
  skipped: number
  /** The first `MAX_REPORTED` bad rows (all are counted in `skipped`). */
  bad: BadRow[]
}

const MAX_REPORTED = 50

/**
 * Reads a CSV file (gzip when it ends in .gz) with a header row and validates
 * every row with `schema`; a row that fails is skipped and counted with its
 * line, never guessed. The header must hold every column the schema names.
 */
export async function loadCsv<S extends z.ZodType, T>(
  file: string,
  schema: S,
  map: (row: z.infer<S>, line: number) => T,
): Promise<{ rows: T[]; report: LoadReport }> {
  const name = basename(file)
  const report: LoadReport = { file: name, rows: 0, skipped: 0, bad: [] }
  const rows: T[] = []
  const input = createReadStream(file)
  const source = file.endsWith('.gz') ? input.pipe(createGunzip()) : input
  // Arrays, not objects: the Helios files have 24 columns and the loaders read 6.
  const parser = source.pipe(parse({ info: true, skip_empty_lines: true, relax_column_count: true, trim: true }))
  let pick: Array<[string, number]> | undefined
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!pick) {
        pick = headerIndex(name, schema, record)
        continue
      }
      const row: Record<string, string | undefined> = {}
      for (const [key, i] of pick) row[key] = record[i]
      const parsed = schema.safeParse(row)
      if (parsed.success) {
        rows.push(map(parsed.data, info.lines))
        report.rows++
        continue
      }
      report.skipped++
      if (report.bad.length < MAX_REPORTED) {
        const issue = parsed.error.issues[0]
        report.bad.push({ file: name, line: info.lines, message: `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}` })
      }
    }
  } catch (err) {
    if (err instanceof InputError) throw err
    throw new InputError(`${name}: cannot read as CSV: ${(err as Error).message}`, { cause: err })
  }
  return { rows, report }
}

/** Column positions of the fields the schema reads; every one must be in the header. */
function headerIndex(file: string, schema: z.ZodType, header: string[]): Array<[string, number]> {
  const shape = (schema as unknown as { shape?: Record<string, unknown>; def?: { in?: { shape?: Record<string, unknown> } } }).shape
  const keys = Object.keys(shape ?? {})
  const missing = keys.filter((k) => !header.includes(k))
  if (missing.length > 0) throw new InputError(`${file}: header lacks column(s) ${missing.join(', ')}`)
  return keys.map((k) => [k, header.indexOf(k)])
}
