import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildSources } from '../collector/index'
import { KubernetesClusterSource } from '../collector/kubernetes'
import { startLiveReplay, type LiveReplay } from '../collector/replay/live/driver'
import type { SimCluster, SimPod } from '../collector/replay/sim/cluster'
import { HELIOS_EARTH_GPU_TIME_SHARES } from '../collector/replay/sim/fromHelios'
import type { Source } from '../collector/source'
import { configSchema } from '../config/schema'
import { finalStateOf, type ByState } from '../core/finalStates'
import { backfillHelios, getFrom, startTestApp, teamHeaderAuth, type TestApp } from './helpers/app'
import { openTestStore, silentLogger, type TestStore } from './helpers/store'
import { testCluster } from './helpers/testCluster'

// The Helios Earth month backfilled into chDB (ending 2026-07-01), read back through
// GET /api/v1/waste/final-states; then a cancelled pod of a live replay, seen by the real
// Kubernetes collector, lands in the store as Deleted and in the answer as cancelled.
const MIN = 60_000
const HOUR = 60 * MIN
const END = Date.parse('2026-07-01T00:00:00Z')
const iso = (ms: number) => new Date(ms).toISOString()

// Helios summary, Earth: (cancel + fail) / (complete + cancel + fail) GPU-time = 50.06%.
const weight = (s: string) => HELIOS_EARTH_GPU_TIME_SHARES.find(([f]) => f === s)?.[1] ?? 0
const EARTH_FAILED_OR_CANCELLED = (weight('Deleted') + weight('Failed')) / HELIOS_EARTH_GPU_TIME_SHARES.reduce((n, [, w]) => n + w, 0)

let ts: TestStore
let app: TestApp
let sim: SimCluster
let period: string

/** GPU-hours by final state straight from the simulation (the truth the store must give back). */
function simTruth(pods: readonly SimPod[], team?: string): ByState {
  const out: ByState = { succeeded: 0, failed: 0, cancelled: 0, running: 0, unknown: 0 }
  for (const p of pods) {
    if (p.startMs === undefined || (team !== undefined && p.profile.team !== team)) continue
    const end = Math.min(p.endMs ?? END, END)
    if (end <= p.startMs) continue
    out[finalStateOf(p.final, p.endMs !== undefined && p.endMs <= END)] += (p.numGpu * p.share * (end - p.startMs)) / HOUR
  }
  return out
}

beforeAll(async () => {
  ts = await openTestStore()
  sim = await backfillHelios(ts, END)
  period = `${iso(sim.beginMs)},${iso(END)}`
  app = await startTestApp(ts, { now: () => END, auth: teamHeaderAuth({ role: 'viewer', name: 'ops' }) })
}, 300_000)

afterAll(async () => {
  await app?.close()
  await ts?.close()
})

