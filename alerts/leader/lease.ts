/**
 * Leader election over a Kubernetes Lease, with client-go's leaderelection
 * semantics. Every retryPeriod a candidate reads the Lease; it takes it only
 * when nobody holds it, or when the record has not changed for the lease
 * duration as measured on this process's own clock from when it last saw the
 * record change (so clock skew between nodes does not matter). Every write is
 * guarded by the resourceVersion, so of two candidates only one wins.
 *
 * The leader renews every retryPeriod. It acts only while its last successful
 * write was sent less than renewDeadline ago (a timer of its own, not the
 * renew loop, enforces it, so a hung request cannot keep it acting): since
 * renewDeadline < leaseDuration and others count the lease duration from when
 * they saw that write, the leader has stopped before anyone else may start.
 * On a graceful stop it stops acting first, then releases the Lease so another
 * replica takes over at once.
 *
 * This module does no IO itself: the Lease API comes in as a port
 * (alerts/leader/kubeLease.ts implements it over @kubernetes/client-node).
 */
import { ConfigError } from '../../core/errors'
import type { Logger } from '../../core/ports'

/** The Lease spec fields the election uses; times are epoch ms on the writer's clock. */
export interface LeaseRecord {
  /** '' when nobody holds the lease (never acquired, or released). */
  holderIdentity: string
  leaseDurationSeconds: number
  acquireTimeMs: number | undefined
  renewTimeMs: number | undefined
  leaseTransitions: number
}

/** A Lease as read from the API: its record and the resourceVersion that guards the next write. */
export interface ObservedLease {
  record: LeaseRecord
  resourceVersion: string
}

/** The result of a guarded write: the stored lease, or why nothing was written (409 or 404). */
export type LeaseWriteResult = { status: 'ok'; lease: ObservedLease } | { status: 'conflict' } | { status: 'notFound' }

/** The three Lease calls the elector makes; transport failures reject, 404 and 409 are results. */
export interface LeaseApi {
  /** The lease, or undefined when it does not exist (404). */
  get(namespace: string, name: string, signal: AbortSignal): Promise<ObservedLease | undefined>
  /** Creates the lease; 'conflict' when it already exists. */
  create(namespace: string, name: string, record: LeaseRecord, signal: AbortSignal): Promise<LeaseWriteResult>
  /** Replaces the lease if its resourceVersion is still `resourceVersion`; 'conflict' when it changed, 'notFound' when it is gone. */
  update(namespace: string, name: string, record: LeaseRecord, resourceVersion: string, signal: AbortSignal): Promise<LeaseWriteResult>
}

/** What the elector needs; durations as in config/leader.ts (retryPeriodMs < renewDeadlineMs < leaseDurationMs). */
export interface LeaderElectorOptions {
  api: LeaseApi
  namespace: string
  name: string
  identity: string
  leaseDurationMs: number
  renewDeadlineMs: number
  retryPeriodMs: number
  logger: Logger
  /** Local clock (epoch ms); only differences between its readings matter. */
  now?: () => number
  /** Called when this replica becomes leader; `signal` aborts the moment leadership is lost. */
  onStartedLeading(signal: AbortSignal): void
  /** Called once after each leadership ends (after `signal` aborted). */
  onStoppedLeading(): void
}

/** A snapshot for /readyz or /metrics. */
export interface LeaderStatus {
  identity: string
  isLeader: boolean
  /** The holder in the last Lease this replica read or wrote; undefined when none was seen or it was free. */
  holder: string | undefined
  /** leaseTransitions of that Lease (0 before any was seen). */
  transitions: number
  /** The last failed attempt's message, cleared by a successful one. */
  lastError: string | undefined
}

/** A running election. */
export interface LeaderElector {
  /** Starts competing (a second call does nothing). */
  start(): void
  /** Stops acting, stops competing, and (unless `release: false`, which simulates a crash) releases a held Lease. */
  stop(options?: { release?: boolean }): Promise<void>
  /** True while this replica may act: it holds the Lease and renewed it within renewDeadline. */
  isLeader(): boolean
  status(): LeaderStatus
}

interface Leading {
  controller: AbortController
  /** Local time after which this replica must not act. */
  deadlineMs: number
  timer: ReturnType<typeof setTimeout>
}

/** The outcome of one attempt: held (with when its write was sent), or not and whether the lease is someone else's now. */
type Attempt = { held: true; sentMs: number } | { held: false; lostToOther: boolean }

class AbortedError extends Error {}

/** Rejects when the signal aborts, so a call that ignores its signal cannot hold the loop. */
function guarded<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(new AbortedError('aborted'))
    const onAbort = () => reject(new AbortedError('aborted'))
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

const unref = (t: ReturnType<typeof setTimeout>) => {
  ;(t as { unref?: () => void }).unref?.()
  return t
}

