/**
 * Deterministic randomness for the simulated cluster: every draw is a pure
 * function of a key (a pod uid, a minute, a purpose), so a backfill and a live
 * replay of the same trace produce the same numbers, and tests are stable.
 */

/** 32-bit FNV-1a hash of the key parts, then avalanche-mixed (murmur3 finaliser). */
export function hash32(...parts: Array<string | number>): number {
  let h = 0x811c9dc5
  for (const part of parts) {
    const s = String(part)
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i)
      h = Math.imul(h, 0x01000193)
    }
    h ^= 0x7c // separator, so ('ab','c') differs from ('a','bc')
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** A uniform draw in [0, 1) keyed by the parts. */
export const unit = (...parts: Array<string | number>): number => hash32(...parts) / 4_294_967_296

/** A uniform draw in [lo, hi) keyed by the parts. */
export const between = (lo: number, hi: number, ...parts: Array<string | number>): number => lo + (hi - lo) * unit(...parts)

/** A standard normal draw keyed by the parts (Box-Muller on two keyed uniforms). */
export function normal(...parts: Array<string | number>): number {
  const u1 = Math.max(unit(...parts, 'n1'), 1e-12)
  const u2 = unit(...parts, 'n2')
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
}

/** Picks one item by weight, keyed by the parts. */
export function pick<T>(items: ReadonlyArray<readonly [T, number]>, ...parts: Array<string | number>): T {
  const total = items.reduce((n, [, w]) => n + w, 0)
  let r = unit(...parts) * total
  for (const [item, w] of items) {
    r -= w
    if (r < 0) return item
  }
  return (items[items.length - 1] as readonly [T, number])[0]
}

/** Fast integer hash of (seed, n, salt) to [0, 1): for per-minute draws on hot paths, where hashing strings would dominate. */
export function unitN(seed: number, n: number, salt: number): number {
  let h = (seed ^ Math.imul(n | 0, 0x9e3779b1) ^ Math.imul(salt, 0x85ebca77)) >>> 0
  h ^= Math.floor(n / 4_294_967_296) // minutes since epoch fit in 32 bits, but keep larger n distinct
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  h = Math.imul(h, 0x846ca68b)
  h ^= h >>> 16
  return (h >>> 0) / 4_294_967_296
}

/** A standard normal draw from (seed, n, salt), Box-Muller on two integer-keyed uniforms. */
export function normalN(seed: number, n: number, salt: number): number {
  const u1 = Math.max(unitN(seed, n, salt), 1e-12)
  const u2 = unitN(seed, n, salt + 1)
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
}

/** Mulberry32: a small seeded sequence generator for synthetic data (benches, tests): the same seed, the same numbers. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}
