import { UpstreamError } from '../../core/errors'
import type { GpuSample } from '../../core/model'
import type { Sink } from '../../core/ports'

/** What one hand-off to the sink did. */
export interface FlushResult {
  /** Rows the sink acknowledged (stored), carried-over rows included. */
  stored: number
  /** Rows dropped since the last report because the carry-over buffer was full. */
  dropped: number
}

/**
 * Rows a poll could not store, kept for the next poll. A store outage shorter
 * than `maxRows` worth of scrapes then loses nothing; past that the oldest
 * rows go first and the drop is reported, never silent. A row counts as
 * stored only once the sink's write resolved (acknowledged).
 */
export class PendingRows {
  private rows: GpuSample[] = []
  private droppedSinceReport = 0

  constructor(private readonly maxRows: number) {}

  /** Rows waiting for the next poll. */
  get size(): number {
    return this.rows.length
  }

  /**
   * Writes the waiting rows plus `fresh` in one call. On failure every row is
   * kept (up to the bound) and the error, which names how many wait, is thrown.
   */
  async flush(fresh: readonly GpuSample[], sink: Sink<GpuSample>): Promise<FlushResult> {
    const batch = this.rows.length ? [...this.rows, ...fresh] : [...fresh]
    this.rows = []
    const dropped = this.droppedSinceReport
    this.droppedSinceReport = 0
    if (batch.length === 0) return { stored: 0, dropped }
    try {
      // The sink takes ownership of the array it gets; keep our own for a retry.
      await sink.write(batch.slice())
      return { stored: batch.length, dropped }
    } catch (err) {
      this.keep(batch)
      this.droppedSinceReport += dropped
      throw new UpstreamError(`storing ${batch.length} GPU sample(s) failed; ${this.rows.length} kept for the next poll: ${(err as Error).message}`, { cause: err })
    }
  }

  private keep(batch: GpuSample[]): void {
    // A poll the scheduler gave up on may finish after a newer one started: merge, oldest first.
    const all = this.rows.length ? [...batch, ...this.rows] : batch
    const over = all.length - this.maxRows
    if (over > 0) this.droppedSinceReport += over
    this.rows = over > 0 ? all.slice(over) : all
  }
}
