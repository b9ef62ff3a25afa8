import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registerWhatifCommand } from '../cli/whatif'
import type { GpuSample, NodeState, NotebookActivity, WorkloadInterval } from '../core/model'
import { backfillHelios, startTestApp, teamHeaderAuth, type TestApp } from './helpers/app'
import { openTestStore, type TestStore } from './helpers/store'

// The policy what-if against a chDB store holding two histories:
// - c1, seeded by hand (answers known): one 7-GPU node, fully allocated until idle-3h ends at
//   T0+4h; idle-3h (2 GPUs) idle from T0+1h; `resumes` idle from T0+1h and active again at
//   T0+2h40; a notebook whose kernel is busy while its GPU does nothing (hung); a job without
//   samples; a 2-GPU pod pending from T0+2h to T0+6h. Window [T0, T0+8h) = the 8 h before END.
// - the Helios Earth replay (856 GPUs), 5-minute samples over its last 26 hours.
// Nothing may be written (the actions table stays empty) and no scaling endpoint is called.
const MIN = 60_000
const HOUR = 60 * MIN
const END = Math.floor(Date.now() / HOUR) * HOUR
const T0 = END - 8 * HOUR
const at = (h: number) => T0 + h * HOUR

let ts: TestStore
let app: TestApp
let hook: { url: string; calls: number; close: () => Promise<void> }
let vcs: string[] = []

interface Spec { name: string; kind?: string; gpus?: number; startH: number; endH?: number; util?: (h: number) => number; kernelBusy?: boolean }
const FLEET: Spec[] = [
  { name: 'idle-3h', gpus: 2, startH: -2, endH: 4, util: (h) => (h < 1 ? 0.5 : 0) },
  { name: 'resumes', startH: -2, endH: 6, util: (h) => (h < 1 ? 0.5 : h < 2 + 40 / 60 ? 0 : 0.625) },
  { name: 'busy', startH: -2, util: () => 0.75 },
  { name: 'dip', startH: -2, util: (h) => (h >= 1 && h < 1.75 ? 0 : 0.5) },
  { name: 'nb-hung', kind: 'Notebook', startH: -2, util: () => 0, kernelBusy: true },
  { name: 'no-samples', startH: -2 },
]

function interval(s: Spec): WorkloadInterval {
  return {
    cluster: 'c1', podUid: `uid-${s.name}`, namespace: 'ml', pod: `${s.name}-0`, workloadKind: s.kind ?? 'Job', workloadName: s.name, team: 'ml', project: 'p', user: 'ana',
    node: 'n1', gpus: s.gpus ?? 1, gpuResource: 'nvidia.com/gpu', createdMs: at(s.startH), startMs: at(s.startH), endMs: s.endH === undefined ? undefined : at(s.endH),
    lastSeenMs: s.endH === undefined ? END : at(s.endH), phase: s.endH === undefined ? 'Running' : 'Succeeded',
  }
}

function samples(s: Spec): GpuSample[] {
  const out: GpuSample[] = []
  if (!s.util) return out
  for (let m = at(s.startH); m < Math.min(at(s.endH ?? 8), END); m += MIN) {
    const v = s.util((m - T0) / HOUR)
    for (let g = 0; g < (s.gpus ?? 1); g++) {
      out.push({
        tsMs: m + 15_000, cluster: 'c1', node: 'n1', gpuUuid: `GPU-${s.name}-${g}`, gpuIndex: g, model: 'NVIDIA H100 80GB HBM3', migProfile: '',
        namespace: 'ml', pod: `${s.name}-0`, container: 'main', grEngineActiveRatio: v, gpuUtilRatio: v, fbUsedBytes: 1e9, fbFreeBytes: 7e10,
      })
    }
  }
  return out
}

function polls(s: Spec): NotebookActivity[] {
  if (s.kernelBusy === undefined) return []
  const out: NotebookActivity[] = []
  for (let t = at(s.startH); t < END; t += 5 * MIN) out.push({ tsMs: t, cluster: 'c1', namespace: 'ml', notebook: s.name, kernelId: 'k1', executionState: 'busy', lastActivityMs: t, connections: 1 })
  return out
}

