import { describe, expect, it } from 'vitest'
import { defaultConfig } from '../config/schema'
import { UpstreamError } from '../core/errors'
import type { TableSpec } from './tsv'
import { num, str } from './tsv'
import { BatchWriter } from './writer'

interface Row { id: number; name: string }
const spec: TableSpec<Row> = { table: 't', columns: ['id', 'name'], encoders: [num((r) => r.id), str((r) => r.name)] }
const silent = { info() {}, warn() {}, error() {}, debug() {} }
const rows = (n: number, from = 0): Row[] => Array.from({ length: n }, (_, i) => ({ id: from + i, name: `r${from + i}` }))

/** A store stand-in that records each insert body and fails the first `failures` calls. */
function recordingStore(failures = 0) {
  const bodies: string[] = []
  const tokens: string[] = []
  let calls = 0
  return {
    bodies,
    tokens,
    insertTsv: async (_t: string, _c: readonly string[], body: string, token: string) => {
      calls++
      tokens.push(token)
      if (calls <= failures) throw new Error('connection reset')
      bodies.push(body)
    },
  }
}

function writer(store: ReturnType<typeof recordingStore>, over: Partial<ReturnType<typeof defaultConfig>['store']['writer']> = {}) {
  const config = { ...defaultConfig().store.writer, flushIntervalMs: 3_600_000, ...over }
  return new BatchWriter(spec, config, { store, logger: silent, sleep: async () => {} })
}

describe('BatchWriter', () => {
  it('flushes by size: a write of 2.5 batches goes out as three inserts and resolves once all are stored', async () => {
    const store = recordingStore()
    const w = writer(store, { batchRows: 10 })
    await w.write(rows(25))
    expect(store.bodies.map((b) => b.split('\n').length - 1)).toEqual([10, 10, 5])
    expect(w.stats).toMatchObject({ rowsWritten: 25, batchesWritten: 3, queuedRows: 0, rowsFailed: 0 })
    await w.close()
  })

  it('encodes rows as TSV with escapes', async () => {
    const store = recordingStore()
    const w = writer(store)
    await Promise.all([w.write([{ id: 1, name: 'a\tb\nc\\d' }]), w.flush()])
    expect(store.bodies).toEqual(['1\ta\\tb\\nc\\\\d\n'])
    await w.close()
  })

  it('retries a failed insert with the same dedup token and acknowledges once it lands', async () => {
    const store = recordingStore(2)
    const w = writer(store, { maxAttempts: 5 })
    await Promise.all([w.write(rows(3)), w.flush()])
    expect(store.bodies).toHaveLength(1)
    expect(new Set(store.tokens).size).toBe(1)
    expect(w.stats).toMatchObject({ retries: 2, rowsWritten: 3, rowsFailed: 0 })
    await w.close()
  })

  it('rejects the writers of a batch that fails every attempt and counts the rows', async () => {
    const store = recordingStore(99)
    const w = writer(store, { maxAttempts: 3 })
    const write = w.write(rows(4))
    await w.flush()
    await expect(write).rejects.toBeInstanceOf(UpstreamError)
    expect(w.stats).toMatchObject({ rowsFailed: 4, batchesFailed: 1, rowsWritten: 0, retries: 2 })
    expect(w.stats.lastError).toContain('after 3 attempts')
    await w.close()
  })

  it('applies backpressure: a write waits while the queue is full and still lands', async () => {
    const store = recordingStore()
    const w = writer(store, { batchRows: 1000, maxQueueRows: 5 })
    const first = w.write(rows(5))
    let secondDone = false
    const second = w.write(rows(3, 5)).then(() => { secondDone = true })
    await Promise.resolve()
    expect(secondDone).toBe(false)
    expect(w.stats.queuedRows).toBe(5)
    await w.flush()
    await Promise.all([first, second])
    await w.flush()
    expect(w.stats.rowsWritten).toBe(8)
    await w.close()
  })

  it('refuses writes after close, and close flushes what was queued', async () => {
    const store = recordingStore()
    const w = writer(store)
    const pending = w.write(rows(2))
    await w.close()
    await pending
    expect(store.bodies).toHaveLength(1)
    await expect(w.write(rows(1))).rejects.toThrow('closed')
  })
})
