import { describe, expect, it } from 'vitest'
import { memo } from './memo'

/** A computation the test settles by hand. */
function deferred<T>() {
  let resolve!: (v: T) => void
  let reject!: (e: Error) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('memo (stale-while-revalidate)', () => {
  it('shares one computation, serves it for ttl, then serves the stale answer once more while one refresh runs', async () => {
    const m = memo<string>(100)
    let calls = 0
    const pending: Array<ReturnType<typeof deferred<string>>> = []
    const compute = () => {
      calls++
      const d = deferred<string>()
      pending.push(d)
      return d.promise
    }
    const a = m('k', 0, compute)
    const b = m('k', 50, compute)
    pending[0]!.resolve('v0')
    expect([await a, await b, calls]).toEqual(['v0', 'v0', 1])
    // Expired: the old answer comes back at once, one refresh starts, and a second caller starts no other.
    expect(await m('k', 150, compute)).toBe('v0')
    expect(await m('k', 160, compute)).toBe('v0')
    expect(calls).toBe(2)
    pending[1]!.resolve('v1')
    await pending[1]!.promise
    await Promise.resolve()
    expect(await m('k', 170, compute)).toBe('v1')
    // Past twice the ttl, nobody is served an answer that old: callers wait for a fresh one.
    const late = m('k', 500, compute)
    expect(calls).toBe(3)
    pending[2]!.resolve('v2')
    expect(await late).toBe('v2')
  })

  it('forgets a failed computation, and keeps the good answer when a refresh fails', async () => {
    const m = memo<string>(100)
    await expect(m('k', 0, () => Promise.reject(new Error('store down')))).rejects.toThrow('store down')
    expect(await m('k', 1, () => Promise.resolve('ok'))).toBe('ok')
    let refreshes = 0
    const failing = () => {
      refreshes++
      return Promise.reject(new Error('again'))
    }
    expect(await m('k', 120, failing)).toBe('ok')
    await new Promise((r) => setTimeout(r, 0))
    // The refresh failed: the good answer stays, and the next caller may try again.
    expect(await m('k', 130, failing)).toBe('ok')
    expect(refreshes).toBe(2)
  })
})
