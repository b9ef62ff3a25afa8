import { describe, expect, it, vi } from 'vitest'
import { createMetrics } from '../api/metrics'
import { CollectorHealth } from './health'
import { CollectorScheduler } from './scheduler'
import type { PollSource } from './source'

const silent = { info() {}, warn() {}, error() {}, debug() {} }
const source = (name: string, poll: PollSource['poll'], timeoutMs = 1_000): PollSource => ({ kind: 'poll', name, intervalMs: 15_000, timeoutMs, poll })

describe('CollectorScheduler', () => {
  it('keeps polling the healthy source when another fails, and records both in health', async () => {
    const health = new CollectorHealth()
    const good = source('dcgm/a', async () => ({ rows: 8 }))
    const bad = source('dcgm/b', async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:9400')
    })
    const scheduler = new CollectorScheduler([bad, good], health, silent)
    await scheduler.start()
    await scheduler.runOnce('dcgm/b')
    await scheduler.runOnce('dcgm/a')
    await scheduler.runOnce('dcgm/a')
    await scheduler.stop()
    const byName = Object.fromEntries(health.snapshot().map((h) => [h.source, h]))
    expect(byName['dcgm/a']).toMatchObject({ runs: 2, errors: 0, rowsWritten: 16 })
    expect(byName['dcgm/b']).toMatchObject({ runs: 1, errors: 1, rowsWritten: 0, lastError: 'connect ECONNREFUSED 127.0.0.1:9400' })
  })

  it('aborts a poll that outlives its timeout and counts it as a failure', async () => {
    const health = new CollectorHealth()
    let sawAbort = false
    const hung = source('jupyter', (_now, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => {
      sawAbort = true
      reject(signal.reason as Error)
    })), 20)
    const scheduler = new CollectorScheduler([hung], health, silent)
    await scheduler.start()
    await scheduler.runOnce('jupyter')
    await scheduler.stop()
    expect(sawAbort).toBe(true)
    expect(health.snapshot()[0]).toMatchObject({ errors: 1, lastError: 'timed out after 20 ms' })
  })
})

describe('CollectorScheduler on a fake clock', () => {
  it('polls at a fixed rate: a poll that takes 10 s of a 15 s interval still starts every 15 s (± jitter), and an overrun starts the next at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] })
    try {
      const starts: number[] = []
      let takesMs = 10_000
      const slow: PollSource = { kind: 'poll', name: 'dcgm/slow', intervalMs: 15_000, timeoutMs: 60_000, poll: async () => {
        starts.push(Date.now())
        await new Promise((r) => setTimeout(r, takesMs))
        return { rows: 1 }
      } }
      const scheduler = new CollectorScheduler([slow], new CollectorHealth(), silent)
      await scheduler.start()
      await vi.advanceTimersByTimeAsync(120_000)
      const gaps = starts.slice(1).map((t, i) => t - starts[i]!)
      expect(gaps.length).toBeGreaterThanOrEqual(6)
      for (const g of gaps) expect(g).toBeGreaterThanOrEqual(13_500) // interval - 10% jitter
      for (const g of gaps) expect(g).toBeLessThanOrEqual(16_500) // interval + 10% jitter, not interval + poll time
      takesMs = 20_000
      starts.length = 0
      await vi.advanceTimersByTimeAsync(100_000)
      const overrun = starts.slice(1).map((t, i) => t - starts[i]!)
      for (const g of overrun) expect(g - 20_000).toBeLessThanOrEqual(1) // the poll time itself (a 0 ms timer fires after 1 ms)
      const stopping = scheduler.stop()
      await vi.advanceTimersByTimeAsync(20_000)
      await stopping
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('CollectorHealth', () => {
  it('names a source with no success within its window for /readyz, and clears it after a success', () => {
    let now = 1_000_000
    const health = new CollectorHealth(() => now)
    const reporter = health.register(source('dcgm/a', async () => ({ rows: 0 })))
    expect(health.problems(now)).toEqual([])
    reporter.failure(new Error('HTTP 500'))
    now += 61_000
    expect(health.problems(1_000_000)).toEqual(['collector dcgm/a: no success for 61s; last error: HTTP 500'])
    reporter.success(3)
    expect(health.problems(1_000_000)).toEqual([])
  })

  it('exports per-source counters on /metrics', async () => {
    const health = new CollectorHealth()
    const r = health.register(source('aws/us-east-1', async () => ({ rows: 0 })))
    r.success(5, 250)
    r.failure(new Error('throttled'))
    const metrics = createMetrics({ writerStats: () => [], collectorHealth: () => health.snapshot() })
    const text = await metrics.registry.metrics()
    expect(text).toContain('gpuscope_collector_runs_total{source="aws/us-east-1"} 2')
    expect(text).toContain('gpuscope_collector_errors_total{source="aws/us-east-1"} 1')
    expect(text).toContain('gpuscope_collector_rows_total{source="aws/us-east-1"} 5')
    expect(text).toContain('gpuscope_collector_last_duration_seconds{source="aws/us-east-1"}')
  })
})