/** A signal that aborts after ms, or with `parent`; `clear` drops the timer. */
function deadlineSignal(ms: number, parent?: AbortSignal): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController()
  const timer = unref(setTimeout(() => controller.abort(new Error(`no answer within ${ms} ms`)), ms))
  return { signal: parent ? AbortSignal.any([controller.signal, parent]) : controller.signal, clear: () => clearTimeout(timer) }
}

/** Creates an elector; nothing happens until start(). */
export function createLeaderElector(opts: LeaderElectorOptions): LeaderElector {
  if (!(opts.retryPeriodMs < opts.renewDeadlineMs && opts.renewDeadlineMs < opts.leaseDurationMs)) {
    throw new ConfigError([{ path: 'leaderElection', message: 'needs retryPeriodMs < renewDeadlineMs < leaseDurationMs' }])
  }
  const now = opts.now ?? Date.now
  const { api, namespace, name, identity, logger } = opts
  const log = { lease: `${namespace}/${name}`, identity }
  const leaseSeconds = Math.ceil(opts.leaseDurationMs / 1000)
  // Long enough for a slow API server, short enough that a leader whose request hangs gets another try before its deadline.
  const attemptTimeoutMs = Math.max(opts.retryPeriodMs, Math.floor(opts.renewDeadlineMs / 2))

  let observed: ObservedLease | undefined
  let observedAtMs = 0
  let leading: Leading | undefined
  let lastError: string | undefined
  let loop: Promise<void> | undefined
  let stopping: Promise<void> | undefined
  const stopController = new AbortController()

  const observe = (lease: ObservedLease) => {
    if (lease.resourceVersion !== observed?.resourceVersion) observedAtMs = now()
    observed = lease
  }

  /** True when the observed lease is free, ours, or unchanged for its duration on our clock. */
  const mayTake = (lease: ObservedLease): boolean => {
    const holder = lease.record.holderIdentity
    if (holder === '' || holder === identity) return true
    const durationMs = lease.record.leaseDurationSeconds > 0 ? lease.record.leaseDurationSeconds * 1000 : opts.leaseDurationMs
    return now() >= observedAtMs + durationMs
  }

  const write = async (cur: ObservedLease, sentMs: number, signal: AbortSignal): Promise<Attempt> => {
    const renew = cur.record.holderIdentity === identity
    const record: LeaseRecord = renew
      ? { ...cur.record, leaseDurationSeconds: leaseSeconds, renewTimeMs: sentMs }
      : { holderIdentity: identity, leaseDurationSeconds: leaseSeconds, acquireTimeMs: sentMs, renewTimeMs: sentMs, leaseTransitions: cur.record.leaseTransitions + 1 }
    const r = await guarded(api.update(namespace, name, record, cur.resourceVersion, signal), signal)
    if (r.status === 'ok') {
      observe(r.lease)
      return { held: true, sentMs }
    }
    return { held: false, lostToOther: true }
  }

  const attempt = async (signal: AbortSignal): Promise<Attempt> => {
    // Taken before the first request: the deadline counts from the earliest moment the write can have been stored.
    const sentMs = now()
    if (leading && observed?.record.holderIdentity === identity) {
      // Fast path, as client-go: renew against the last version we wrote; on a conflict, read and decide.
      const r = await guarded(api.update(namespace, name, { ...observed.record, renewTimeMs: sentMs }, observed.resourceVersion, signal), signal)
      if (r.status === 'ok') {
        observe(r.lease)
        return { held: true, sentMs }
      }
    }
    const cur = await guarded(api.get(namespace, name, signal), signal)
    if (!cur) {
      const record: LeaseRecord = { holderIdentity: identity, leaseDurationSeconds: leaseSeconds, acquireTimeMs: sentMs, renewTimeMs: sentMs, leaseTransitions: 0 }
      const r = await guarded(api.create(namespace, name, record, signal), signal)
      if (r.status !== 'ok') return { held: false, lostToOther: true }
      observe(r.lease)
      return { held: true, sentMs }
    }
    observe(cur)
    if (!mayTake(cur)) return { held: false, lostToOther: true }
    return write(cur, sentMs, signal)
  }

  const stopLeading = (reason: string) => {
    const l = leading
    if (!l) return
    leading = undefined
    clearTimeout(l.timer)
    l.controller.abort(new Error(`leadership lost: ${reason}`))
    logger[reason === 'stopping' ? 'info' : 'warn']({ ...log, reason }, 'stopped leading')
    try {
      opts.onStoppedLeading()
    } catch (err) {
      logger.error({ ...log, err: (err as Error).message }, 'onStoppedLeading failed')
    }
  }

  const armDeadline = (sentMs: number): boolean => {
    // A renewal that lands after the deadline passed (its timer not yet run) starts a new term rather than extending the old one.
    if (leading && now() >= leading.deadlineMs) stopLeading(`not renewed within ${opts.renewDeadlineMs} ms`)
    const deadlineMs = sentMs + opts.renewDeadlineMs
    const leftMs = deadlineMs - now()
    if (leftMs <= 0) return false
    const timer = unref(setTimeout(() => stopLeading(`not renewed within ${opts.renewDeadlineMs} ms`), leftMs))
    if (leading) {
      clearTimeout(leading.timer)
      leading.timer = timer
      leading.deadlineMs = deadlineMs
      return true
    }
    leading = { controller: new AbortController(), deadlineMs, timer }
    logger.info({ ...log, transitions: observed?.record.leaseTransitions }, 'started leading')
    try {
      opts.onStartedLeading(leading.controller.signal)
    } catch (err) {
      logger.error({ ...log, err: (err as Error).message }, 'onStartedLeading failed')
    }
    return true
  }

  const apply = (a: Attempt) => {
    if (a.held) {
      // A write that took longer than the deadline proves nothing about now: act only after the next one.
      if (!armDeadline(a.sentMs)) stopLeading('renewal answered after the renew deadline')
    } else if (a.lostToOther) {
      stopLeading(`the lease is held by '${observed?.record.holderIdentity ?? '?'}'`)
    }
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const signal = stopController.signal
      if (signal.aborted) return resolve()
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = unref(setTimeout(done, ms))
      signal.addEventListener('abort', done, { once: true })
    })

  const runOnce = async () => {
    const { signal, clear } = deadlineSignal(attemptTimeoutMs, stopController.signal)
    try {
      const a = await attempt(signal)
      lastError = undefined
      if (!stopController.signal.aborted) apply(a)
    } catch (err) {
      if (stopController.signal.aborted) return
      // A failed renewal does not end leadership by itself: the deadline timer does, if no later renewal succeeds.
      lastError = err instanceof AbortedError ? `no answer within ${attemptTimeoutMs} ms` : (err as Error).message
      logger.warn({ ...log, err: lastError, leader: leading !== undefined }, 'lease attempt failed')
    } finally {
      clear()
    }
  }

  const run = async () => {
    while (!stopController.signal.aborted) {
      await runOnce()
      if (stopController.signal.aborted) break
      // Candidates spread their retries a little so they do not hit the API in lock-step.
      await sleep(leading ? opts.retryPeriodMs : Math.round(opts.retryPeriodMs * (1 + Math.random() * 0.2)))
    }
  }

  /**
   * Writes an empty holder. The version we last saw can be stale: stopping aborts a renewal in
   * flight that the server may still have stored. So on a conflict it reads the lease again and
   * releases it only while it is still ours (a few tries; otherwise it expires on its own).
   */
  const release = async () => {
    let cur = observed
    const { signal, clear } = deadlineSignal(attemptTimeoutMs * 2)
    try {
      for (let tries = 0; tries < 3; tries++) {
        if (!cur || cur.record.holderIdentity !== identity) return
        const t = now()
        const record: LeaseRecord = { holderIdentity: '', leaseDurationSeconds: 1, acquireTimeMs: t, renewTimeMs: t, leaseTransitions: cur.record.leaseTransitions }
        const r = await guarded(api.update(namespace, name, record, cur.resourceVersion, signal), signal)
        if (r.status === 'ok') {
          observe(r.lease)
          logger.info(log, 'released the lease')
          return
        }
        cur = await guarded(api.get(namespace, name, signal), signal)
        if (cur) observe(cur)
      }
      logger.info(log, 'lease not released: it kept changing; others take over when it expires')
    } catch (err) {
      logger.warn({ ...log, err: (err as Error).message }, 'lease release failed; others take over when it expires')
    } finally {
      clear()
    }
  }

  return {
    start() {
      if (loop || stopController.signal.aborted) return
      logger.info({ ...log, leaseDurationMs: opts.leaseDurationMs, renewDeadlineMs: opts.renewDeadlineMs, retryPeriodMs: opts.retryPeriodMs }, 'leader election started')
      loop = run()
    },
    stop(options = {}) {
      stopping ??= (async () => {
        stopController.abort(new Error('stopping'))
        await loop
        // Stop acting before the lease is released, so the next leader cannot start while we still act.
        stopLeading('stopping')
        if (options.release !== false && loop) await release()
      })()
      return stopping
    },
    isLeader: () => leading !== undefined && now() < leading.deadlineMs,
    status: () => ({
      identity,
      isLeader: leading !== undefined && now() < leading.deadlineMs,
      holder: observed?.record.holderIdentity || undefined,
      transitions: observed?.record.leaseTransitions ?? 0,
      lastError,
    }),
  }
}
