import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { leaderElectionSchema } from '../../config/leader'
import { ConfigError } from '../../core/errors'
import type { Logger } from '../../core/ports'
import { createLeaderElector, type LeaderElector, type LeaseApi, type LeaseRecord, type ObservedLease } from './lease'

// Virtual time (vitest fake timers): the elector's timers and Date.now both run on it, so these tests are deterministic.
const LEASE_MS = 1_200
const RENEW_MS = 800
const RETRY_MS = 150
const NS = 'gpuscope'
const NAME = 'gpuscope-scheduler'

const silent: Logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} }

/** One stored lease with resourceVersion semantics, and every accepted write stamped with virtual time. */
class MemoryLeases {
  lease: ObservedLease | undefined
  private rv = 0
  readonly writes: Array<{ atMs: number; holder: string; transitions: number; rv: string }> = []

  put(record: LeaseRecord): ObservedLease {
    this.lease = { record: { ...record }, resourceVersion: String(++this.rv) }
    this.writes.push({ atMs: Date.now(), holder: record.holderIdentity, transitions: record.leaseTransitions, rv: this.lease.resourceVersion })
    return structuredClone(this.lease)
  }
}

/** 'lostReply': the server stores the write but its answer never arrives (until the caller aborts). */
type Mode = 'ok' | 'fail' | 'hang' | 'lostReply'

/** A client of MemoryLeases whose calls can be made to fail or hang (a partition). */
function client(store: MemoryLeases): LeaseApi & { mode: Mode } {
  const c = {
    mode: 'ok' as Mode,
    call<T>(signal: AbortSignal, fn: () => T): Promise<T> {
      if (c.mode === 'fail') return Promise.reject(new Error('connection reset'))
      if (c.mode === 'hang' || c.mode === 'lostReply') {
        if (c.mode === 'lostReply') fn()
        return new Promise<T>((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }))
      }
      return Promise.resolve().then(fn)
    },
    get: (_ns: string, _n: string, signal: AbortSignal) => c.call(signal, () => (store.lease ? structuredClone(store.lease) : undefined)),
    create: (_ns: string, _n: string, record: LeaseRecord, signal: AbortSignal) =>
      c.call(signal, () => (store.lease ? ({ status: 'conflict' } as const) : ({ status: 'ok', lease: store.put(record) } as const))),
    update: (_ns: string, _n: string, record: LeaseRecord, rv: string, signal: AbortSignal) =>
      c.call(signal, () => {
        if (!store.lease) return { status: 'notFound' } as const
        if (store.lease.resourceVersion !== rv) return { status: 'conflict' } as const
        return { status: 'ok', lease: store.put(record) } as const
      }),
  }
  return c
}

interface Log {
  events: string[]
}

function elector(store: MemoryLeases, identity: string, log: Log, extra: { now?: () => number } = {}) {
  const api = client(store)
  const signals: AbortSignal[] = []
  const e = createLeaderElector({
    api, namespace: NS, name: NAME, identity, logger: silent,
    leaseDurationMs: LEASE_MS, renewDeadlineMs: RENEW_MS, retryPeriodMs: RETRY_MS,
    ...extra,
    onStartedLeading: (signal) => {
      signals.push(signal)
      log.events.push(`${identity} acquired`)
    },
    onStoppedLeading: () => log.events.push(`${identity} lost`),
  })
  return { e, api, signals }
}

const ghost = (renewTimeMs: number): LeaseRecord => ({ holderIdentity: 'ghost', leaseDurationSeconds: 2, acquireTimeMs: renewTimeMs, renewTimeMs, leaseTransitions: 4 })

let running: LeaderElector[] = []
const start = (...es: LeaderElector[]) => {
  running.push(...es)
  for (const e of es) e.start()
}

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2025, 0, 1) })
  vi.spyOn(Math, 'random').mockReturnValue(0)
})
afterEach(async () => {
  await Promise.all(running.map((e) => e.stop({ release: false })))
  running = []
  vi.useRealTimers()
  vi.restoreAllMocks()
})

