import { describe, expect, it } from 'vitest'
import { alertsSchema, type BurstPoolConfig } from '../../config/alerts'
import { stepBurst, type BurstDecision, type PoolObservation, type PoolState } from './policy'

const MIN = 60_000
const T0 = Date.UTC(2025, 5, 1, 12)

/** A pool of 64 on-prem GPUs: trigger at 100% allocated and >= 4 GPUs pending for 10 min; three targets, spot first. */
function pool(over: Partial<BurstPoolConfig> = {}): BurstPoolConfig {
  const target = (name: string, provider: string, lifecycle: 'spot' | 'on-demand', maxNodes: number, usdPerGpuHour: number) => ({
    name, provider, lifecycle, pool: `${name}-pool`, gpusPerNode: 8, maxNodes, usdPerGpuHour, adapter: { type: 'webhook', webhookUrl: 'https://hooks.example/scale' },
  })
  const parsed = alertsSchema.parse({
    burst: {
      pools: [{
        cluster: 'c1', pool: 'dgx', minPendingGpus: 4, forMs: 10 * MIN, maxBurstGpus: 48, monthlyBudgetUsd: 10_000, cooldownMs: 30 * MIN, scaleInAfterMs: 20 * MIN,
        targets: [target('gcp-spot', 'gcp', 'spot', 2, 1), target('aws-spot', 'aws', 'spot', 4, 1.5), target('aws-od', 'aws', 'on-demand', 4, 4)],
        ...over,
      }],
    },
  })
  return parsed.burst.pools[0] as BurstPoolConfig
}

interface Obs { capacity?: number; allocated?: number; pending?: number; burst?: Record<string, number>; burstAllocated?: number; spent?: number; lastScaleMs?: number; idle?: number }
const observe = (atMs: number, o: Obs = {}): PoolObservation => ({
  nowMs: atMs, capacityGpus: o.capacity ?? 64, allocatedGpus: o.allocated ?? 64, pendingGpus: o.pending ?? 8, lastScaleMs: o.lastScaleMs, idleAllocatedGpus: o.idle,
  targets: ['gcp-spot', 'aws-spot', 'aws-od'].map((name, i) => ({ name, gpus: o.burst?.[name] ?? 0, allocatedGpus: i === 0 ? (o.burstAllocated ?? 0) : 0, spentUsd: i === 0 ? (o.spent ?? 0) : 0 })),
})

/** Steps the policy once a minute over `minutes` with the observation of each minute; returns every decision. */
function run(p: BurstPoolConfig, minutes: number, obs: (minute: number) => Obs): BurstDecision[] {
  let state: PoolState = {}
  const out: BurstDecision[] = []
  for (let m = 0; m <= minutes; m++) {
    const step = stepBurst(p, state, observe(T0 + m * MIN, obs(m)))
    state = step.state
    out.push(step.decision)
  }
  return out
}

const actions = (ds: BurstDecision[]) => ds.map((d) => d.action)

describe('burst policy: the trigger', () => {
  it.each([
    { name: 'pending below N for two hours', obs: () => ({ pending: 3 }) },
    { name: 'allocation below the threshold with large pending', obs: () => ({ allocated: 60, pending: 40 }) },
    { name: 'pending >= N for 9 minutes, then gone', obs: (m: number) => ({ pending: m < 9 ? 8 : 0 }) },
    { name: 'pending >= N interrupted every 9 minutes', obs: (m: number) => ({ pending: m % 9 === 8 ? 0 : 8 }) },
  ])('never scales out: $name', ({ obs }) => {
    const ds = run(pool(), 120, obs)
    expect(actions(ds).filter((a) => a === 'scale-out')).toEqual([])
  })

  it('scales out once the trigger has held for T minutes, and says why before that', () => {
    const ds = run(pool(), 10, () => ({}))
    expect(ds.slice(0, 10).map((d) => d.code)).toEqual(Array(10).fill('waiting'))
    expect(ds[9]?.reasons).toEqual(['on-prem 64/64 GPUs allocated (threshold 100%), 8 GPU(s) pending (trigger >= 4), 0 burst GPU(s)', 'trigger held 9 min of 10 min'])
    expect(ds[10]?.action).toBe('scale-out')
  })
})

