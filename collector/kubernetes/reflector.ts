/**
 * List+watch for one resource, as client-go's reflector does it: list (paged
 * with limit/continue), then watch from the list's resourceVersion, resume
 * each new watch from the last resourceVersion seen (events and bookmarks),
 * relist when the server answers 410 Gone, and back off after errors.
 *
 * Written on the library's Watch rather than its ListWatch because ListWatch
 * stops for good after any non-410 error (no backoff or retry), reports no
 * "list done" moment (needed to close intervals of pods deleted while the
 * collector was down), keys objects by name rather than uid, and lists
 * without paging.
 */
import type { Logger } from '../../core/ports'
import { Backoff, sleep } from './backoff'
import { KubeApiError, statusCodeOf, type KubeApi } from './client'
import type { KubeList, KubeObject, KubeStatus } from './types'

/** What a reflector tells its owner. Handlers run synchronously, in event order. */
export interface ReflectorHandlers<T extends KubeObject> {
  /** After each (re)list: the full current set, the objects gone since the last one (by uid), and when the list began. */
  replace?(items: readonly T[], removed: readonly T[], listedMs: number): void
  added?(obj: T): void
  modified?(obj: T): void
  deleted?(obj: T): void
  /** A list or watch failed (it is retried with backoff). */
  error?(err: unknown): void
}

/** How one reflector runs. */
export interface ReflectorOptions<T extends KubeObject> {
  /** Short name for logs, e.g. `pods`. */
  resource: string
  /** Collection path, e.g. `/api/v1/pods`. */
  path: string
  api: KubeApi
  /** An optional resource (a CRD) may be absent: a 404 empties the cache and is retried every backoff.maxMs. */
  optional?: boolean
  pageSize: number
  watchTimeoutMs: number
  backoff: { baseMs: number; maxMs: number }
  /** Shrinks each cached object to what its handlers read (the cache holds every object of the cluster). */
  transform?: (obj: T) => T
  now: () => number
  logger: Logger
  handlers: ReflectorHandlers<T>
}

type WatchOutcome = { kind: 'closed' | 'idle' | 'gone' | 'stopped'; events: number } | { kind: 'error'; err: unknown; events: number }

