import { describe, expect, it } from 'vitest'
import { InputError } from '../../core/errors'
import { describeError, fieldOf, scrub } from './elasticsearch'
import { parseLogText, selectLines } from './podLogs'
import { decodeCursor, encodeCursor, type LogLine } from './types'

describe('fieldOf', () => {
  it.each([
    { name: 'nested objects', doc: { kubernetes: { pod: { name: 'p' } } }, path: 'kubernetes.pod.name', want: 'p' },
    { name: 'dotted key', doc: { 'kubernetes.pod.name': 'p' }, path: 'kubernetes.pod.name', want: 'p' },
    { name: 'dotted prefix, nested rest', doc: { 'kubernetes.pod': { name: 'p' } }, path: 'kubernetes.pod.name', want: 'p' },
    { name: 'top-level field with a dot in its name', doc: { '@timestamp': 't' }, path: '@timestamp', want: 't' },
    { name: 'missing', doc: { kubernetes: {} }, path: 'kubernetes.pod.name', want: undefined },
  ])('$name', ({ doc, path, want }) => {
    expect(fieldOf(doc, path)).toEqual(want)
  })
})

describe('cursors', () => {
  it.each([
    { state: { source: 'elasticsearch' as const, after: [1_781_092_800_000, 42] } },
    { state: { source: 'kubernetes' as const, offset: 300 } },
  ])('round-trip $state.source', ({ state }) => {
    const cursor = encodeCursor(state)
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(decodeCursor(cursor, state.source)).toEqual(state)
  })

  it.each(['', '***', Buffer.from('{"s":"k8s","o":-1}').toString('base64url'), Buffer.from('[1,2]').toString('base64url'), 'A'.repeat(3_000)])('rejects %j', (cursor) => {
    expect(() => decodeCursor(cursor, 'kubernetes')).toThrow(InputError)
  })
})

describe('pod log text', () => {
  it('parses timestamps=true lines, truncating nanoseconds, and joins lines without a timestamp to the previous one', () => {
    const text = '2026-06-10T11:50:00.123456789Z first\n2026-06-10T11:50:01Z second part\n continued\n\n'
    expect(parseLogText(text, 'p', 'c')).toEqual([
      { tsMs: Date.UTC(2026, 5, 10, 11, 50, 0, 123), pod: 'p', container: 'c', message: 'first' },
      { tsMs: Date.UTC(2026, 5, 10, 11, 50, 1), pod: 'p', container: 'c', message: 'second part continued' },
    ])
  })

  it('selects lines in [from, to) containing q; newest first is exactly oldest first reversed, ties included', () => {
    const line = (tsMs: number, message: string, container = 'c'): LogLine => ({ tsMs, pod: 'p', container, message })
    const lines = [line(1, 'a ERROR'), line(2, 'b error', 'x'), line(2, 'c error', 'y'), line(3, 'd ok'), line(4, 'e error')]
    const asc = selectLines(lines, { fromMs: 1, toMs: 4, q: 'Error', order: 'asc' }).map((l) => l.message)
    expect(asc).toEqual(['a ERROR', 'b error', 'c error'])
    expect(selectLines(lines, { fromMs: 1, toMs: 4, q: 'Error', order: 'desc' }).map((l) => l.message)).toEqual([...asc].reverse())
  })
})

describe('Elasticsearch errors', () => {
  it('names status, type and reason of an error answer', () => {
    const err = Object.assign(new Error('security_exception'), { meta: { statusCode: 401, body: { error: { type: 'security_exception', reason: 'missing authentication credentials' } } } })
    expect(describeError(err)).toBe('HTTP 401 security_exception: missing authentication credentials')
  })

  it('masks configured secrets and URL credentials', () => {
    expect(scrub('failed https://elastic:hunter2-pw@es:9200 with key k3y-k3y-k3y', { apiKey: 'k3y-k3y-k3y', password: 'hunter2-pw' })).toBe('failed https://elastic:<redacted>@es:9200 with key <redacted>')
  })
})
