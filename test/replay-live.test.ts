import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildSources } from '../collector/index'
import { KubernetesClusterSource } from '../collector/kubernetes'
import { backfillOnce, buildSimulation } from '../collector/replay/index'
import { startLiveReplay, type LiveReplay } from '../collector/replay/live/driver'
import { traceEndOf, type SimCluster } from '../collector/replay/sim/cluster'
import { kernelState } from '../collector/replay/live/jupyter'
import { sharedFixtures } from './helpers/fixtures'
import { testCluster } from './helpers/testCluster'
import { nodeSamplesAt, podsByNode } from '../collector/replay/sim/samples'
import type { HealthReporter, PollSource, Source } from '../collector/source'
import { configSchema, defaultConfig } from '../config/schema'
import type { Logger } from '../core/ports'
import { createStore, type Store } from '../store/client'
import { migrate } from '../store/migrate'
import { createWriters, type StoreWriters } from '../store/sinks'

// The live replay end to end: a small simulated cluster served on loopback, scraped by
// gpuscope's real collectors (built from config by buildSources), stored in chDB.
// The replay's real clock is the test's own, so virtual time moves only when the test says.
const MIN = 60_000
const T0 = Math.floor(Date.now() / MIN) * MIN - 30 * MIN
const SPEED = 60
const dir = mkdtempSync(join(tmpdir(), 'gpuscope-replay-live-'))
const silent: Logger = { info() {}, warn() {}, error() {}, debug() {} }
const sim = testCluster(T0)
let realMs = 1_000_000
let replay: LiveReplay
let store: Store
let writers: StoreWriters
let sources: Source[]
let k8s: KubernetesClusterSource
const health = (): HealthReporter & { errors: unknown[] } => {
  const h = { errors: [] as unknown[], success() {}, failure: (e: unknown) => void h.errors.push(e) }
  return h
}
const k8sHealth = health()

/** Moves virtual time forward by `virtualMs` and applies the replay's changes. */
function advance(virtualMs: number): void {
  realMs += virtualMs / SPEED
  replay.tick()
}

/** Polls until check passes (bounded: about 10 s of tries); no timing is asserted. */
async function eventually(check: () => Promise<void> | void, tries = 400): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await check()
    } catch (err) {
      if (i >= tries) throw err
      await new Promise((r) => setTimeout(r, 25))
    }
  }
}

const pollSource = (name: string) => sources.find((s): s is PollSource => s.kind === 'poll' && s.name === name) as PollSource
const q = <T>(sql: string) => store.query<T>(sql, { c: sim.name })