/** Objects are keyed like the API keys them; uids tell a recreated namesake apart. */
const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`

/** A list+watch loop with a cache of the current objects. */
export class Reflector<T extends KubeObject> {
  private cache = new Map<string, T>()
  private rv = ''
  private stopped = false
  private readonly abort = new AbortController()
  private readonly backoff: Backoff
  private loop: Promise<void> | undefined
  private cancelWatch: (() => void) | undefined
  private markSynced: () => void = () => {}
  private absentLogged = false
  /** Resolves after the first successful list (or, for an optional resource, once it is found absent). */
  readonly synced: Promise<void>
  /** True while an optional resource's API answers 404. */
  absent = false

  constructor(private readonly opts: ReflectorOptions<T>) {
    this.backoff = new Backoff(opts.backoff.baseMs, opts.backoff.maxMs)
    this.synced = new Promise((resolve) => (this.markSynced = resolve))
  }

  /** The resourceVersion the next watch resumes from ('' = relist first). */
  get resourceVersion(): string {
    return this.rv
  }

  /** Starts listing and watching in the background. */
  start(): void {
    this.loop ??= this.run()
  }

  /** Stops the loop and any open watch. */
  async stop(): Promise<void> {
    this.stopped = true
    this.abort.abort()
    this.cancelWatch?.()
    await this.loop
  }

  /** The cached object with this namespace and name. */
  get(namespace: string, name: string): T | undefined {
    return this.cache.get(`${namespace}/${name}`)
  }

  /** Every cached object. */
  list(): T[] {
    return [...this.cache.values()]
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const relisted = !this.rv
      try {
        if (relisted) await this.relist()
      } catch (err) {
        await this.listFailed(err)
        continue
      }
      const outcome = await this.watchOnce()
      if (outcome.kind === 'gone') {
        this.rv = ''
        // Gone again right after a fresh list: the server is not keeping up; do not relist in a tight loop.
        if (relisted && outcome.events === 0) await this.failed(new KubeApiError('watch expired right after a list', 410), false)
      } else if (outcome.kind === 'error') {
        // A CRD removed while watched: relist, which finds it absent.
        if (this.opts.optional && statusCodeOf(outcome.err) === 404) this.rv = ''
        await this.failed(outcome.err, outcome.events > 0)
      }
      else if (outcome.kind === 'idle') await sleep(this.opts.backoff.baseMs, this.abort.signal)
    }
  }

  private async listFailed(err: unknown): Promise<void> {
    if (this.stopped) return
    if (this.opts.optional && statusCodeOf(err) === 404) return this.markAbsent()
    // Anything else, an expired continue token (410) included, lists again after a backoff.
    await this.failed(err, false)
  }

  private async failed(err: unknown, hadEvents: boolean): Promise<void> {
    if (this.stopped) return
    if (hadEvents) this.backoff.reset()
    const msg = err instanceof Error ? err.message : String(err)
    this.opts.logger.warn({ resource: this.opts.resource, err: msg }, 'kubernetes list/watch failed; retrying')
    this.call(() => this.opts.handlers.error?.(err))
    await sleep(this.backoff.next(), this.abort.signal)
  }

  private async markAbsent(): Promise<void> {
    if (!this.absentLogged) this.opts.logger.info({ resource: this.opts.resource }, 'resource not served by the API (CRD not installed); will check again')
    this.absentLogged = true
    this.absent = true
    this.rv = ''
    if (this.cache.size > 0) this.replaceAll([], this.opts.now())
    this.markSynced()
    await sleep(this.opts.backoff.maxMs, this.abort.signal)
  }

  private async relist(): Promise<void> {
    const listedMs = this.opts.now()
    const items: T[] = []
    let cont = ''
    let rv = ''
    do {
      const query: Record<string, string> = { limit: String(this.opts.pageSize) }
      if (cont) query.continue = cont
      const page = await this.opts.api.getJson<KubeList<T>>(this.opts.path, query, this.abort.signal)
      for (const item of page.items ?? []) items.push(this.shrink(item))
      rv = page.metadata?.resourceVersion ?? rv
      cont = page.metadata?.continue ?? ''
    } while (cont && !this.stopped)
    if (this.stopped) return
    if (this.absent) this.opts.logger.info({ resource: this.opts.resource }, 'resource is served again')
    this.absent = false
    this.absentLogged = false
    this.replaceAll(items, listedMs)
    this.rv = rv
    this.backoff.reset()
    this.markSynced()
  }

  private replaceAll(items: T[], listedMs: number): void {
    const uids = new Set(items.map((o) => o.metadata.uid ?? keyOf(o)))
    const removed = [...this.cache.values()].filter((o) => !uids.has(o.metadata.uid ?? keyOf(o)))
    this.cache = new Map(items.map((o) => [keyOf(o), o]))
    this.call(() => this.opts.handlers.replace?.(items, removed, listedMs))
  }

  private watchOnce(): Promise<WatchOutcome> {
    const timeoutSeconds = Math.max(1, Math.round(this.opts.watchTimeoutMs / 1000))
    const query = { resourceVersion: this.rv, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) }
    return new Promise((resolve) => {
      let events = 0
      let gone = false
      let errorEvent: KubeApiError | undefined
      let controller: AbortController | undefined
      let settled = false
      const finish = (outcome: WatchOutcome) => {
        if (settled) return
        settled = true
        clearTimeout(watchdog)
        this.cancelWatch = undefined
        controller?.abort()
        resolve(outcome)
      }
      // A half-open connection sends nothing forever: give up a while after the server should have closed it.
      const watchdog = setTimeout(() => finish({ kind: 'error', err: new KubeApiError('watch stalled', undefined), events }), (timeoutSeconds + 30) * 1000)
      watchdog.unref()
      this.cancelWatch = () => finish({ kind: 'stopped', events })
      const done = (err: unknown) => {
        if (this.stopped) finish({ kind: 'stopped', events })
        else if (gone || statusCodeOf(err) === 410) finish({ kind: 'gone', events })
        else if (errorEvent ?? err) finish({ kind: 'error', err: errorEvent ?? err, events })
        else finish({ kind: events > 0 ? 'closed' : 'idle', events })
      }
      const onEvent = (type: string, object: unknown) => {
        if (settled) return
        if (type === 'ERROR') {
          const status = object as KubeStatus | undefined
          if (status?.code === 410) gone = true
          else errorEvent = new KubeApiError(`watch ${this.opts.path}: ${status?.message ?? 'error event'}`, status?.code)
          controller?.abort()
          return
        }
        events++
        this.apply(type, object as T)
      }
      this.opts.api.watch(this.opts.path, query, onEvent, done).then(
        (c) => {
          controller = c
          if (settled || gone || errorEvent) c.abort()
        },
        (err: unknown) => done(err),
      )
    })
  }

  private apply(type: string, obj: T): void {
    if (!obj?.metadata) return
    const rv = obj.metadata.resourceVersion
    if (type === 'ADDED' || type === 'MODIFIED') {
      const kept = this.shrink(obj)
      const key = keyOf(kept)
      const known = this.cache.has(key)
      this.cache.set(key, kept)
      this.call(() => (known ? this.opts.handlers.modified?.(kept) : this.opts.handlers.added?.(kept)))
    } else if (type === 'DELETED') {
      const key = keyOf(obj)
      const cached = this.cache.get(key)
      if (!cached || !cached.metadata.uid || cached.metadata.uid === obj.metadata.uid) this.cache.delete(key)
      this.call(() => this.opts.handlers.deleted?.(obj))
    }
    // BOOKMARK carries only a resourceVersion: resume from it.
    if (rv) this.rv = rv
  }

  private shrink(obj: T): T {
    trim(obj)
    return this.opts.transform ? this.opts.transform(obj) : obj
  }

  /** Runs a handler; a bug in one must not stop the watch. */
  private call(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.opts.logger.error({ resource: this.opts.resource, err: err instanceof Error ? err.message : String(err) }, 'kubernetes event handler failed')
    }
  }
}

/** Drops managedFields and kubectl's last-applied copy (often most of an object's size; never read). */
function trim<T extends KubeObject>(obj: T): T {
  delete obj.metadata.managedFields
  delete obj.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']
  return obj
}