describe('burst policy: sizing, order, caps', () => {
  it.each([
    { name: 'the first target takes what it can, in whole nodes', pending: 8, want: [['gcp-spot', 0, 1]] },
    { name: 'provider order: spot targets fill before on-demand', pending: 40, want: [['gcp-spot', 0, 2], ['aws-spot', 0, 3]] },
    { name: 'maxBurstGpus caps the total', pending: 100, want: [['gcp-spot', 0, 2], ['aws-spot', 0, 4]] },
  ])('$name', ({ pending, want }) => {
    const d = run(pool(), 10, () => ({ pending }))[10] as BurstDecision
    expect(d.changes.map((c) => [c.target, c.fromNodes, c.toNodes])).toEqual(want)
  })

  it('skips a full target and goes on to the next in order', () => {
    const d = run(pool(), 10, () => ({ pending: 8, burst: { 'gcp-spot': 16 }, burstAllocated: 16 }))[10] as BurstDecision
    expect(d.changes.map((c) => [c.target, c.fromNodes, c.toNodes])).toEqual([['aws-spot', 0, 1]])
    expect(d.reasons).toContain('gcp-spot: no room (2/2 nodes, 32 GPU(s) left under maxBurstGpus 48)')
  })

  it('holds at maxBurstGpus', () => {
    const d = run(pool(), 10, () => ({ burst: { 'gcp-spot': 16, 'aws-spot': 32 }, burstAllocated: 16 }))[10] as BurstDecision
    expect([d.action, d.code]).toEqual(['hold', 'max-burst'])
  })
})

describe('burst policy: budget and cooldown hold', () => {
  it('holds when this month\'s spend leaves no room for one more node over the lookahead', () => {
    const d = run(pool({ monthlyBudgetUsd: 1_000 }), 10, () => ({ spent: 995 }))[10] as BurstDecision
    expect([d.action, d.code]).toEqual(['hold', 'budget'])
    expect(d.reasons.join('; ')).toContain('gcp-spot: 1 node(s) would exceed the monthly budget $1000.00 (spent $995.00')
  })

  it('buys only the nodes the budget allows', () => {
    // $1000 budget, $980 spent, 1 h lookahead: a gcp-spot node costs $8/h, so two fit; aws-spot at $12/h per node then has $4 left: none.
    const d = run(pool({ monthlyBudgetUsd: 1_000 }), 10, () => ({ pending: 40, spent: 980 }))[10] as BurstDecision
    expect(d.changes.map((c) => [c.target, c.toNodes])).toEqual([['gcp-spot', 2]])
  })

  it('holds within the cooldown of the last scaling, then scales', () => {
    const ds = run(pool(), 40, () => ({ lastScaleMs: T0 - 5 * MIN }))
    expect(ds.slice(10, 25).every((d) => d.code === 'cooldown')).toBe(true)
    expect(ds[25]?.action).toBe('scale-out') // 30 min after the last scaling
    expect(ds[24]?.reasons[1]).toBe('cooldown: last scaled 29 min ago (cooldown 30 min)')
  })

  it('holds to reclaim idle allocated GPUs first when asked', () => {
    const d = run(pool({ reclaimFirst: true }), 10, () => ({ pending: 8, idle: 8 }))[10] as BurstDecision
    expect([d.action, d.code]).toEqual(['hold', 'reclaim-first'])
  })
})

describe('burst policy: scale-in', () => {
  it('scales in (most expensive target first) once nothing is pending, on-prem has room and the burst nodes are idle for the configured time', () => {
    const ds = run(pool(), 25, () => ({ allocated: 60, pending: 0, burst: { 'gcp-spot': 16, 'aws-od': 8 } }))
    expect(ds.slice(0, 20).every((d) => d.code === 'draining')).toBe(true)
    expect(ds[20]?.changes.map((c) => [c.target, c.fromNodes, c.toNodes])).toEqual([['aws-od', 1, 0], ['gcp-spot', 2, 0]])
  })

  it('keeps burst nodes that hold GPU work', () => {
    const ds = run(pool(), 60, () => ({ allocated: 60, pending: 0, burst: { 'gcp-spot': 16 }, burstAllocated: 8 }))
    expect(actions(ds).every((a) => a === 'hold')).toBe(true)
  })
})