beforeAll(async () => {
  const storeConfig = { ...defaultConfig().store, path: dir, writer: { ...defaultConfig().store.writer, flushIntervalMs: 20 } }
  store = await createStore(storeConfig)
  await migrate(store, storeConfig)
  writers = createWriters(store, storeConfig.writer, silent)
  replay = await startLiveReplay(sim, { startMs: T0, speed: SPEED, now: () => realMs, loop: false })
  const overlay = replay.collectorConfig()
  const config = configSchema.parse({ collector: { ...overlay, kubernetes: { ...overlay.kubernetes, backoffBaseMs: 20, backoffMaxMs: 200 } } })
  sources = buildSources(config, { sinks: writers.sinks, query: store.query, logger: silent, now: replay.now })
  k8s = sources.find((s): s is KubernetesClusterSource => s instanceof KubernetesClusterSource) as KubernetesClusterSource
  await k8s.start(k8sHealth)
  await k8s.whenSynced()
})
afterAll(async () => {
  await Promise.all(sources?.filter((s) => s.kind === 'stream').map((s) => s.stop()) ?? [])
  await replay?.stop()
  await writers?.close()
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

interface IntervalRow { pod: string; kind: string; name: string; team: string; user: string; node: string; gpus: number; phase: string; start_ms: number | null; end_ms: number | null }
const INTERVALS = `SELECT pod, workload_kind AS kind, workload_name AS name, team, user, node, gpus, phase,
  toUnixTimestamp64Milli(start_ts) AS start_ms, toUnixTimestamp64Milli(end_ts) AS end_ms
  FROM workload_intervals FINAL WHERE cluster = {c:String} ORDER BY pod`
const intervals = async () => Object.fromEntries((await q<IntervalRow>(INTERVALS)).map((r) => [r.pod, r]))

describe('live replay scraped by the real collectors', () => {
  it('config: the overlay points one cluster, one exporter per node and the notebook template at loopback', () => {
    const overlay = replay.collectorConfig()
    expect(overlay.kubernetes.clusters).toEqual([{ name: 'mini', server: replay.urls.kube, insecureSkipTlsVerify: true }])
    expect(overlay.dcgm.targets?.map((t) => t.node)).toEqual(['dgx-a', 'old-p'])
    expect(sources.map((s) => s.name)).toEqual(['kubernetes/mini', 'dcgm/mini', 'jupyter'])
    expect(k8sHealth.errors).toEqual([])
  })

  it('node_state: the capacity, model and pool of each simulated node', async () => {
    await eventually(async () => {
      const rows = await q<Record<string, unknown>>('SELECT node, capacity_gpus AS gpus, gpu_model AS model, pool, ready FROM node_state WHERE cluster = {c:String} ORDER BY node, ts DESC LIMIT 1 BY node')
      expect(rows).toEqual([
        { node: 'dgx-a', gpus: 4, model: 'Tesla-V100-SXM2-32GB', pool: 'dgx', ready: true },
        { node: 'old-p', gpus: 2, model: 'Tesla-P100-PCIE-16GB', pool: 'legacy', ready: true },
      ])
    })
  })

  it('workload_intervals: running and pending pods, the notebook resolved through its StatefulSet to the Notebook', async () => {
    await eventually(async () => {
      const rows = await intervals()
      expect(Object.keys(rows)).toEqual(['nb-ana-0', 'serve-b-7f9c4-x2x9q', 'short-0', 'train-a-0', 'train-c-0'])
      expect(rows['train-a-0']).toMatchObject({ kind: 'Job', name: 'train-a', team: 'vision', node: 'dgx-a', gpus: 2, phase: 'Running', start_ms: T0 - 59 * MIN, end_ms: null })
      expect(rows['nb-ana-0']).toMatchObject({ kind: 'Notebook', name: 'nb-ana', team: 'vision', user: 'ana', node: 'dgx-a', gpus: 1, phase: 'Running' })
      expect(rows['serve-b-7f9c4-x2x9q']).toMatchObject({ kind: 'Deployment', name: 'serve-b', team: 'nlp', node: 'old-p', phase: 'Running' })
      expect(rows['train-c-0']).toMatchObject({ kind: 'Job', name: 'train-c', node: '', gpus: 4, phase: 'Pending', start_ms: null })
    })
  })

  it('gpu_samples: one row per GPU at the virtual time, attributed to the pod holding it; no DCP metrics on Pascal', async () => {
    const result = await pollSource('dcgm/mini').poll(replay.now(), AbortSignal.timeout(30_000))
    expect(result).toEqual({ rows: 6 })
    await eventually(async () => expect(await q<{ n: number }>('SELECT count() AS n FROM gpu_samples WHERE cluster = {c:String}')).toEqual([{ n: 6 }]))
    const rows = await q<Record<string, unknown>>(
      'SELECT gpu_uuid AS uuid, toUnixTimestamp64Milli(ts) AS ts, namespace, pod, gr_engine_active AS gr, gpu_util AS util FROM gpu_samples WHERE cluster = {c:String} ORDER BY node, gpu_index',
    )
    expect(rows.map((r) => [r.uuid, r.ts, r.namespace, r.pod])).toEqual([
      ['GPU-dgx-a-0', T0, 'vision', 'train-a-0'],
      ['GPU-dgx-a-1', T0, 'vision', 'train-a-0'],
      ['GPU-dgx-a-2', T0, 'vision', 'nb-ana-0'],
      ['GPU-dgx-a-3', T0, 'speech', 'short-0'],
      ['GPU-old-p-0', T0, 'nlp', 'serve-b-7f9c4-x2x9q'],
      ['GPU-old-p-1', T0, '', ''],
    ])
    const byNode = podsByNode(sim.pods)
    const want = sim.nodes.flatMap((n) => nodeSamplesAt(n, byNode.get(n.name) ?? [], T0))
    rows.forEach((r, i) => {
      const w = want[i]
      expect(r.util as number).toBeCloseTo(w?.gpuUtilRatio as number, 5)
      if (w?.grEngineActiveRatio === undefined) expect(r.gr).toBeNull()
      else expect(r.gr as number).toBeCloseTo(w.grEngineActiveRatio, 5)
    })
    expect(rows.some((r) => (r.gr as number) > 0)).toBe(true)
  })

  it('notebook_activity: the idle kernel of the abandoned notebook, with its last activity from the model', async () => {
    const result = await pollSource('jupyter').poll(replay.now(), AbortSignal.timeout(30_000))
    expect(result).toEqual({ rows: 1 })
    const nb = sim.pods.find((p) => p.name === 'nb-ana-0')
    const want = kernelState(nb!, T0)
    expect(want.busy).toBe(false)
    await eventually(async () => {
      const rows = await q<Record<string, unknown>>(
        'SELECT namespace, notebook, execution_state AS state, toUnixTimestamp64Milli(last_activity_ts) AS last, toUnixTimestamp64Milli(ts) AS ts FROM notebook_activity WHERE cluster = {c:String}',
      )
      expect(rows).toEqual([{ namespace: 'vision', notebook: 'nb-ana', state: 'idle', last: want.lastActivityMs, ts: T0 }])
    })
    // Abandoned after its first hour (started at T0 - 3 h): the last cell ran within that hour (activity.ts stamps a minute at :30).
    expect(want.lastActivityMs).toBeGreaterThanOrEqual(T0 - 180 * MIN)
    expect(want.lastActivityMs).toBeLessThanOrEqual(T0 - 120 * MIN + 30_000)
  })

  it('as virtual time passes: a job finishes, a new one queues then binds, and the finished pod is deleted after its TTL', async () => {
    advance(6 * MIN)
    await eventually(async () => {
      const rows = await intervals()
      expect(rows['short-0']).toMatchObject({ phase: 'Succeeded', end_ms: T0 + 5 * MIN })
      expect(rows['late-0']).toMatchObject({ phase: 'Pending', node: '' })
    })
    advance(10 * MIN)
    await eventually(async () => expect((await intervals())['late-0']).toMatchObject({ phase: 'Running', node: 'dgx-a', start_ms: T0 + 7 * MIN }))
    expect(replay.kube.has('pods', 'speech', 'short-0')).toBe(false)
    expect(replay.kube.has('jobs', 'speech', 'short')).toBe(false)
    expect((await intervals())['short-0']).toMatchObject({ end_ms: T0 + 5 * MIN })

    await pollSource('dcgm/mini').poll(replay.now(), AbortSignal.timeout(30_000))
    await eventually(async () => {
      const rows = await q<{ pod: string }>(`SELECT pod FROM gpu_samples WHERE cluster = {c:String} AND gpu_uuid = 'GPU-dgx-a-3' ORDER BY ts`)
      expect(rows.map((r) => r.pod)).toEqual(['short-0', 'late-0'])
    })
    expect(k8sHealth.errors).toEqual([])
  })
})

// The default replay (`npm start`, no cluster configured): the Helios month, backfilled up to the live start,
// then served live. What the backfill left open (idle notebooks, stuck jobs) must stay open in the live part.
describe('default Helios replay: the backfill ends where the live replay goes on', () => {
  const DAY = 24 * 60 * MIN
  const HOUR = 60 * MIN
  const END = Math.floor(Date.now() / MIN) * MIN
  const config = configSchema.parse({ replay: { fixtures: sharedFixtures(), sampleDays: 1, sampleStepMs: HOUR } })
  const started: Array<{ replay: LiveReplay; source?: KubernetesClusterSource }> = []
  let helios: SimCluster
  let heliosRealMs = 0

  interface OpenRow { uid: string; ns: string; pod: string; kind: string; start: number }
  const OPEN_RUNNING = `SELECT pod_uid AS uid, namespace AS ns, pod, workload_kind AS kind, toUnixTimestamp64Milli(start_ts) AS start
    FROM workload_intervals FINAL WHERE cluster = {c:String} AND end_ts IS NULL AND start_ts IS NOT NULL ORDER BY uid`
  const openRunning = async () => store.query<OpenRow>(OPEN_RUNNING, { c: 'helios-earth' })
  const backfillDeps = () => ({ sinks: writers.sinks, query: store.query, logger: silent })
  const runningInApi = (r: LiveReplay) =>
    new Map(r.kube.list('pods').filter((o) => (o.status as { phase?: string }).phase === 'Running').map((o) => [o.metadata.uid as string, o.metadata.name]))

  /** Starts the live replay at the end of `sim`'s history and, when asked, the real Kubernetes collector on it. */
  async function goLive(sim: SimCluster, collect: boolean): Promise<LiveReplay> {
    heliosRealMs = 0
    const r = await startLiveReplay(sim, { startMs: sim.endMs, speed: SPEED, now: () => heliosRealMs })
    const entry: { replay: LiveReplay; source?: KubernetesClusterSource } = { replay: r }
    started.push(entry)
    if (!collect) return r
    const overlay = r.collectorConfig()
    const cfg = configSchema.parse({ collector: { kubernetes: { ...overlay.kubernetes, backoffBaseMs: 20, backoffMaxMs: 200 } } })
    const source = buildSources(cfg, { sinks: writers.sinks, query: store.query, logger: silent, now: r.now }).find((x): x is KubernetesClusterSource => x instanceof KubernetesClusterSource)
    entry.source = source
    await source?.start(health())
    await source?.whenSynced()
    await source?.flush() // the reconcile that closes what the list no longer holds
    await writers.flush()
    return r
  }

  beforeAll(async () => {
    helios = await buildSimulation(config.replay, END, silent)
    await backfillOnce(helios, config, backfillDeps())
    await writers.flush()
  })
  /** Stops the collectors, then the replays, as `gpuscope serve` does on SIGTERM. */
  async function shutdown(): Promise<void> {
    for (const { replay: r, source } of started.splice(0)) {
      await source?.stop()
      await r.stop()
    }
    await writers.flush()
  }
  afterAll(shutdown)

  it('maps the trace end a day after the start: the 30-day history begins where the 31-day month does', () => {
    expect(helios.endMs).toBe(END)
    expect(traceEndOf(helios)).toBe(END + DAY)
    expect(helios.beginMs).toBe(END - 30 * DAY)
  })

  it('keeps the pods open at the backfill end open: the live API serves them running, uid for uid, and the collector leaves them open', async () => {
    const before = await openRunning()
    // The history holds work to flag: notebooks that have run for over a day.
    expect(before.filter((r) => r.kind === 'Notebook' && r.start <= END - DAY).length).toBeGreaterThan(0)
    const r = await goLive(helios, true)
    const live = runningInApi(r)
    expect(before.filter((row) => live.get(row.uid) !== row.pod)).toEqual([])
    const after = new Map((await openRunning()).map((row) => [row.uid, row]))
    expect(before.filter((row) => after.get(row.uid)?.start !== row.start)).toEqual([])
    // An hour on, what the trace keeps running is still running (nothing ended at the start).
    heliosRealMs += HOUR / SPEED
    r.tick()
    const stillRunning = helios.pods.filter((p) => p.startMs !== undefined && p.startMs < END && (p.endMs === undefined || p.endMs > END + HOUR))
    expect(stillRunning.length).toBeGreaterThan(0)
    const liveLater = runningInApi(r)
    expect(stillRunning.filter((p) => !liveLater.has(p.uid)).map((p) => p.name)).toEqual([])
  })

  it('a restart later on the same store doubles no sample, and once its collector has listed, what is open is what its live start serves', async () => {
    await shutdown()
    const restartAt = END + 2 * HOUR
    const again = await buildSimulation(config.replay, restartAt, silent)
    const result = await backfillOnce(again, config, backfillDeps())
    await writers.flush()
    expect(result.gpuSamples).toBe(856 * 2) // only the hours after the last stored sample: END - 1 h .. restartAt
    const [dup] = await store.query<{ rows: number; distinct: number }>(
      `SELECT count() AS rows, uniqExact(gpu_uuid, ts) AS distinct FROM gpu_samples WHERE cluster = {c:String}`, { c: 'helios-earth' })
    expect(dup).toEqual({ rows: 856 * 26, distinct: 856 * 26 })
    const r = await goLive(again, true)
    const live = runningInApi(r)
    const open = (await openRunning()).filter((row) => row.start <= restartAt)
    expect(open.length).toBeGreaterThan(0)
    expect(open.filter((row) => live.get(row.uid) !== row.pod)).toEqual([])
    expect([...live.keys()].filter((uid) => !open.some((row) => row.uid === uid))).toEqual([])
  })
})