describe('GET /api/v1/waste/final-states over the Helios replay', () => {
  it('gives back the simulation\'s GPU-hours by final state, exactly, from the store', async () => {
    const { status, body } = await getFrom(app.base, `/api/v1/waste/final-states?period=${period}`)
    expect(status).toBe(200)
    const want = simTruth(sim.pods)
    for (const s of ['succeeded', 'failed', 'cancelled', 'running', 'unknown'] as const) expect(body.data.totals.gpuHours[s]).toBeCloseTo(want[s], 3)
    expect(body.data.totals.gpuHours.cancelled).toBeGreaterThan(0)
    expect(body.data.totals.gpuHours.unknown).toBe(0)
    expect(body.data.period).toEqual({ input: period, from: iso(sim.beginMs), to: iso(END) })
  })

  it('shows about half of the ended GPU time went to cancelled or failed jobs, as in the Helios summary', async () => {
    const { body } = await getFrom(app.base, `/api/v1/waste/final-states?period=${period}`)
    const t = body.data.totals
    // Tolerance 1.5 points: final states follow the summary's GPU-time shares by a seeded systematic
    // sample over one month of simulated jobs, exact up to the jobs at the state boundaries; the
    // largest job holds about 1% of the month's ended GPU time.
    expect(t.failedOrCancelledRatio).toBeGreaterThan(EARTH_FAILED_OR_CANCELLED - 0.015)
    expect(t.failedOrCancelledRatio).toBeLessThan(EARTH_FAILED_OR_CANCELLED + 0.015)
    const ended = t.gpuHours.succeeded + t.gpuHours.failed + t.gpuHours.cancelled
    expect(Math.abs(t.gpuHours.cancelled / ended - 0.419)).toBeLessThan(0.015)
    expect(Math.abs(t.gpuHours.failed / ended - 0.082)).toBeLessThan(0.015)
    // Shares are of all GPU-hours (running work included) and add up to 1.
    expect(Object.values(t.shares as Record<string, number>).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9)
  })

  it('groups by team and kind, ranked by failed + cancelled GPU-hours, and lists repeat offenders', async () => {
    const { body } = await getFrom(app.base, `/api/v1/waste/final-states?period=${period}&by=team,kind&top=3`)
    const groups = body.data.groups as Array<{ team: string; kind: string; failedOrCancelledGpuHours: number; totalGpuHours: number }>
    expect(new Set(groups.map((g) => g.kind))).toEqual(new Set(['Job', 'Notebook']))
    for (let i = 1; i < groups.length; i++) expect(groups[i - 1]!.failedOrCancelledGpuHours).toBeGreaterThanOrEqual(groups[i]!.failedOrCancelledGpuHours)
    expect(groups.reduce((n, g) => n + g.totalGpuHours, 0)).toBeCloseTo(body.data.totals.totalGpuHours, 3)
    const offenders = body.data.offenders as Array<{ team: string; user: string; failedPods: number; cancelledPods: number; failedOrCancelledGpuHours: number }>
    expect(offenders).toHaveLength(3)
    for (const o of offenders) expect(o.failedPods + o.cancelledPods).toBeGreaterThanOrEqual(2)
    expect(offenders[0]!.failedOrCancelledGpuHours).toBeGreaterThanOrEqual(offenders[1]!.failedOrCancelledGpuHours)
  })

  it('answers CSV with one line per group', async () => {
    const { status, type, body } = await getFrom(app.base, `/api/v1/waste/final-states?period=${period}&by=kind&format=csv`)
    expect(status).toBe(200)
    expect(type).toMatch(/^text\/csv/)
    const lines = (body as string).trim().split('\n')
    expect(lines[0]).toBe('kind,succeededGpuHours,failedGpuHours,cancelledGpuHours,runningGpuHours,unknownGpuHours,totalGpuHours,failedOrCancelledGpuHours,failedOrCancelledRatio,succeededPods,failedPods,cancelledPods,runningPods,unknownPods')
    expect(lines.slice(1).map((l) => l.split(',')[0]).sort()).toEqual(['Job', 'Notebook'])
  })

  it('confines a team token to its team and refuses another team', async () => {
    const own = await getFrom(app.base, `/api/v1/waste/final-states?period=${period}`, { 'x-team': 'nlp' })
    expect(own.status).toBe(200)
    expect(own.body.data.groups.map((g: { team: string }) => g.team)).toEqual(['nlp'])
    expect(own.body.data.totals.gpuHours.cancelled).toBeCloseTo(simTruth(sim.pods, 'nlp').cancelled, 3)
    expect(own.body.data.offenders.every((o: { team: string }) => o.team === 'nlp')).toBe(true)
    const other = await getFrom(app.base, `/api/v1/waste/final-states?period=${period}&team=vision`, { 'x-team': 'nlp' })
    expect(other.status).toBe(403)
  })

  it('is documented in the OpenAPI document from the schema that validates it', async () => {
    const doc = (await getFrom(app.base, '/api/v1/openapi.json')).body
    expect(doc.paths['/api/v1/waste/final-states'].get.parameters.map((p: { name: string }) => p.name)).toEqual(['period', 'by', 'top', 'team', 'format'])
  })

  it.each([
    { q: 'by=user', message: "bad by 'user': unknown key 'user'; expected team, kind or team,kind" },
    { q: 'period=2026-13', message: /^bad period '2026-13'/ },
    { q: 'period=2026-Q4', message: "period '2026-Q4' starts after now: no GPU-hours yet" },
    { q: 'top=101', message: /^bad query: top: / },
    { q: 'groupBy=team', message: "bad query: unknown parameter(s) 'groupBy'" },
  ])('answers 400 for $q', async ({ q, message }) => {
    const { status, body } = await getFrom(app.base, `/api/v1/waste/final-states?${q}`)
    expect(status).toBe(400)
    expect(body.error.message).toMatch(message)
  })
})

