import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jupyterSchema } from '../config/jupyter'
import { defaultConfig } from '../config/schema'
import { UpstreamError } from '../core/errors'
import { jupyterSources, notebookVerdict } from '../collector/jupyter'
import type { CollectorDeps, NotebookTarget, PollResult, PollSource } from '../collector/source'
import { createStore, type Store } from '../store/client'
import { migrate } from '../store/migrate'
import { createWriters, type StoreWriters } from '../store/sinks'
import { jupyterFixtures, startFakeJupyter, type FakeJupyter } from './fakes/jupyter'

// Real Jupyter bodies from a loopback server, into embedded chDB (DESIGN.md: real engines, fakes only for remote APIs).
const dir = mkdtempSync(join(tmpdir(), 'gpuscope-jupyter-'))
const storeConfig = { ...defaultConfig().store, path: dir, writer: { ...defaultConfig().store.writer, flushIntervalMs: 20 } }
const silent = { info() {}, warn() {}, error() {}, debug() {} }
const NOW = Date.now()
const iso = (s: string) => Date.parse(s)

let store: Store
let writers: StoreWriters
let fake: FakeJupyter
let result: PollResult

// The capture with its first kernel running a cell: the same body, one state changed.
const kernelsBusy = JSON.stringify(JSON.parse(jupyterFixtures.kernelsCapture).map((k: Record<string, unknown>, i: number) => (i === 0 ? { ...k, execution_state: 'busy' } : k)))
// Jupyter Server's documented /api/status shape (api.yaml APIStatus); no capture of it exists in the fixtures.
const statusFresh = '{"connections": 0, "kernels": 0, "last_activity": "2023-01-26T09:00:00.123456Z", "started": "2023-01-26T08:00:00.000000Z"}'

const target = (namespace: string, name: string, baseUrl = ''): NotebookTarget => ({ cluster: 'dgx', namespace, name, baseUrl })

function source(config: object, targets: NotebookTarget[]): PollSource {
  const deps: CollectorDeps = { sinks: writers.sinks, query: store.query, logger: silent, now: () => NOW }
  const [s] = jupyterSources(jupyterSchema.parse({ urlTemplate: `${fake.url}/notebook/{namespace}/{name}`, ...config }), () => targets, deps)
  if (!s || s.kind !== 'poll') throw new Error('expected one poll source')
  return s
}

async function stored(notebook?: string): Promise<Record<string, unknown>[]> {
  return store.query(
    `SELECT namespace, notebook, kernel_id, execution_state, toUnixTimestamp64Milli(last_activity_ts) AS last_ms, connections
     FROM notebook_activity WHERE cluster = {c:String} AND ({nb:String} = '' OR notebook = {nb:String}) ORDER BY namespace, notebook, kernel_id`,
    { c: 'dgx', nb: notebook ?? '' },
  )
}

beforeAll(async () => {
  store = await createStore(storeConfig)
  await migrate(store, storeConfig)
  writers = createWriters(store, storeConfig.writer, silent)
  fake = await startFakeJupyter()
  fake.set('vision', 'lab', { kernels: jupyterFixtures.kernelsCapture, sessions: jupyterFixtures.sessionsCapture })
  fake.set('vision', 'proposal', { kernels: jupyterFixtures.kernelsProposal })
  fake.set('nlp', 'training', { kernels: kernelsBusy })
  fake.set('nlp', 'fresh', { kernels: '[]', status: statusFresh })
  fake.set('nlp', 'down', { mode: 'http-error', httpStatus: 503 })
  fake.set('nlp', 'stuck', { mode: 'hang' })
  fake.set('nlp', 'behind-proxy', { mode: 'login-redirect' })
  fake.set('nlp', 'html', { kernels: '<html><body>Sign in</body></html>' })
  const targets = [
    target('vision', 'lab'),
    target('vision', 'proposal', `${fake.url}/notebook/vision/proposal/`),
    ...['training', 'fresh', 'down', 'stuck', 'behind-proxy', 'html'].map((n) => target('nlp', n)),
  ]
  // Generous: only the hanging notebook should reach it, even on a loaded machine.
  result = await source({ timeoutMs: 1_500, concurrency: 2 }, targets).poll(NOW, new AbortController().signal)
})