describe('createLeaderElector', () => {
  it('creates an absent lease, holds it and renews it every retry period', async () => {
    const store = new MemoryLeases()
    const log: Log = { events: [] }
    const a = elector(store, 'a', log)
    start(a.e)
    await vi.advanceTimersByTimeAsync(0)
    expect(a.e.isLeader()).toBe(true)
    expect(store.lease?.record).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 2, leaseTransitions: 0 })
    const acquiredMs = store.lease?.record.acquireTimeMs
    await vi.advanceTimersByTimeAsync(RETRY_MS * 10)
    expect(a.e.isLeader()).toBe(true)
    expect(log.events).toEqual(['a acquired'])
    expect(store.writes.length).toBeGreaterThanOrEqual(10)
    expect(store.lease?.record.acquireTimeMs).toBe(acquiredMs)
    expect(store.lease?.record.renewTimeMs).toBeGreaterThan(acquiredMs ?? Infinity)
    expect(a.e.status()).toEqual({ identity: 'a', isLeader: true, holder: 'a', transitions: 0, lastError: undefined })
  })

  it('never lets a candidate take a lease its holder keeps renewing', async () => {
    const store = new MemoryLeases()
    const log: Log = { events: [] }
    const [a, b, c] = [elector(store, 'a', log), elector(store, 'b', log), elector(store, 'c', log)]
    start(a.e, b.e, c.e)
    for (let i = 0; i < 60; i++) {
      await vi.advanceTimersByTimeAsync(RETRY_MS / 3)
      expect([a, b, c].filter((x) => x.e.isLeader()).length).toBeLessThanOrEqual(1)
    }
    expect(log.events).toHaveLength(1)
    expect(new Set(store.writes.map((w) => w.holder)).size).toBe(1)
    const leader = store.lease?.record.holderIdentity
    for (const x of [a, b, c]) expect(x.e.status().holder).toBe(leader)
  })

  it('takes an abandoned lease only after it saw it unchanged for the lease duration, whatever its timestamps say', async () => {
    const store = new MemoryLeases()
    store.put(ghost(Date.now() - 3_600_000)) // renewed an hour ago by the record's clock
    const log: Log = { events: [] }
    const b = elector(store, 'b', log)
    start(b.e)
    const firstSeenMs = Date.now()
    await vi.advanceTimersByTimeAsync(2_000 - RETRY_MS) // the record's 2 s, less one retry
    expect(b.e.isLeader()).toBe(false)
    expect(b.e.status().holder).toBe('ghost')
    await vi.advanceTimersByTimeAsync(RETRY_MS * 3)
    expect(b.e.isLeader()).toBe(true)
    expect(store.lease?.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 5 })
    expect(store.lease?.record.acquireTimeMs).toBeGreaterThanOrEqual(firstSeenMs + 2_000)
  })

  it('is not fooled by clock skew: a lease renewed from a clock far ahead is still taken once it stops changing', async () => {
    const store = new MemoryLeases()
    store.put(ghost(Date.now() + 3_600_000)) // the old holder's clock ran an hour ahead
    const log: Log = { events: [] }
    const b = elector(store, 'b', log, { now: () => Date.now() - 7_200_000 }) // and ours two hours behind
    start(b.e)
    await vi.advanceTimersByTimeAsync(RETRY_MS * 20)
    expect(b.e.isLeader()).toBe(true)
    expect(log.events).toEqual(['b acquired'])
  })

  it('keeps out a candidate whose clock runs far ahead while the holder renews', async () => {
    const store = new MemoryLeases()
    const log: Log = { events: [] }
    const a = elector(store, 'a', log)
    start(a.e)
    await vi.advanceTimersByTimeAsync(0)
    const b = elector(store, 'b', log, { now: () => Date.now() + 3_600_000 })
    start(b.e)
    await vi.advanceTimersByTimeAsync(LEASE_MS * 5)
    expect(log.events).toEqual(['a acquired'])
    expect(b.e.isLeader()).toBe(false)
  })

  it.each<{ name: string; mode: Mode }>([
    { name: 'fail', mode: 'fail' },
    { name: 'hang', mode: 'hang' },
  ])('steps down before the lease could expire for others when renewals $name', async ({ mode }) => {
    const store = new MemoryLeases()
    const log: Log = { events: [] }
    const a = elector(store, 'a', log)
    start(a.e)
    await vi.advanceTimersByTimeAsync(RETRY_MS * 3)
    expect(a.e.isLeader()).toBe(true)
    a.api.mode = mode
    const lastWriteMs = store.writes.at(-1)?.atMs ?? 0
    let lostAtMs: number | undefined
    for (let i = 0; i < 100 && lostAtMs === undefined; i++) {
      await vi.advanceTimersByTimeAsync(10)
      if (!a.e.isLeader()) lostAtMs = Date.now()
    }
    expect(log.events).toEqual(['a acquired', 'a lost'])
    expect(a.signals[0]?.aborted).toBe(true)
    // Others count the lease duration from when they saw the last write, which is no earlier than when it was stored.
    // (Fake timers: an ordering of two instants on the test's virtual clock, not a measured duration.)
    const steppedDownBeforeExpiry = (lostAtMs ?? Infinity) < lastWriteMs + LEASE_MS
    expect(steppedDownBeforeExpiry, `stepped down at ${lostAtMs}, the lease could expire for others at ${lastWriteMs + LEASE_MS}`).toBe(true)
    expect(a.e.status().lastError).toBeDefined()
  })

  it('a partitioned leader stops before a candidate takes over, and leads again only after winning the lease back', async () => {
    const store = new MemoryLeases()
    const log: Log = { events: [] }
    const a = elector(store, 'a', log)
    start(a.e)
    await vi.advanceTimersByTimeAsync(0)
    const b = elector(store, 'b', log)
    start(b.e)
    await vi.advanceTimersByTimeAsync(RETRY_MS * 4)
    a.api.mode = 'hang'
    for (let i = 0; i < 200 && !b.e.isLeader(); i++) await vi.advanceTimersByTimeAsync(RETRY_MS / 2)
    expect(log.events).toEqual(['a acquired', 'a lost', 'b acquired'])
    a.api.mode = 'ok'
    await vi.advanceTimersByTimeAsync(RETRY_MS * 10)
    expect(a.e.isLeader()).toBe(false)
    expect(a.e.status().holder).toBe('b')
    expect(store.lease?.record.leaseTransitions).toBe(1)
  })

  it('steps down at once when its renewal finds the lease taken by another', async () => {
    const store = new MemoryLeases()
    const log: Log = { events: [] }
    const a = elector(store, 'a', log)
    start(a.e)
    await vi.advanceTimersByTimeAsync(RETRY_MS)
    store.put({ ...ghost(Date.now()), holderIdentity: 'intruder' })
    await vi.advanceTimersByTimeAsync(RETRY_MS)
    expect(log.events).toEqual(['a acquired', 'a lost'])
    expect(a.e.status().holder).toBe('intruder')
  })

  it('on stop stops acting, then releases the lease, so a candidate takes it without waiting for expiry', async () => {
    const store = new MemoryLeases()
    const log: Log = { events: [] }
    const a = elector(store, 'a', log)
    start(a.e)
    await vi.advanceTimersByTimeAsync(0)
    const b = elector(store, 'b', log)
    start(b.e)
    await vi.advanceTimersByTimeAsync(RETRY_MS * 4)
    store.writes.length = 0
    await a.e.stop()
    log.events.push(`store: holder '${store.lease?.record.holderIdentity}'`)
    await vi.advanceTimersByTimeAsync(RETRY_MS * 2) // far less than the lease duration
    expect(log.events).toEqual(['a acquired', 'a lost', "store: holder ''", 'b acquired'])
    expect(store.writes[0]).toMatchObject({ holder: '', transitions: 0 })
    expect(store.lease?.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 })
  })

  it('releases on stop even when the renewal it aborted was stored (its last known version is stale)', async () => {
    const store = new MemoryLeases()
    const log: Log = { events: [] }
    const a = elector(store, 'a', log)
    start(a.e)
    await vi.advanceTimersByTimeAsync(0)
    a.api.mode = 'lostReply'
    await vi.advanceTimersByTimeAsync(RETRY_MS)
    const stored = store.writes.at(-1)!
    expect(stored).toMatchObject({ holder: 'a' })
    a.api.mode = 'ok'
    await a.e.stop()
    expect(store.writes.at(-1)).toMatchObject({ holder: '', transitions: 0 })
    expect(Number(store.writes.at(-1)!.rv)).toBe(Number(stored.rv) + 1)
    expect(a.e.status().holder).toBeUndefined()
    expect(log.events).toEqual(['a acquired', 'a lost'])
  })

  it('does not release a lease another replica took meanwhile', async () => {
    const store = new MemoryLeases()
    const log: Log = { events: [] }
    const a = elector(store, 'a', log)
    start(a.e)
    await vi.advanceTimersByTimeAsync(0)
    a.api.mode = 'hang'
    await vi.advanceTimersByTimeAsync(RETRY_MS)
    store.put({ ...ghost(Date.now()), holderIdentity: 'intruder' })
    a.api.mode = 'ok'
    await a.e.stop()
    expect(store.lease?.record.holderIdentity).toBe('intruder')
    expect(store.writes.at(-1)).toMatchObject({ holder: 'intruder' })
  })

  it('stop({ release: false }) leaves the lease held, as a crash would', async () => {
    const store = new MemoryLeases()
    const log: Log = { events: [] }
    const a = elector(store, 'a', log)
    start(a.e)
    await vi.advanceTimersByTimeAsync(0)
    await a.e.stop({ release: false })
    expect(log.events).toEqual(['a acquired', 'a lost'])
    expect(store.lease?.record.holderIdentity).toBe('a')
  })

  it('clears every timer on stop, even with a request hanging', async () => {
    const store = new MemoryLeases()
    const log: Log = { events: [] }
    const a = elector(store, 'a', log)
    const b = elector(store, 'b', log)
    start(a.e, b.e)
    await vi.advanceTimersByTimeAsync(RETRY_MS * 2)
    b.api.mode = 'hang'
    await vi.advanceTimersByTimeAsync(RETRY_MS * 2)
    await Promise.all([a.e.stop(), b.e.stop()])
    expect(vi.getTimerCount()).toBe(0)
    expect(a.e.isLeader() || b.e.isLeader()).toBe(false)
  })

  it('refuses durations that could let two leaders act', () => {
    const base = { api: client(new MemoryLeases()), namespace: NS, name: NAME, identity: 'a', logger: silent, onStartedLeading: () => {}, onStoppedLeading: () => {} }
    expect(() => createLeaderElector({ ...base, leaseDurationMs: 1_000, renewDeadlineMs: 1_000, retryPeriodMs: 100 })).toThrow(ConfigError)
    expect(() => createLeaderElector({ ...base, leaseDurationMs: 1_000, renewDeadlineMs: 500, retryPeriodMs: 500 })).toThrow(ConfigError)
  })
})

