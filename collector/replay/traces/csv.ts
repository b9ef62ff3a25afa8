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
  const parser = source.pipe(parse({ columns: true, info: true, skip_empty_lines: true, relax_column_count: true, trim: true }))
  let checkedHeader = false
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      if (!checkedHeader) {
        checkHeader(name, schema, record)
        checkedHeader = true
      }
      const parsed = schema.safeParse(record)
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

function checkHeader(file: string, schema: z.ZodType, record: Record<string, string>): void {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape
  if (!shape) return
  const missing = Object.keys(shape).filter((k) => !(k in record))
  if (missing.length > 0) throw new InputError(`${file}: header lacks column(s) ${missing.join(', ')}`)
}
