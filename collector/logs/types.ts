/**
 * Pod log search as the API asks for it, whatever the source: Elasticsearch
 * when configured, else the Kubernetes pod log API. A source that fails
 * answers with no lines and a warning naming the gap; it never throws,
 * except for a bad cursor (the caller's input).
 */
import { InputError } from '../../core/errors'

/** One log line of one container. */
export interface LogLine {
  tsMs: number
  pod: string
  container: string
  message: string
}

/** What to search: one workload's pods in a time range [fromMs, toMs), optionally for text. */
export interface LogQuery {
  cluster: string
  namespace: string
  pods: readonly string[]
  fromMs: number
  toMs: number
  /** Text to look for; empty = every line. */
  q: string
  limit: number
  /** Newest first (desc, the default) or oldest first. */
  order: 'asc' | 'desc'
  /** Opaque cursor from a previous page's nextCursor. */
  cursor?: string | undefined
}

/** Where the lines came from. */
export type LogSource = 'elasticsearch' | 'kubernetes'

/** One page of lines; nextCursor is null on the last page. */
export interface LogPage {
  source: LogSource
  lines: LogLine[]
  nextCursor: string | null
  warnings: string[]
}

/** Searches pod logs; resolves with warnings instead of rejecting when the source fails. */
export type LogReader = (query: LogQuery) => Promise<LogPage>

/** A cursor's content: the Elasticsearch sort values of the last hit, or an offset into the Kubernetes lines. */
export type CursorState = { source: 'elasticsearch'; after: Array<string | number> } | { source: 'kubernetes'; offset: number }

const MAX_CURSOR_CHARS = 2_048

/** Encodes a cursor as base64url JSON (opaque to clients, stable across requests). */
export function encodeCursor(state: CursorState): string {
  const body = state.source === 'elasticsearch' ? { s: 'es', a: state.after } : { s: 'k8s', o: state.offset }
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url')
}

/** Decodes a cursor for the given source; a cursor that is malformed or from another source is an InputError. */
export function decodeCursor(cursor: string, source: LogSource): CursorState {
  const bad = (why: string) => new InputError(`bad cursor: ${why}; pass the nextCursor of the previous page unchanged`)
  if (cursor.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad('not a cursor this API issued')
  let body: unknown
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw bad('not a cursor this API issued')
  }
  const b = body as { s?: unknown; a?: unknown; o?: unknown }
  const tag = source === 'elasticsearch' ? 'es' : 'k8s'
  if (b.s !== tag) throw bad(`it was not issued for ${source} logs`)
  if (source === 'elasticsearch') {
    if (!Array.isArray(b.a) || b.a.length === 0 || !b.a.every((v) => typeof v === 'string' || typeof v === 'number')) throw bad('not a cursor this API issued')
    return { source, after: b.a as Array<string | number> }
  }
  if (typeof b.o !== 'number' || !Number.isSafeInteger(b.o) || b.o < 0) throw bad('not a cursor this API issued')
  return { source, offset: b.o }
}