describe('leaderElectionSchema', () => {
  it('defaults to off, with client-go-like durations', () => {
    expect(leaderElectionSchema.parse({})).toEqual({
      enabled: false, namespace: 'gpuscope', leaseName: 'gpuscope-scheduler', identity: '', kubeconfig: '', context: '',
      leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000,
    })
  })

  it.each([
    { name: 'retry period not below the renew deadline', input: { renewDeadlineMs: 2_000 }, path: 'retryPeriodMs', message: 'retryPeriodMs must be less than renewDeadlineMs' },
    { name: 'renew deadline not below the lease duration', input: { leaseDurationMs: 10_000 }, path: 'renewDeadlineMs', message: 'renewDeadlineMs must be less than leaseDurationMs' },
    { name: 'lease shorter than a second', input: { leaseDurationMs: 900, renewDeadlineMs: 500, retryPeriodMs: 100 }, path: 'leaseDurationMs', message: 'must be at least 1000' },
    { name: 'namespace not a DNS label', input: { namespace: 'Gpu_Scope' }, path: 'namespace', message: 'must be a DNS label' },
    { name: 'lease name not a DNS subdomain', input: { leaseName: 'sched/uler' }, path: 'leaseName', message: 'must be a DNS subdomain' },
    { name: 'unknown key', input: { leaseDurationSeconds: 15 }, path: '', message: 'Unrecognized key' },
  ])('rejects $name', ({ input, path, message }) => {
    const r = leaderElectionSchema.safeParse(input)
    expect(r.success).toBe(false)
    const issue = r.error?.issues.find((i) => i.path.join('.') === path)
    expect(issue?.message).toContain(message)
  })
})
