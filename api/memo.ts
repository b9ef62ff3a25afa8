/**
 * Remembers one answer per key for `ttlMs` of the request clock; concurrent
 * requests share one computation, and a failed one is forgotten at once.
 * Stale-while-revalidate: for another `ttlMs` after it expires, a good answer
 * is still served while one refresh runs in the background, so a recompute
 * (1-2 s for /summary on a large fleet) never makes every caller wait. The
 * answer carries its own time (`at`), so a stale one says how old it is.
 */
export function memo<T>(ttlMs: number): (key: string, nowMs: number, compute: () => Promise<T>) => Promise<T> {
  interface Entry { atMs: number; value: Promise<T>; ok: boolean; refreshing: boolean }
  const entries = new Map<string, Entry>()
  const start = (key: string, nowMs: number, compute: () => Promise<T>, install: boolean): Entry => {
    const entry: Entry = { atMs: nowMs, value: compute(), ok: false, refreshing: false }
    if (install) entries.set(key, entry)
    entry.value.then(
      () => {
        entry.ok = true
        entries.set(key, entry)
      },
      () => {
        if (entries.get(key) === entry) entries.delete(key)
      },
    )
    return entry
  }
  return (key, nowMs, compute) => {
    const hit = entries.get(key)
    if (hit && nowMs >= hit.atMs) {
      const age = nowMs - hit.atMs
      if (age < ttlMs) return hit.value
      if (hit.ok && age < 2 * ttlMs) {
        if (!hit.refreshing) {
          hit.refreshing = true
          // A failed refresh leaves the good answer in place, to be retried by the next caller.
          start(key, nowMs, compute, false).value.catch(() => {
            hit.refreshing = false
          })
        }
        return hit.value
      }
    }
    return start(key, nowMs, compute, true).value
  }
}
