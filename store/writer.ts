import { randomUUID } from 'node:crypto'
import type { WriterConfig } from '../config/schema'
import { ConflictError, UpstreamError } from '../core/errors'
import type { Logger, Sink } from '../core/ports'
import type { Store } from './client'
import { encodeRows, type TableSpec } from './tsv'

/** Counters a writer keeps; /metrics and `collector health` read them. */
export interface WriterStats {
  table: string
  queuedRows: number
  rowsWritten: number
  rowsFailed: number
  batchesWritten: number
  batchesFailed: number
  retries: number
  lastSuccessMs: number | undefined
  lastError: string | undefined
}

export interface WriterDeps {
  store: Pick<Store, 'insertTsv'>
  logger: Logger
  /** Injected so tests drive retries without real waits. */
  sleep?: (ms: number) => Promise<void>
  now?: () => number
}

interface Ticket {
  pieces: number
  failed: Error | undefined
  resolve: () => void
  reject: (err: Error) => void
}

interface Piece<T> {
  rows: readonly T[]
  ticket: Ticket
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * Batches rows for one table: flushes when `batchRows` are queued or every
 * `flushIntervalMs`, blocks writers once `maxQueueRows` wait, and retries a
 * failed insert with exponential backoff. `write()` resolves only when its rows
 * are stored (acknowledged); a batch that fails every attempt rejects its
 * writers and is counted in `rowsFailed`, never dropped silently. A retried
 * batch keeps its deduplication token, so a retry after a lost reply stores it once.
 */
export class BatchWriter<T> implements Sink<T> {
  readonly stats: WriterStats
  private queue: Piece<T>[] = []
  private draining: Promise<void> | undefined
  private spaceWaiters: Array<() => void> = []
  private closed = false
  private readonly timer: NodeJS.Timeout
  private readonly sleep: (ms: number) => Promise<void>
  private readonly now: () => number

  constructor(
    private readonly spec: TableSpec<T>,
    private readonly config: WriterConfig,
    private readonly deps: WriterDeps,
  ) {
    this.stats = { table: spec.table, queuedRows: 0, rowsWritten: 0, rowsFailed: 0, batchesWritten: 0, batchesFailed: 0, retries: 0, lastSuccessMs: undefined, lastError: undefined }
    this.sleep = deps.sleep ?? realSleep
    this.now = deps.now ?? Date.now
    this.timer = setInterval(() => void this.kick(), config.flushIntervalMs)
    this.timer.unref()
  }

  /** Queues rows (the writer takes ownership of the array) and resolves once they are stored. */
  async write(rows: readonly T[]): Promise<void> {
    if (this.closed) throw new ConflictError(`writer for ${this.spec.table} is closed`)
    if (rows.length === 0) return
    while (this.stats.queuedRows > 0 && this.stats.queuedRows + rows.length > this.config.maxQueueRows) {
      await new Promise<void>((r) => this.spaceWaiters.push(r))
    }
    const done = new Promise<void>((resolve, reject) => {
      this.queue.push({ rows, ticket: { pieces: 1, failed: undefined, resolve, reject } })
    })
    this.stats.queuedRows += rows.length
    // Queued rows keep the process alive until they are stored (a script awaiting its writes must not exit early).
    this.timer.ref()
    if (this.stats.queuedRows >= this.config.batchRows) void this.kick()
    return done
  }

  /** Writes everything queued now; resolves when the queue is empty. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.draining) await this.kick()
  }

  /** Flushes, then refuses further writes. */
  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    await this.flush()
  }

  private kick(): Promise<void> {
    if (!this.draining && this.queue.length > 0) {
      this.draining = this.drain().finally(() => {
        this.draining = undefined
      })
    }
    return this.draining ?? Promise.resolve()
  }

  /**
   * Inserts batches until the queue is empty. The next batch is encoded while
   * the current insert runs (chDB inserts on a native thread, a server over the
   * network), so encoding and inserting overlap instead of adding up.
   */
  private async drain(): Promise<void> {
    let next = this.prepare()
    while (next) {
      const current = next
      const inserting = this.insertWithRetry(current.body)
      // Let the insert reach the engine (its body is read through a stream over a few ticks) before encoding blocks the thread.
      await new Promise<void>((resolve) => setImmediate(resolve))
      next = this.prepare()
      const err = await inserting
      this.finish(current.batch, current.rows, err)
      // Rows written while that insert ran were not there when `next` was prepared.
      next ??= this.prepare()
    }
  }

  private prepare(): { batch: Piece<T>[]; rows: number; body: string } | undefined {
    if (this.queue.length === 0) return undefined
    const batch = this.takeBatch()
    const rows = batch.flatMap((p) => p.rows)
    return { batch, rows: rows.length, body: encodeRows(this.spec, rows) }
  }

  private finish(batch: Piece<T>[], rows: number, err: Error | undefined): void {
    this.stats.queuedRows -= rows
    if (this.stats.queuedRows === 0) this.timer.unref()
    for (const waiter of this.spaceWaiters.splice(0)) waiter()
    if (err) {
      this.stats.batchesFailed++
      this.stats.rowsFailed += rows
      this.stats.lastError = err.message
      this.deps.logger.error({ table: this.spec.table, rows, err: err.message }, 'batch insert failed after all attempts')
    } else {
      this.stats.batchesWritten++
      this.stats.rowsWritten += rows
      this.stats.lastSuccessMs = this.now()
    }
    for (const { ticket } of batch) settle(ticket, err)
  }

  /** Takes up to batchRows rows off the queue, splitting a large write into pieces that share its ticket. */
  private takeBatch(): Piece<T>[] {
    const batch: Piece<T>[] = []
    let n = 0
    while (this.queue.length > 0 && n < this.config.batchRows) {
      const head = this.queue[0] as Piece<T>
      const room = this.config.batchRows - n
      if (head.rows.length <= room) {
        batch.push(head)
        this.queue.shift()
        n += head.rows.length
      } else {
        head.ticket.pieces++
        batch.push({ rows: head.rows.slice(0, room), ticket: head.ticket })
        head.rows = head.rows.slice(room)
        n += room
      }
    }
    return batch
  }

  private async insertWithRetry(body: string): Promise<Error | undefined> {
    const token = randomUUID()
    let last: Error | undefined
    for (let attempt = 1; attempt <= this.config.maxAttempts; attempt++) {
      try {
        await this.deps.store.insertTsv(this.spec.table, this.spec.columns, body, token)
        return undefined
      } catch (err) {
        last = err instanceof Error ? err : new Error(String(err))
        if (attempt === this.config.maxAttempts) break
        this.stats.retries++
        const backoff = Math.min(this.config.retryMaxMs, this.config.retryBaseMs * 2 ** (attempt - 1))
        this.deps.logger.warn({ table: this.spec.table, attempt, backoffMs: backoff, err: last.message }, 'insert failed; retrying')
        await this.sleep(backoff * (0.5 + Math.random() / 2))
      }
    }
    return new UpstreamError(`insert into ${this.spec.table} failed after ${this.config.maxAttempts} attempts: ${last?.message ?? 'unknown error'}`, { cause: last })
  }
}

function settle(ticket: Ticket, err: Error | undefined): void {
  if (err && !ticket.failed) ticket.failed = err
  ticket.pieces--
  if (ticket.pieces > 0) return
  if (ticket.failed) ticket.reject(ticket.failed)
  else ticket.resolve()
}