describe('a cancelled pod in the live replay', () => {
  // The mini cluster of test/helpers/testCluster.ts, its Job `short` cancelled at t0 + 5 min
  // instead of succeeding; virtual time is the test's own (now, two months after the Helios month).
  const T0 = END + 60 * 24 * HOUR
  const SPEED = 60
  let realMs = 1_000_000
  let replay: LiveReplay
  let sources: Source[] = []

  afterAll(async () => {
    await Promise.all(sources.filter((s) => s.kind === 'stream').map((s) => s.stop()))
    await replay?.stop()
  })

  it('is deleted from the API, recorded Deleted by the real collector, and counted as cancelled', async () => {
    const mini = testCluster(T0)
    const short = mini.pods.find((p) => p.name === 'short-0') as SimPod
    short.final = 'Deleted'
    replay = await startLiveReplay(mini, { startMs: T0, speed: SPEED, now: () => realMs, loop: false })
    const overlay = replay.collectorConfig()
    const config = configSchema.parse({ collector: { ...overlay, kubernetes: { ...overlay.kubernetes, backoffBaseMs: 20, backoffMaxMs: 200 } } })
    sources = buildSources(config, { sinks: ts.writers.sinks, query: ts.store.query, logger: silentLogger, now: replay.now })
    const k8s = sources.find((s): s is KubernetesClusterSource => s instanceof KubernetesClusterSource) as KubernetesClusterSource
    await k8s.start({ success() {}, failure() {} })
    await k8s.whenSynced()
    expect(replay.kube.has('pods', 'speech', 'short-0')).toBe(true)
    // Past its end, and past the time a finished pod would stay listed.
    realMs += (16 * MIN) / SPEED
    replay.tick()
    expect(replay.kube.has('pods', 'speech', 'short-0')).toBe(false)
    const row = async () => {
      await ts.writers.flush()
      return (await ts.store.query<{ phase: string; end_ms: number | null }>(
        "SELECT phase, toUnixTimestamp64Milli(end_ts) AS end_ms FROM workload_intervals FINAL WHERE cluster = {c:String} AND pod = 'short-0'", { c: mini.name },
      ))[0]
    }
    let got = await row()
    for (let i = 0; i < 400 && got?.phase !== 'Deleted'; i++) {
      await new Promise((r) => setTimeout(r, 25))
      got = await row()
    }
    expect(got).toEqual({ phase: 'Deleted', end_ms: T0 + 5 * MIN })
    const live = await startTestApp(ts, { now: () => T0 + 16 * MIN })
    try {
      const { body } = await getFrom(live.base, `/api/v1/waste/final-states?period=${iso(T0 - HOUR)},${iso(T0 + 16 * MIN)}&team=speech`)
      // short-0 held 1 GPU from t0 − 30 min until it was cancelled at t0 + 5 min.
      expect(body.data.totals.gpuHours.cancelled).toBeCloseTo(35 / 60, 6)
      expect(body.data.totals.pods.cancelled).toBe(1)
    } finally {
      await live.close()
    }
  }, 60_000)
})
