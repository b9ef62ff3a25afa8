/**
 * Waiting between failures: exponential backoff with jitter, an abortable
 * sleep, and a loop that retries an async task until it succeeds.
 */

/** Exponential backoff: base, 2×base, ... up to max, each with ±25% jitter so clusters do not retry in lock-step. */
export class Backoff {
  private failures = 0

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  /** Counts a failure and returns how long to wait before the next attempt. */
  next(): number {
    this.failures++
    const ms = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures - 1, 30))
    return Math.round(ms * (0.75 + Math.random() / 2))
  }

  /** Forgets past failures after a success. */
  reset(): void {
    this.failures = 0
  }
}

/** Resolves after ms, or at once when the signal aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    timer.unref()
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * Runs an async task on request, one run at a time. A request during a run
 * runs the task once more afterwards; a failed run is retried after a backoff
 * delay (requests made while that delay runs wait for it, so a down store is
 * not hammered).
 */
export class RetryLoop {
  private running: Promise<void> | undefined
  private again = false
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(
    private readonly task: () => Promise<void>,
    private readonly backoff: Backoff,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Asks for a run: now, after the current one, or at the scheduled retry (`now` skips that wait). */
  request(now = false): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    if (this.timer && !now) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.running = this.run()
  }

  /** Resolves when no run is in progress (a scheduled retry is not waited for). */
  async settled(): Promise<void> {
    while (this.running) await this.running
  }

  /** True while a failed run waits for its retry. */
  get retrying(): boolean {
    return this.timer !== undefined
  }

  /** Cancels any scheduled retry and refuses further requests. */
  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }

  private async run(): Promise<void> {
    let failed = false
    try {
      await this.task()
      this.backoff.reset()
    } catch (err) {
      failed = true
      this.onError(err)
    }
    this.running = undefined
    if (this.stopped) return
    if (failed) {
      this.again = false
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.request()
      }, this.backoff.next())
      this.timer.unref()
    } else if (this.again) {
      this.again = false
      this.request()
    }
  }
}
