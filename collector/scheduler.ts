import type { Logger } from '../core/ports'
import type { CollectorHealth } from './health'
import type { HealthReporter, PollSource, Source, StreamSource } from './source'

/** Fraction of the interval used as random jitter, so sources do not fire in lock-step. */
const JITTER_RATIO = 0.1

/**
 * Runs every source: poll sources each on their own timer with jitter and a
 * timeout, stream sources started once. One failing source never stops the
 * others; a poll never overlaps its previous run.
 */
export class CollectorScheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>()
  private readonly running = new Map<string, Promise<void>>()
  private readonly started: StreamSource[] = []
  private readonly reporters = new Map<string, HealthReporter>()
  private stopped = false

  constructor(
    private readonly sources: readonly Source[],
    private readonly health: CollectorHealth,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts every source; a stream source that fails to start is reported, not thrown. */
  async start(): Promise<void> {
    for (const source of this.sources) {
      const reporter = this.health.register(source)
      this.reporters.set(source.name, reporter)
      if (source.kind === 'poll') {
        this.schedule(source, reporter, Math.random() * JITTER_RATIO * source.intervalMs)
        continue
      }
      try {
        await source.start(reporter)
        this.started.push(source)
      } catch (err) {
        reporter.failure(err)
        this.logger.error({ source: source.name, err: (err as Error).message }, 'source failed to start')
      }
    }
  }

  /** Runs one poll now, outside the timers (tests, `collect once`); resolves when it is done. */
  async runOnce(name: string): Promise<void> {
    const source = this.sources.find((s): s is PollSource => s.kind === 'poll' && s.name === name)
    if (!source) throw new Error(`no poll source '${name}'`)
    await this.poll(source, this.reporters.get(name) ?? this.health.register(source))
  }

  /** Stops timers, waits for running polls, stops stream sources. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    await Promise.allSettled([...this.running.values()])
    await Promise.allSettled(this.started.map((s) => s.stop()))
  }

  private schedule(source: PollSource, reporter: HealthReporter, delayMs: number): void {
    if (this.stopped) return
    const timer = setTimeout(() => {
      const startedMs = performance.now()
      const run = this.poll(source, reporter).finally(() => {
        this.running.delete(source.name)
        // Fixed rate: the next poll starts an interval after this one started (not after it ended),
        // so a 10 s poll on a 15 s interval still samples every 15 s; a poll that overran starts the next at once.
        const jitter = (Math.random() * 2 - 1) * JITTER_RATIO * source.intervalMs
        this.schedule(source, reporter, Math.max(0, source.intervalMs + jitter - (performance.now() - startedMs)))
      })
      this.running.set(source.name, run)
    }, delayMs)
    timer.unref()
    this.timers.set(source.name, timer)
  }

  private async poll(source: PollSource, reporter: HealthReporter): Promise<void> {
    const t0 = performance.now()
    const abort = new AbortController()
    const timeout = setTimeout(() => abort.abort(new Error(`timed out after ${source.timeoutMs} ms`)), source.timeoutMs)
    try {
      const result = await Promise.race([source.poll(this.now(), abort.signal), aborted(abort.signal)])
      reporter.success(result.rows, performance.now() - t0)
      for (const w of result.warnings ?? []) this.logger.warn({ source: source.name }, w)
    } catch (err) {
      reporter.failure(err, performance.now() - t0)
      this.logger.warn({ source: source.name, err: (err as Error).message }, 'poll failed')
    } finally {
      clearTimeout(timeout)
    }
  }
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }))
}
