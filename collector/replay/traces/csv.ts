import { createReadStream } from 'node:fs'
import { basename } from 'node:path'
import { pipeline } from 'node:stream/promises'
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
  // Arrays, not objects: the Helios files have 24 columns and the loaders read 6.
  const parser = parse({ info: true, skip_empty_lines: true, relax_column_count: true, trim: true })
  // pipeline, not .pipe(): a read or gunzip error (a missing file) must reach the loop below, not crash the process.
  const input = createReadStream(file)
  const piped = file.endsWith('.gz') ? pipeline(input, createGunzip(), parser) : pipeline(input, parser)
  // The loop below sees the same error; this only keeps the pipeline's own rejection from going unhandled
  // (also when the loop stops early on a bad header).
  piped.catch(() => {})
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
    const fsProblem = fileProblem(err)
    if (fsProblem) throw new InputError(`cannot read ${file}: ${fsProblem}`, { cause: err })
    throw new InputError(`${name}: cannot read as CSV: ${(err as Error).message}`, { cause: err })
  }
  return { rows, report }
}

const FILE_PROBLEMS: Record<string, string> = {
  ENOENT: 'does not exist',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
}

/** A short reason for a file-system error on a path the user gave (undefined for anything else). */
export function fileProblem(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === undefined ? undefined : FILE_PROBLEMS[code]
}

/** Column positions of the fields the schema reads; every one must be in the header. */
function headerIndex(file: string, schema: z.ZodType, header: string[]): Array<[string, number]> {
  const shape = (schema as unknown as { shape?: Record<string, unknown>; def?: { in?: { shape?: Record<string, unknown> } } }).shape
  const keys = Object.keys(shape ?? {})
  const missing = keys.filter((k) => !header.includes(k))
  if (missing.length > 0) throw new InputError(`${file}: header lacks column(s) ${missing.join(', ')}`)
  return keys.map((k) => [k, header.indexOf(k)])
}
