import { describe, expect, it } from 'vitest'
import type { GpuSample } from '../../core/model'
import type { Sink } from '../../core/ports'
import { PendingRows } from './pending'

const row = (tsMs: number): GpuSample => ({
  tsMs, cluster: 'c', node: 'n', gpuUuid: 'GPU-a', gpuIndex: 0, model: '', migProfile: '', namespace: '', pod: '', container: '',
})

/** A sink that fails while `down` is set and records what it stored. */
function flakySink() {
  const stored: number[] = []
  const sink = {
    down: false,
    async write(rows: readonly GpuSample[]) {
      if (sink.down) throw new Error('store down')
      stored.push(...rows.map((r) => r.tsMs))
    },
  }
  return { sink: sink as Sink<GpuSample> & { down: boolean }, stored }
}

describe('PendingRows', () => {
  it('offers rows a failed write kept again with the next batch, oldest first', async () => {
    const { sink, stored } = flakySink()
    const pending = new PendingRows(100)
    sink.down = true
    await expect(pending.flush([row(1), row(2)], sink)).rejects.toThrow('storing 2 GPU sample(s) failed; 2 kept for the next poll: store down')
    expect(pending.size).toBe(2)
    sink.down = false
    expect(await pending.flush([row(3)], sink)).toEqual({ stored: 3, dropped: 0 })
    expect(stored).toEqual([1, 2, 3])
    expect(pending.size).toBe(0)
  })

  it('drops the oldest rows past its bound and reports how many, once', async () => {
    const { sink, stored } = flakySink()
    const pending = new PendingRows(3)
    sink.down = true
    await expect(pending.flush([row(1), row(2)], sink)).rejects.toThrow(/2 kept/)
    await expect(pending.flush([row(3), row(4)], sink)).rejects.toThrow(/4 GPU sample\(s\) failed; 3 kept/)
    sink.down = false
    expect(await pending.flush([], sink)).toEqual({ stored: 3, dropped: 1 })
    expect(stored).toEqual([2, 3, 4])
    expect(await pending.flush([row(5)], sink)).toEqual({ stored: 1, dropped: 0 })
  })

  it('does nothing for an empty poll with nothing waiting', async () => {
    const { sink, stored } = flakySink()
    expect(await new PendingRows(10).flush([], sink)).toEqual({ stored: 0, dropped: 0 })
    expect(stored).toEqual([])
  })
})
