import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeState } from '../../core/model'
import type { BucketGrid, GpuMsRow } from '../../core/usage'
import { openTestStore, type TestStore } from '../../test/helpers/store'
import { capacityCost } from './fleet'
import { capacityBuckets } from './usage'
import { mulberry32 as prng } from '../../collector/replay/sim/random'

// Capacity reads collapse the collector's heartbeat repeats before finding each
// row's successor; these tests hold them to the definition (each node_state row
// holds until the node's next row) computed here row by row, on a history with
// heartbeats, changes inside an hour (and back again), pool moves, a node that
// leaves and returns, and rows long before the window.

const MIN = 60_000
const HOUR = 60 * MIN
const T0 = Date.UTC(2026, 4, 1)
const END = T0 + 3 * 24 * HOUR


/** Node histories as the collector writes them: a row per change and one per node every 5 minutes while it is there. */
function history(): NodeState[] {
  const rand = prng(11)
  const rows: NodeState[] = []
  for (let n = 0; n < 6; n++) {
    const cloud = n >= 4
    let state: NodeState = {
      tsMs: T0, cluster: cloud ? 'burst' : 'dgx', node: `n${n}`, pool: n % 2 ? 'train' : 'infer', gpuModel: n === 3 ? 'A100' : 'H100', provider: cloud ? 'aws' : 'onprem',
      instanceType: cloud ? 'p5.48xlarge' : '', spot: n === 5, capacityGpus: 8, allocatableGpus: 8, ready: true, schedulable: true,
    }
    const changes = new Map<number, Partial<NodeState>>()
    for (let k = 0; k < 14; k++) {
      // Changes off the heartbeat grid, some back within minutes (the same clock hour), some long.
      const at = T0 + Math.floor(rand() * (END - T0 - HOUR) / 1000) * 1000 + 17_000
      const back = at + (rand() < 0.5 ? (1 + Math.floor(rand() * 20)) * MIN : (1 + Math.floor(rand() * 30)) * HOUR)
      const change: Partial<NodeState> = [{ schedulable: false }, { ready: false }, { allocatableGpus: 7 }, { pool: 'moved' }, { capacityGpus: 0, allocatableGpus: 0, ready: false }][k % 5] as Partial<NodeState>
      changes.set(at, change)
      changes.set(back, {})
    }
    const base = { ...state }
    const times = [...changes.keys()].sort((a, b) => a - b)
    let next = 0
    rows.push(state)
    for (let t = T0 + 5 * MIN; t < END; t += 5 * MIN) {
      while (next < times.length && (times[next] as number) < t) {
        const at = times[next++] as number
        state = { ...base, ...changes.get(at), tsMs: at }
        rows.push(state)
      }
      const gone = state.capacityGpus === 0 && !state.ready
      if (!gone) rows.push({ ...state, tsMs: t })
    }
  }
  return rows
}

const ROWS = history()

/** The definition, row by row: GPU-ms per (key, bucket) of [from, min(to, now)). */
function reference(grid: BucketGrid, nowMs: number, key: (r: NodeState) => string): Map<string, number> {
  const out = new Map<string, number>()
  const byNode = new Map<string, NodeState[]>()
  for (const r of ROWS) byNode.set(`${r.cluster}/${r.node}`, [...(byNode.get(`${r.cluster}/${r.node}`) ?? []), r])
  for (const rows of byNode.values()) {
    const sorted = rows.filter((r) => r.tsMs < grid.toMs).sort((a, b) => a.tsMs - b.tsMs)
    sorted.forEach((r, i) => {
      const gpus = r.ready && r.schedulable ? r.allocatableGpus : 0
      const s = Math.max(r.tsMs, grid.fromMs)
      const e = Math.min(sorted[i + 1]?.tsMs ?? Number.MAX_SAFE_INTEGER, grid.toMs, nowMs)
      if (gpus <= 0 || e <= s) return
      for (let b = grid.originMs + Math.floor((s - grid.originMs) / grid.stepMs) * grid.stepMs; b < e; b += grid.stepMs) {
        const k = `${key(r)}|${b}`
        out.set(k, (out.get(k) ?? 0) + gpus * (Math.min(e, b + grid.stepMs) - Math.max(s, b)))
      }
    })
  }
  return out
}

const asMap = (rows: GpuMsRow[]): Map<string, number> => new Map(rows.map((r) => [`${r.group.join('/')}|${r.bucketMs}`, r.gpuMs]))

let t: TestStore
beforeAll(async () => {
  t = await openTestStore()
  // Same-time rows of one node would have no defined order; the history has none.
  expect(new Set(ROWS.map((r) => `${r.node}@${r.tsMs}`)).size).toBe(ROWS.length)
  await t.writers.sinks.nodeState.write(ROWS)
  await t.writers.flush()
})
afterAll(async () => {
  await t?.close()
})

describe('capacity from node_state with heartbeat repeats', () => {
  it.each([
    { name: 'the whole history, hourly, by pool', grid: { fromMs: T0, toMs: END, stepMs: HOUR, originMs: T0 }, nowMs: END, by: 'pool' as const },
    { name: 'a window opening mid-history (the state before it holds into it), by node', grid: { fromMs: T0 + 30 * HOUR + 7 * MIN, toMs: END, stepMs: 15 * MIN, originMs: T0 + 30 * HOUR + 7 * MIN }, nowMs: END, by: 'node' as const },
    { name: 'a window ending before the last rows, in one bucket', grid: { fromMs: T0 + 5 * HOUR, toMs: T0 + 50 * HOUR + 123, stepMs: 46 * HOUR, originMs: T0 + 5 * HOUR }, nowMs: END, by: 'gpuModel' as const },
    { name: 'a window reaching past now (no rows after now), by cluster', grid: { fromMs: T0 + 60 * HOUR, toMs: END + 24 * HOUR, stepMs: 6 * HOUR, originMs: T0 + 60 * HOUR }, nowMs: END + 3 * HOUR, by: 'cluster' as const },
  ])('matches the row-by-row definition: $name', async ({ grid, nowMs, by }) => {
    const key = (r: NodeState) => ({ pool: r.pool, node: r.node, gpuModel: r.gpuModel, cluster: r.cluster })[by]
    const got = await capacityBuckets(t.store.query, { grid, nowMs, groupBy: [by], filters: {} })
    const want = reference(grid, nowMs, key)
    expect(want.size).toBeGreaterThan(1)
    expect(asMap(got)).toEqual(want)
  })

  it('prices the same capacity: GPU-ms per pool and model add up to the definition', async () => {
    const span = { fromMs: T0 + 2 * HOUR, toMs: END - 3 * HOUR, nowMs: END }
    const uses = await capacityCost(t.store.query, span)
    const got = new Map<string, number>()
    for (const u of uses) got.set(`${u.pool}/${u.gpuModel}`, (got.get(`${u.pool}/${u.gpuModel}`) ?? 0) + u.gpuMs)
    const want = new Map<string, number>()
    const grid = { fromMs: span.fromMs, toMs: span.toMs, stepMs: span.toMs - span.fromMs, originMs: span.fromMs }
    for (const [k, v] of reference(grid, span.nowMs, (r) => `${r.pool}/${r.gpuModel}`)) want.set(k.split('|')[0] as string, v)
    expect(got).toEqual(want)
    expect(uses.filter((u) => u.provider === 'aws').every((u) => u.cloudUsdPerGpuHour === null)).toBe(true)
  })
})