async function seedC1(): Promise<void> {
  const node: NodeState = { tsMs: at(-3), cluster: 'c1', node: 'n1', pool: 'dgx', gpuModel: 'H100', provider: 'onprem', instanceType: 'dgx-h100', spot: false, capacityGpus: 7, allocatableGpus: 7, ready: true, schedulable: true }
  const waiting: WorkloadInterval = {
    cluster: 'c1', podUid: 'uid-waiting', namespace: 'ml', pod: 'waiting-0', workloadKind: 'Job', workloadName: 'waiting', team: 'ml', project: 'p', user: 'bo', node: '', gpus: 2,
    gpuResource: 'nvidia.com/gpu', createdMs: at(2), startMs: undefined, endMs: at(6), lastSeenMs: at(6), phase: 'Failed',
  }
  const s = ts.writers.sinks
  const written = Promise.all([
    s.nodeState.write([node]), s.workloadIntervals.write([...FLEET.map(interval), waiting]),
    s.gpuSamples.write(FLEET.flatMap(samples)), s.notebookActivity.write(FLEET.flatMap(polls)),
  ])
  await ts.writers.flush()
  await written
}

const target = (name: string, pool: string, gpusPerNode: number) => ({ name, provider: 'aws', pool, gpusPerNode, maxNodes: 8, usdPerGpuHour: 2, adapter: { type: 'webhook', webhookUrl: `${hook.url}/scale`, signingSecret: 'hmac-secret-never-shown' } })
// reclaimFirst off: this pool shows what reclaiming by the idle policy saves the burst, not the burst policy's own hold.
const c1Pool = () => ({ cluster: 'c1', pool: 'dgx', minPendingGpus: 1, forMs: 10 * MIN, maxBurstGpus: 8, monthlyBudgetUsd: 10_000, cooldownMs: 30 * MIN, scaleInAfterMs: 30 * MIN, reclaimFirst: false, targets: [target('spot', 'c1-spot', 2)] })
const heliosPools = () => vcs.map((vc) => ({ cluster: 'helios-earth', pool: vc, maxBurstGpus: 64, monthlyBudgetUsd: 100_000, targets: [target(`${vc}-spot`, `${vc}-burst`, 8)] }))
const JOB_POLICY = { jobWindowMs: HOUR, graceMs: 30 * MIN }
const NEVER_STOP = { utilBelow: 0, stuckUtilBelow: 0 }

