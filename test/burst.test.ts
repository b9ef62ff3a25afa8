import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../api/app'
import { setPrincipal } from '../api/auth'
import { createMetrics } from '../api/metrics'
import { signBody } from '../alerts/burst/adapters'
import { BurstController } from '../alerts/burst/controller'
import type { AlertsDeps } from '../alerts/evaluate'
import { configSchema, type Config } from '../config/schema'
import type { GpuSample } from '../core/model'
import { dgxFleet, seedSaturatedPool } from './helpers/burstFleet'
import { openTestStore, silentLogger, type TestStore } from './helpers/store'

// The burst controller against a chDB store and two loopback endpoints: a generic scaling
// webhook (JSON, HMAC-signed) and AWS Auto Scaling speaking the AWS query protocol.
// The fleet: 8 DGX nodes (64 GPUs) fully allocated, 16 GPUs pending since T0-60 min.
const MIN = 60_000
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000
const at = (m: number) => T0 + m * MIN + 30_000
const SECRET = 'hmac-signing-secret'

interface Received { path: string; headers: IncomingMessage['headers']; body: string }
async function recorder(answer: (r: Received) => { status: number; type: string; body: string }): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = []
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const r = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
    received.push(r)
    const a = answer(r)
    res.writeHead(a.status, { 'content-type': a.type })
    res.end(a.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }) }
}

const AWS_OK = '<SetDesiredCapacityResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><ResponseMetadata><RequestId>7c6e177f-f082-11e1-ac58-3714bEXAMPLE</RequestId></ResponseMetadata></SetDesiredCapacityResponse>'

let ts: TestStore
let hook: Awaited<ReturnType<typeof recorder>>
let aws: Awaited<ReturnType<typeof recorder>>

function config(dryRun: boolean): Config {
  return {
    ...configSchema.parse({
      alerts: {
        enabled: true, dryRun,
        burst: {
          enabled: true, dryRun,
          pools: [{
            cluster: 'c1', pool: 'dgx', minPendingGpus: 4, forMs: 10 * MIN, maxBurstGpus: 32, monthlyBudgetUsd: 10_000, cooldownMs: 30 * MIN,
            targets: [
              { name: 'gcp-spot', provider: 'gcp', pool: 'gcp-spot', gpusPerNode: 8, maxNodes: 1, usdPerGpuHour: 1.2, adapter: { type: 'webhook', webhookUrl: `${hook.url}/scale/gcp`, signingSecret: SECRET } },
              { name: 'aws-spot', provider: 'aws', pool: 'aws-spot', gpusPerNode: 8, maxNodes: 4, usdPerGpuHour: 1.5, adapter: { type: 'aws-asg', region: 'us-east-1', autoScalingGroupName: 'gpu-burst-spot', endpoint: aws.url, accessKeyId: 'AKIDTESTKEY', secretAccessKey: 'aws-secret-key', maxAttempts: 1 } },
            ],
          }],
        },
      },
    }),
    store: ts.config.store,
  }
}

function deps(cfg: Config, clock: { now: number }): AlertsDeps {
  return {
    config: cfg, query: ts.store.query, logger: silentLogger, now: () => clock.now,
    sinks: { actions: { write: async (rows) => { const p = ts.writers.sinks.actions.write(rows); await ts.writers.flush(); await p } } },
  }
}

/** Steps a controller once a minute over [fromMin, toMin]; returns the decisions in order. */
async function stepMinutes(c: BurstController, clock: { now: number }, fromMin: number, toMin: number) {
  const out = []
  for (let m = fromMin; m <= toMin; m++) {
    clock.now = at(m)
    out.push(...(await c.step()))
  }
  return out
}

beforeAll(async () => {
  hook = await recorder(() => ({ status: 202, type: 'application/json', body: '{"accepted":true}' }))
  aws = await recorder(() => ({ status: 200, type: 'text/xml', body: AWS_OK }))
  ts = await openTestStore()
  await seedSaturatedPool(ts, dgxFleet(T0))
})

afterAll(async () => {
  await hook?.close()
  await aws?.close()
  await ts?.close()
})