afterAll(async () => {
  await fake?.close()
  await writers?.close()
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('jupyter source against a loopback Jupyter server, into chDB', () => {
  it('stores one row per kernel from the real captures, and one status row for a notebook without kernels', async () => {
    expect(result.rows).toBe(6)
    expect(await stored()).toEqual([
      { namespace: 'nlp', notebook: 'fresh', kernel_id: '', execution_state: '', last_ms: iso('2023-01-26T09:00:00.123Z'), connections: 0 },
      { namespace: 'nlp', notebook: 'training', kernel_id: '2de7f000-4f63-4d8b-ad20-4acd0c96edc5', execution_state: 'idle', last_ms: iso('2023-01-26T08:52:45.871Z'), connections: 0 },
      { namespace: 'nlp', notebook: 'training', kernel_id: '60313c3d-224a-4f0b-9278-7e19aee2730d', execution_state: 'busy', last_ms: iso('2023-01-26T08:52:46.226Z'), connections: 0 },
      { namespace: 'vision', notebook: 'lab', kernel_id: '2de7f000-4f63-4d8b-ad20-4acd0c96edc5', execution_state: 'idle', last_ms: iso('2023-01-26T08:52:45.871Z'), connections: 0 },
      { namespace: 'vision', notebook: 'lab', kernel_id: '60313c3d-224a-4f0b-9278-7e19aee2730d', execution_state: 'idle', last_ms: iso('2023-01-26T08:52:46.226Z'), connections: 0 },
      { namespace: 'vision', notebook: 'proposal', kernel_id: '470d0112-6dcd-4df3-9016-8a40fc8864ca', execution_state: 'idle', last_ms: iso('2021-08-30T14:02:56.821Z'), connections: 1 },
    ])
  })

  it('writes no row for a notebook whose server does not answer, and names each one with its reason in the warnings', async () => {
    const warnings = result.warnings ?? []
    expect(warnings).toHaveLength(4)
    expect(warnings).toEqual(expect.arrayContaining([
      expect.stringMatching(/^notebook dgx\/nlp\/down: GET http:\/\/127\.0\.0\.1:\d+\/notebook\/nlp\/down\/api\/kernels: HTTP 503$/),
      expect.stringMatching(/^notebook dgx\/nlp\/stuck: GET .*\/api\/kernels: no answer within 1500 ms$/),
      expect.stringMatching(/^notebook dgx\/nlp\/behind-proxy: GET .*\/api\/kernels: HTTP 302$/),
      expect.stringMatching(/^notebook dgx\/nlp\/html: GET .*\/api\/kernels: body is not JSON$/),
    ]))
    for (const nb of ['down', 'stuck', 'behind-proxy', 'html']) expect(await stored(nb)).toEqual([])
  })

  it('asks /api/status only for the notebook whose kernels give no time', () => {
    expect(fake.calls.filter((c) => c.api === 'status')).toEqual([{ namespace: 'nlp', name: 'fresh', api: 'status' }])
    expect(fake.calls.filter((c) => c.api === 'kernels')).toHaveLength(8)
  })

  it('never has more requests in flight than the configured concurrency', () => {
    expect(fake.maxInFlight()).toBeGreaterThanOrEqual(1)
    expect(fake.maxInFlight()).toBeLessThanOrEqual(2)
  })

  it.each([
    { notebook: 'lab', want: { active: false, lastActivityMs: iso('2023-01-26T08:52:46.226Z') } },
    { notebook: 'proposal', want: { active: false, lastActivityMs: iso('2021-08-30T14:02:56.821Z') } },
    { notebook: 'training', want: { active: true, lastActivityMs: NOW } },
    { notebook: 'fresh', want: { active: false, lastActivityMs: iso('2023-01-26T09:00:00.123Z') } },
  ])('gives the culler verdict for $notebook from its stored rows', async ({ notebook, want }) => {
    const rows = (await stored(notebook)).map((r) => ({ kernelId: r.kernel_id as string, executionState: r.execution_state as string, lastActivityMs: r.last_ms as number }))
    expect(notebookVerdict(rows, NOW)).toEqual(want)
  })

  it('fails the poll, naming the servers, when every notebook fails', async () => {
    const failing = source({ timeoutMs: 1_500 }, [target('nlp', 'down'), target('nlp', 'behind-proxy')])
    const err = await failing.poll(NOW, new AbortController().signal).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UpstreamError)
    expect((err as Error).message).toMatch(/^jupyter: all 2 notebook server\(s\) failed: notebook dgx\/nlp\/down: .*HTTP 503; notebook dgx\/nlp\/behind-proxy: .*HTTP 302$/)
  })

  it('succeeds with no rows when no notebook is running, and builds no source when disabled', async () => {
    expect(await source({}, []).poll(NOW, new AbortController().signal)).toEqual({ rows: 0 })
    const deps: CollectorDeps = { sinks: writers.sinks, query: store.query, logger: silent, now: () => NOW }
    expect(jupyterSources(jupyterSchema.parse({ enabled: false }), () => [target('vision', 'lab')], deps)).toEqual([])
  })

  it('stops at once when the poll is aborted, rather than reporting notebooks as failed', async () => {
    const abort = new AbortController()
    const pending = source({ timeoutMs: 60_000 }, [target('nlp', 'stuck')]).poll(NOW, abort.signal)
    abort.abort(new Error('poll timed out'))
    await expect(pending).rejects.toThrow('poll timed out')
  })
})