async function post(body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${app.base}/api/v1/whatif`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

const actionRows = async (): Promise<number> => Number((await ts.store.query<{ n: number }>('SELECT count() AS n FROM actions'))[0]?.n)

beforeAll(async () => {
  const server: Server = createServer((_req, res) => {
    hook.calls++
    res.writeHead(202).end('{}')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  hook = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls: 0, close: () => new Promise((r) => server.close(() => r())) }
  ts = await openTestStore()
  await seedC1()
  const sim = await backfillHelios(ts, END, { sampleStepMs: 5 * MIN, samplesFromMs: END - 26 * HOUR, notebookStepMs: 5 * MIN })
  vcs = [...new Set(sim.nodes.map((n) => n.pool))]
  app = await startTestApp(ts, { now: () => END, auth: teamHeaderAuth({ role: 'admin', name: 'admin' }) })
})

afterAll(async () => {
  await app?.close()
  await hook?.close()
  await ts?.close()
})

describe('POST /api/v1/whatif on a hand-made history (c1)', () => {
  let data: any
  beforeAll(async () => {
    const res = await post({ window: '8h', clusters: ['c1'], idle: JOB_POLICY, burst: { pools: [c1Pool()] } })
    expect(res.status).toBe(200)
    data = res.body.data
  })

  it('stops idle-3h 30 min after warning it at idle + 1 h and reclaims 2 GPUs until its recorded end', () => {
    expect(data.report.window).toEqual({ fromMs: T0, toMs: END, stepMs: 5 * MIN, steps: 96 })
    expect(data.report.stops.find((s: any) => s.name === 'idle-3h')).toMatchObject({ idleSinceMs: at(1), warnedAtMs: at(2), stoppedAtMs: at(2.5), recordedEndMs: at(4), reclaimedGpuHours: 3, falseStop: false })
  })

  it('counts `resumes`, active again 10 min after its stop, as a false stop', () => {
    expect(data.report.stops.find((s: any) => s.name === 'resumes')).toMatchObject({ stoppedAtMs: at(2.5), falseStop: true, resumedAtMs: at(2 + 40 / 60), reclaimedGpuHours: 3.5 })
    expect(data.report.idle).toMatchObject({ stoppedWorkloads: 2, falseStops: 1, warnedWorkloads: 3, blocked: { hung: 1 }, reclaimedGpuHours: 6.5, falseStopReclaimedGpuHours: 3.5 })
    expect(data.report.idle.unknownGpuHours).toBeCloseTo(8, 6)
  })

  it('serves the pending pod with reclaimed GPUs and bursts less than the recorded history needs', () => {
    expect(data.report.demand.pendingGpuHours).toBeCloseTo(8, 6)
    expect(data.report.demand.pendingWaitAvoidedGpuHours).toBeCloseTo(5, 6)
    const [pool] = data.report.burst
    expect(pool.baseline.decisions.map((d: any) => [d.action, (d.atMs - T0) / MIN])).toEqual([['scale-out', 130], ['scale-in', 390]])
    expect(pool.baseline.cloudGpuHours).toBeCloseTo((2 * 260) / 60, 6)
    expect(pool.whatif.decisions.map((d: any) => [d.action, (d.atMs - T0) / MIN])).toEqual([['scale-out', 130], ['scale-in', 180]])
    expect(pool.whatif.costUsd).toBeCloseTo((2 * 2 * 50) / 60, 6)
  })

  it('changes nothing: no audit row written, no scaling endpoint called, no adapter secret in the answer', async () => {
    expect(await actionRows()).toBe(0)
    expect(hook.calls).toBe(0)
    expect(data.recorded).toEqual([])
    expect(data.policy.burstPools[0].targets[0].adapter).toBe('webhook')
    expect(JSON.stringify(data)).not.toMatch(/hmac-secret-never-shown|\/scale/)
  })

  it.each([
    { name: 'an unknown idle field', body: { idle: { graceMinutes: 5 } }, want: 'idle: unknown key(s) \'graceMinutes\'' },
    { name: 'a bad grace period', body: { idle: { graceMs: -1 } }, want: 'idle.graceMs' },
    { name: 'a window too long', body: { window: '400d' }, want: 'window: must be between 1m and 92d' },
    { name: 'a burst pool without targets', body: { burst: { pools: [{ cluster: 'c1', pool: 'dgx', maxBurstGpus: 8, monthlyBudgetUsd: 1, targets: [] }] } }, want: 'burst.pools.0.targets' },
  ])('answers 400 naming the field for $name', async ({ body, want }) => {
    const res = await post(body)
    expect(res.status).toBe(400)
    expect(res.body.status).toBe('error')
    expect(res.body.error.message).toContain(want)
  })

  it('answers 400 to a body that is not JSON, and documents the route in the OpenAPI document', async () => {
    const res = await fetch(`${app.base}/api/v1/whatif`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"window": ' })
    expect(res.status).toBe(400)
    expect(((await res.json()) as any).status).toBe('error')
    const doc = (await (await fetch(`${app.base}/api/v1/openapi.json`)).json()) as any
    expect(doc.paths['/api/v1/whatif'].post.requestBody.content['application/json'].schema.properties).toHaveProperty('idle')
  })

  it('refuses a team token (403): a what-if replays every team', async () => {
    const res = await post({ window: '1h', clusters: ['c1'] }, { 'x-team': 'ml' })
    expect(res.status).toBe(403)
  })
})

describe('what-if on the Helios replay', () => {
  const run = async (idle: Record<string, unknown>) => {
    const res = await post({ window: '12h', clusters: ['helios-earth'], idle, burst: { pools: heliosPools() } })
    expect(res.status).toBe(200)
    return res.body.data
  }

  it('a policy that never stops anything: zero warnings and stops, and every pool bursts as the recorded history makes it', async () => {
    const d = await run(NEVER_STOP)
    expect(d.report.idle).toMatchObject({ warnings: 0, stoppedWorkloads: 0, reclaimedGpuHours: 0 })
    expect(d.report.demand.pendingWaitAvoidedGpuHours).toBe(0)
    // No burst row was recorded by a live controller (recorded is empty), so the recorded numbers are the baseline re-run.
    expect(d.recorded).toEqual([])
    for (const p of d.report.burst) expect(p.whatif).toEqual(p.baseline)
    expect(d.report.burst.some((p: any) => p.baseline.scaleOuts > 0)).toBe(true)
  })

  it('a stricter policy reclaims more than the default and reports its false stops', async () => {
    const dflt = await run({})
    const strict = await run({ notebookWindowMs: 15 * MIN, jobWindowMs: 30 * MIN, holdForMs: 5 * MIN, graceMs: 15 * MIN })
    expect(dflt.report.idle.reclaimedGpuHours).toBeGreaterThan(0)
    expect(strict.report.idle.reclaimedGpuHours).toBeGreaterThan(dflt.report.idle.reclaimedGpuHours)
    for (const d of [dflt, strict]) {
      const stops = d.report.stops
      expect(d.report.idle.falseStops).toBe(stops.filter((s: any) => s.falseStop === true).length)
      expect(d.report.idle.falseStopReclaimedGpuHours).toBeCloseTo(stops.filter((s: any) => s.falseStop === true).reduce((n: number, s: any) => n + s.reclaimedGpuHours, 0), 6)
      // Replayed history times, not measured durations: a false stop resumed inside the grace period.
      for (const s of stops.filter((x: any) => x.falseStop === true)) expect(s.resumedAtMs < s.stoppedAtMs + d.policy.idle.graceMs, `${s.name} resumed within the grace period`).toBe(true)
      expect(d.report.demand.pendingWaitAvoidedGpuHours).toBeLessThanOrEqual(d.report.demand.pendingGpuHours)
    }
    const cloud = (d: any) => d.report.burst.reduce((n: number, p: any) => n + p.whatif.cloudGpuHours, 0)
    expect(cloud(strict)).toBeLessThanOrEqual(cloud(dflt))
    expect(await actionRows()).toBe(0)
    expect(hook.calls).toBe(0)
  })
})

describe('gpuscope whatif', () => {
  it('reads a YAML policy, prints the table, and --json the whole answer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpuscope-whatif-'))
    try {
      const file = join(dir, 'policy.yaml')
      writeFileSync(file, `window: 8h\nclusters: [c1]\nidle:\n  jobWindowMs: ${HOUR}\n  graceMs: ${30 * MIN}\n`)
      const out: string[] = []
      const progress: string[] = []
      const runCli = async (...args: string[]) => {
        const program = new Command().exitOverride()
        registerWhatifCommand(program, () => ({ config: ts.config, file: undefined, envVars: [] }), {
          openStore: async () => ({ ...ts.store, close: async () => {} }), out: (t) => void out.push(t), err: (t) => void progress.push(t), now: () => END,
        })
        await program.parseAsync(['node', 'gpuscope', 'whatif', '--policy', file, ...args])
      }
      await runCli()
      const text = out.join('\n')
      expect(text).toMatch(/workloads stopped\s+2/)
      expect(text).toMatch(/false stops \(not judged: grace past the window\)\s+1 \(0\)/)
      expect(text).toContain('c1/ml/Job/resumes')
      expect(progress.at(-1)).toContain('(100%)')
      out.length = 0
      await runCli('--json')
      expect(JSON.parse(out.join('\n')).report.idle.reclaimedGpuHours).toBe(6.5)
      await expect(runCli('--window', 'soon')).rejects.toThrow(/window/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