describe('burst controller against loopback scaling endpoints', () => {
  it('in dry-run (the default) decides and audits the scale-out but sends nothing', async () => {
    expect(configSchema.parse({}).alerts.burst.dryRun).toBe(true)
    const clock = { now: 0 }
    const ds = await stepMinutes(new BurstController(deps(config(true), clock)), clock, 0, 10)
    expect(ds.map((d) => d.code)).toEqual([...Array(10).fill('waiting'), 'scale-out'])
    expect(hook.received).toEqual([])
    expect(aws.received).toEqual([])
    const rows = await ts.store.query<{ decision: string; acted: boolean | number; dry_run: boolean | number }>("SELECT decision, acted, dry_run FROM actions FINAL WHERE action = 'burst-scale-out'")
    expect(rows.map((r) => [r.decision, Boolean(r.acted), Boolean(r.dry_run)])).toEqual([['dry-run', false, true]])
  })

  describe('live', () => {
    const clock = { now: 0 }
    let controller: BurstController
    beforeAll(async () => {
      controller = new BurstController(deps(config(false), clock))
      await stepMinutes(controller, clock, 0, 10)
    })

    it('scales out after T minutes through the targets in order: a signed webhook, then AWS SetDesiredCapacity', () => {
      expect(hook.received).toHaveLength(1)
      const [call] = hook.received
      const body = JSON.parse(call?.body ?? '{}')
      expect(body).toMatchObject({ cluster: 'c1', pool: 'dgx', action: 'scale-out', target: 'gcp-spot', fromNodes: 0, toNodes: 1, fromGpus: 0, toGpus: 8, provider: 'gcp', targetPool: 'gcp-spot' })
      expect(call?.headers['x-gpuscope-signature']).toBe(signBody(SECRET, String(call?.headers['x-gpuscope-timestamp']), call?.body ?? ''))
      expect(aws.received).toHaveLength(1)
      expect(Object.fromEntries(new URLSearchParams(aws.received[0]?.body))).toEqual({
        Action: 'SetDesiredCapacity', Version: '2011-01-01', AutoScalingGroupName: 'gpu-burst-spot', DesiredCapacity: '1', HonorCooldown: 'false',
      })
    })

    it('holds during the cooldown although demand is still pending', async () => {
      const ds = await stepMinutes(controller, clock, 11, 39)
      expect(new Set(ds.map((d) => d.code))).toEqual(new Set(['cooldown']))
      expect(hook.received).toHaveLength(1)
      expect(aws.received).toHaveLength(1)
    })

    it('audits the scale-out with the sizes it left and shows it at GET /api/v1/burst', async () => {
      const app = createApp({
        logger: silentLogger, metrics: createMetrics({ writerStats: () => [], collectorHealth: () => [] }), readiness: async () => [], version: 'test',
        routes: { query: ts.store.query, config: config(false), logger: silentLogger, now: () => at(40) },
        auth: (_req, res, next) => { setPrincipal(res, { role: 'viewer', name: 'viewer' }); next() },
      })
      const server = app.listen(0, '127.0.0.1')
      await new Promise<void>((r) => server.once('listening', () => r()))
      try {
        const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/burst`)
        const body = (await res.json()) as any
        expect(res.status).toBe(200)
        const [pool] = body.data.pools
        expect([pool.cluster, pool.pool, pool.bursting, pool.latestDecision.decision]).toEqual(['c1', 'dgx', true, 'cooldown'])
        expect(pool.policy.targets.map((t: any) => [t.name, t.adapter])).toEqual([['gcp-spot', 'webhook'], ['aws-spot', 'aws-asg']])
        const out = body.data.decisions.find((d: any) => d.action === 'burst-scale-out' && !d.dryRun)
        expect([out.decision, out.acted, out.evidence.sizes]).toEqual(['scaled', true, { 'gcp-spot': 8, 'aws-spot': 8 }])
        expect(out.reason).toContain('trigger held 10 min (for 10 min): gcp-spot 0 -> 1 node(s), aws-spot 0 -> 1 node(s)')
        expect(JSON.stringify(body)).not.toMatch(/hmac-signing-secret|aws-secret-key|\/scale\/gcp/)
      } finally {
        await new Promise<void>((r) => server.close(() => r()))
      }
    })
  })
})

describe('reclaim before burst', () => {
  // Cluster c2: 2 DGX nodes fully allocated to 2 jobs whose GPUs have sat at 1% for 100 minutes, 8 GPUs pending.
  beforeAll(async () => {
    await seedSaturatedPool(ts, { t0Ms: T0, cluster: 'c2', namespace: 'lab', team: 'lab', running: [['r-0', 'idle-0'], ['r-1', 'idle-1']], pending: ['wait-c2'] })
    const samples: GpuSample[] = []
    for (let m = -100; m <= 40; m++) {
      for (const [i, node] of ['r-0', 'r-1'].entries()) {
        for (let g = 0; g < 8; g++) {
          samples.push({ tsMs: T0 + m * MIN, cluster: 'c2', node, gpuUuid: `GPU-${node}-${g}`, gpuIndex: g, model: 'NVIDIA H100', migProfile: '', namespace: 'lab', pod: `idle-${i}`, container: 'main', grEngineActiveRatio: 0.01 })
        }
      }
    }
    const s = ts.writers.sinks
    const written = s.gpuSamples.write(samples)
    await ts.writers.flush()
    await written
  })

  const reclaimConfig = (enforce: boolean): Config => {
    const base = config(true)
    const pool = { ...base.alerts.burst.pools[0]!, cluster: 'c2', minPendingGpus: 4, forMs: 5 * MIN }
    return { ...base, alerts: { ...base.alerts, dryRun: !enforce, enforcer: { ...base.alerts.enforcer, enabled: enforce, dryRun: !enforce }, burst: { ...base.alerts.burst, pools: [pool] } } }
  }

  it('holds the burst, names the idle workloads whose GPUs cover the pending demand, and asks a cloud for nothing', async () => {
    const clock = { now: at(0) }
    const c = new BurstController(deps(reclaimConfig(false), clock))
    let reclaims = 0
    c.reclaimNow = async () => { reclaims++ }
    const out = await stepMinutes(c, clock, 0, 8)
    const last = out.at(-1)!
    expect([last.action, last.code]).toEqual(['hold', 'reclaim-first'])
    expect(last.observation.reclaimCandidates?.map((r) => [r.key, r.gpus, r.verdict])).toEqual([['c2/lab/Job/idle-0', 8, 'idle'], ['c2/lab/Job/idle-1', 8, 'idle']])
    expect(out.every((o) => o.results.length === 0)).toBe(true)
    // Enforcement is off: the proposal is audited, nothing is reclaimed.
    expect(reclaims).toBe(0)
    const [row] = await ts.store.query<{ decision: string; evidence: string }>(
      "SELECT decision, evidence FROM actions FINAL WHERE cluster = 'c2' AND workload_kind = 'Pool' AND workload_name = 'dgx' ORDER BY ts DESC LIMIT 1",
    )
    expect(row?.decision).toBe('reclaim-first')
    expect(row?.evidence).toContain('c2/lab/Job/idle-0')
  })

  it('with the enforcer on, runs it at once to reclaim them (its own warning and grace rules apply)', async () => {
    const clock = { now: at(0) }
    const c = new BurstController(deps(reclaimConfig(true), clock))
    let reclaims = 0
    c.reclaimNow = async () => { reclaims++ }
    const out = await stepMinutes(c, clock, 0, 8)
    expect(out.at(-1)?.code).toBe('reclaim-first')
    expect(reclaims).toBeGreaterThan(0)
    // A scheduler that lost its leadership reclaims nothing.
    const lost = new AbortController()
    lost.abort()
    const follower = new BurstController({ ...deps(reclaimConfig(true), clock), leadership: lost.signal })
    let followerReclaims = 0
    follower.reclaimNow = async () => { followerReclaims++ }
    await stepMinutes(follower, clock, 0, 8)
    expect(followerReclaims).toBe(0)
  })
})
