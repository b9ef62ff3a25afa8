import type { CloudInstance, NodeState, Price, WorkloadInterval } from '../core/model'
import type { Store } from '../store/client'
import type { StoreWriters } from '../store/sinks'
import { secondsSince } from './measure'
import { mulberry32 as prng } from '../collector/replay/sim/random'

/**
 * The `api` bench's synthetic fleet (see bench/api.ts): 125 nodes x 8 GPUs in
 * four pools, node_state rows as the Kubernetes collector writes them, pod
 * intervals over teams, projects and users, and 1-minute utilization rollups
 * built in SQL (INSERT ... SELECT) from per-GPU spans. Deterministic: one
 * seeded PRNG drives the whole build.
 */

export const MIN_MS = 60_000
export const HOUR_MS = 3_600_000
export const DAY_MS = 24 * HOUR_MS

interface Pool {
  name: string
  cluster: string
  nodes: number
  model: string
  provider: string
  instanceType: string
  /** GPU partitions of a node into lanes (pods of one lane follow each other). */
  layouts: number[][]
  profiling: boolean
}

const POOLS: readonly Pool[] = [
  { name: 'h100-train', cluster: 'onprem', nodes: 56, model: 'NVIDIA-H100-80GB-HBM3', provider: 'onprem', instanceType: '', layouts: [[8], [4, 4], [2, 2, 4]], profiling: true },
  { name: 'a100-train', cluster: 'onprem', nodes: 40, model: 'NVIDIA-A100-SXM4-80GB', provider: 'onprem', instanceType: '', layouts: [[1, 1, 2, 4], [2, 2, 2, 2], [4, 4]], profiling: true },
  { name: 'l40s-infer', cluster: 'onprem', nodes: 17, model: 'NVIDIA-L40S', provider: 'onprem', instanceType: '', layouts: [[1, 1, 1, 1, 1, 1, 1, 1]], profiling: false },
  { name: 'burst', cluster: 'aws-burst', nodes: 12, model: 'NVIDIA-H100-80GB-HBM3', provider: 'aws', instanceType: 'p5.48xlarge', layouts: [[8], [4, 4]], profiling: true },
]
const TEAMS = ['nlp', 'vision', 'speech', 'recsys', 'robotics', 'search', 'ads', 'platform', 'research', 'safety', 'bio', 'finance']
const KINDS = ['Job', 'Job', 'Job', 'Notebook', 'RayCluster', 'Deployment']

// ---------------------------------------------------------------- fleet data

interface NodePlan {
  pool: Pool
  node: string
  /** When the node is up (cloud nodes come and go; on-prem ones are up throughout). */
  up: Array<[number, number]>
  changes: NodeState[]
}

/** Node state changes: appearance, cordons, NotReady blips, a lost GPU, cloud nodes leaving and coming back. */
function planNodes(rand: () => number, t0: number, end: number): NodePlan[] {
  const plans: NodePlan[] = []
  for (const pool of POOLS) {
    for (let i = 0; i < pool.nodes; i++) {
      const node = `${pool.name}-${String(i).padStart(3, '0')}`
      const base: NodeState = {
        tsMs: t0, cluster: pool.cluster, node, pool: pool.name, gpuModel: pool.model, provider: pool.provider, instanceType: pool.instanceType,
        spot: pool.provider !== 'onprem' && i % 3 === 0, capacityGpus: 8, allocatableGpus: 8, ready: true, schedulable: true,
      }
      const up: Array<[number, number]> = []
      if (pool.provider === 'onprem') up.push([t0, end])
      else for (let t = t0 + rand() * 2 * DAY_MS; t < end; ) {
        const until = Math.min(end, t + (2 + rand() * 6) * DAY_MS)
        up.push([t, until])
        t = until + (1 + rand() * 3) * DAY_MS
      }
      const changes: NodeState[] = []
      const at = (ms: number, over: Partial<NodeState>) => changes.push({ ...base, ...over, tsMs: Math.round(ms) })
      for (const [from, to] of up) {
        at(from, {})
        const span = to - from
        if (rand() < 0.35) {
          const c = from + rand() * span * 0.9
          at(c, { schedulable: false })
          at(Math.min(to - MIN_MS, c + (2 + rand() * 22) * HOUR_MS), {})
        }
        if (rand() < 0.2) {
          const c = from + rand() * span * 0.9
          at(c, { ready: false })
          at(Math.min(to - MIN_MS, c + (10 + rand() * 30) * MIN_MS), {})
        }
        if (rand() < 0.05) {
          const c = from + rand() * span * 0.5
          at(c, { allocatableGpus: 7 })
          at(Math.min(to - MIN_MS, c + (1 + rand() * 5) * DAY_MS), {})
        }
        if (to < end) at(to, { capacityGpus: 0, allocatableGpus: 0, ready: false, schedulable: false })
      }
      changes.sort((a, b) => a.tsMs - b.tsMs)
      plans.push({ pool, node, up, changes })
    }
  }
  return plans
}

/** node_state as the collector writes it: every change; with heartbeatMs > 0 also every node's current row on each heartbeat while it is there (older collectors). */
function nodeStateRows(plan: NodePlan, t0: number, end: number, heartbeatMs: number): NodeState[] {
  if (heartbeatMs === 0) return [...plan.changes]
  const rows: NodeState[] = []
  let next = 0
  let current: NodeState | undefined
  for (let tick = t0 + heartbeatMs; tick < end; tick += heartbeatMs) {
    while (next < plan.changes.length && (plan.changes[next] as NodeState).tsMs <= tick) {
      current = plan.changes[next++] as NodeState
      rows.push(current)
    }
    // A node that left is out of the informer cache: no heartbeat until it is back.
    if (current && !(current.capacityGpus === 0 && !current.ready)) rows.push({ ...current, tsMs: tick })
  }
  while (next < plan.changes.length) rows.push(plan.changes[next++] as NodeState)
  return rows
}

interface Span {
  cluster: string
  node: string
  gpu_uuid: string
  model: string
  namespace: string
  pod: string
  from_min: number
  to_min: number
  load: number
  prof: number
}

interface Owner {
  team: string
  project: string
  user: string
}

function owners(rand: () => number): Owner[] {
  const out: Owner[] = []
  for (const team of TEAMS) {
    const projects = Array.from({ length: 2 + Math.floor(rand() * 3) }, (_, i) => `${team}-p${i}`)
    const users = Array.from({ length: 8 + Math.floor(rand() * 8) }, (_, i) => `${team}-user${i}`)
    for (let k = 0; k < 10; k++) out.push({ team, project: projects[Math.floor(rand() * projects.length)] as string, user: users[Math.floor(rand() * users.length)] as string })
  }
  return out
}

type NewPod = (o: Owner, p: Partial<WorkloadInterval>) => WorkloadInterval

/** Pod intervals owned by `o` with sequential uids; `p` fills in (or overrides) the rest. */
function podFactory(rand: () => number, end: number): NewPod {
  let seq = 0
  const uid = () => `${(seq++).toString(16).padStart(8, '0')}-${Math.floor(rand() * 0xffffffff).toString(16)}`
  return (o, p) => {
    const kind = KINDS[Math.floor(rand() * KINDS.length)] as string
    const name = `${o.project}-${kind.toLowerCase()}-${seq}`
    return {
      cluster: 'onprem', podUid: uid(), namespace: o.project, pod: `${name}-0`, workloadKind: kind, workloadName: name, team: o.team, project: o.project, user: o.user,
      node: '', gpus: 1, gpuResource: 'nvidia.com/gpu', createdMs: 0, lastSeenMs: end, phase: 'Succeeded', ...p,
    }
  }
}

/** What planning one lane needs: the window, the mean pod cycle, who runs pods, and where the pods and spans go. */
interface LaneContext {
  rand: () => number
  t0: number
  end: number
  cycleMs: number
  people: Owner[]
  newPod: NewPod
  intervals: WorkloadInterval[]
  spans: Span[]
}

/** One lane of a node (its `gpus`): pods back to back with idle gaps over each span the node is up. */
function planLane(ctx: LaneContext, plan: NodePlan, gpus: string[]): void {
  const { rand, t0, end, cycleMs, people, newPod, intervals, spans } = ctx
  const size = gpus.length
  for (const [upFrom, upTo] of plan.up) {
    let t = upFrom === t0 ? t0 - 2 * DAY_MS : upFrom
    let idleFrom = upFrom
    while (t < upTo) {
      const start = t + -Math.log(1 - rand()) * cycleMs * 0.25
      if (start >= upTo) break
      const dur = Math.exp(Math.log(cycleMs * 0.75) - 0.5 + rand() * 1.0 + (rand() - 0.5) * 1.0)
      const stop = start + dur
      const o = people[Math.floor(rand() * people.length)] as Owner
      const running = stop >= upTo && upTo >= end
      const iv = newPod(o, {
        cluster: plan.pool.cluster, node: plan.node, gpus: size, createdMs: Math.round(start - (rand() < 0.1 ? 40 : 2) * MIN_MS * -Math.log(1 - rand())),
        startMs: Math.round(start), phase: running ? 'Running' : rand() < 0.1 ? 'Failed' : 'Succeeded',
        ...(running ? {} : { endMs: Math.round(Math.min(stop, upTo)) }),
      })
      intervals.push(iv)
      const load = rand() < 0.15 ? 0.01 + rand() * 0.03 : iv.workloadKind === 'Notebook' ? 0.05 + rand() * 0.3 : 0.3 + rand() * 0.65
      const s = Math.max(start, t0)
      const e = Math.min(stop, upTo, end)
      for (const gpu of gpus) {
        const base = { cluster: plan.pool.cluster, node: plan.node, gpu_uuid: gpu, model: plan.pool.model, prof: plan.pool.profiling ? 1 : 0 }
        if (s > idleFrom) spans.push({ ...base, namespace: '', pod: '', from_min: Math.floor(idleFrom / MIN_MS), to_min: Math.ceil(s / MIN_MS), load: 0.005 })
        if (e > s) spans.push({ ...base, namespace: iv.namespace, pod: iv.pod, from_min: Math.floor(s / MIN_MS), to_min: Math.ceil(e / MIN_MS), load })
      }
      idleFrom = Math.max(idleFrom, e)
      t = stop
      // A pod that could not be scheduled now and then: pending, then deleted.
      if (rand() < 0.02) {
        const c = start + rand() * HOUR_MS
        if (c < end) intervals.push(newPod(o, { cluster: plan.pool.cluster, gpus: size, createdMs: Math.round(c), endMs: Math.round(Math.min(end, c + (10 + rand() * 110) * MIN_MS)), phase: 'Deleted' }))
      }
    }
    if (upTo > idleFrom) for (const gpu of gpus) spans.push({ cluster: plan.pool.cluster, node: plan.node, gpu_uuid: gpu, model: plan.pool.model, namespace: '', pod: '', from_min: Math.floor(idleFrom / MIN_MS), to_min: Math.ceil(upTo / MIN_MS), load: 0.005, prof: plan.pool.profiling ? 1 : 0 })
  }
}

/** Pods lane by lane (back to back with idle gaps), their GPU spans for the rollups, unschedulable pods and a few pending now. */
function planPods(rand: () => number, plans: NodePlan[], opts: { t0: number; end: number; pods: number }) {
  const { t0, end } = opts
  const people = owners(rand)
  const meanLanes = (p: Pool) => p.layouts.reduce((n, l) => n + l.length, 0) / p.layouts.length
  const lanes = plans.reduce((n, p) => n + meanLanes(p.pool) * (p.up.reduce((ms, [a, b]) => ms + b - a, 0) / (end - t0)), 0)
  const cycleMs = (lanes * (end - t0)) / (opts.pods * 0.97)
  const ctx: LaneContext = { rand, t0, end, cycleMs, people, newPod: podFactory(rand, end), intervals: [], spans: [] }
  for (const plan of plans) {
    const layout = plan.pool.layouts[Math.floor(rand() * plan.pool.layouts.length)] as number[]
    let gpu0 = 0
    for (const size of layout) {
      const gpus = Array.from({ length: size }, (_, g) => `GPU-${plan.node}-${gpu0 + g}`)
      gpu0 += size
      planLane(ctx, plan, gpus)
    }
  }
  for (let k = 0; k < 15; k++) {
    const o = people[Math.floor(rand() * people.length)] as Owner
    ctx.intervals.push(ctx.newPod(o, { gpus: [1, 2, 4, 8][k % 4] as number, createdMs: Math.round(end - rand() * HOUR_MS), phase: 'Pending' }))
  }
  return { intervals: ctx.intervals, spans: ctx.spans }
}

/** One minute-rollup row per GPU and minute of each span: 4 scrapes a minute, activity around the pod's load. */
const MINUTE_ROWS = `
INSERT INTO gpu_samples_1m (ts, cluster, node, gpu_uuid, namespace, pod, model, mig_profile, samples,
  gr_engine_active_sum, gr_engine_active_n, gr_engine_active_max, sm_active_sum, sm_active_n, tensor_active_sum, tensor_active_n,
  dram_active_sum, dram_active_n, gpu_util_sum, gpu_util_n, gpu_util_max, fb_used_bytes_max, power_watts_sum, power_watts_n, temperature_c_max)
SELECT toDateTime(m * 60, 'UTC'), cluster, node, gpu_uuid, namespace, pod, model, '', 4,
  if(prof = 1, 4 * v, 0), if(prof = 1, 4, 0), if(prof = 1, toFloat32(least(1, v + 0.05)), NULL), if(prof = 1, 4 * v * 0.9, 0), if(prof = 1, 4, 0),
  if(prof = 1, 4 * v * 0.5, 0), if(prof = 1, 4, 0), if(prof = 1, 4 * v * 0.4, 0), if(prof = 1, 4, 0),
  4 * least(1, v * 1.1), 4, toFloat32(least(1, v * 1.1 + 0.05)), toUInt64(v * 80e9), 4 * (80 + 600 * v), 4, toFloat32(35 + 40 * v)
FROM (
  SELECT *, m, greatest(0, least(1, load + ((cityHash64(gpu_uuid, m) % 1000) / 1000 - 0.5) * 0.1)) AS v
  FROM bench_spans ARRAY JOIN range(from_min, to_min) AS m
  WHERE cityHash64(node) % {parts:UInt64} = {part:UInt64}
)`

const SPANS_TABLE = `CREATE TABLE IF NOT EXISTS bench_spans
(cluster String, node String, gpu_uuid String, model String, namespace String, pod String, from_min UInt32, to_min UInt32, load Float64, prof UInt8)
ENGINE = MergeTree ORDER BY (cluster, node, gpu_uuid, from_min)`

const META_TABLE = 'CREATE TABLE IF NOT EXISTS bench_meta (end_ms Int64, days UInt32, pods UInt32, built_s Float64) ENGINE = MergeTree ORDER BY end_ms'

async function writeAll<T>(sink: { write(rows: readonly T[]): Promise<void> }, rows: T[], chunk = 100_000): Promise<void> {
  for (let i = 0; i < rows.length; i += chunk) await sink.write(rows.slice(i, i + chunk))
}

/** Builds the fleet into an empty, migrated store. */
export async function build(store: Store, writers: StoreWriters, opts: { endMs: number; days: number; pods: number; nodeHeartbeatMs: number }): Promise<void> {
  const started = process.hrtime.bigint()
  const rand = prng(5)
  const end = opts.endMs
  const t0 = end - opts.days * DAY_MS
  const plans = planNodes(rand, t0, end)
  // All nodes' rows in one write: a write resolves when its rows are stored, and one node's hourly rows alone
  // are fewer than a batch, so writing node by node waited a flush interval per node.
  const stateRows = plans.flatMap((plan) => nodeStateRows(plan, t0, end, opts.nodeHeartbeatMs))
  const nodeRows = stateRows.length
  await writeAll(writers.sinks.nodeState, stateRows)
  const { intervals, spans } = planPods(rand, plans, { t0, end, pods: opts.pods })
  await writeAll(writers.sinks.workloadIntervals, intervals)
  const cloudNodes = plans.filter((p) => p.pool.provider !== 'onprem')
  const instances: CloudInstance[] = cloudNodes.map((p, i) => ({
    tsMs: t0, provider: 'aws', region: 'us-east-1', instanceId: `i-${i.toString(16).padStart(17, '0')}`, instanceType: p.pool.instanceType,
    lifecycle: i % 3 === 0 ? 'spot' : 'on-demand', state: 'running', gpus: 8, gpuModel: p.pool.model, cluster: p.pool.cluster, node: p.node,
  }))
  await writers.sinks.cloudInstances.write(instances)
  const prices: Price[] = [
    { provider: 'aws', region: 'us-east-1', instanceType: 'p5.48xlarge', lifecycle: 'on-demand', gpus: 8, usdPerHour: 98.32, effectiveFromMs: t0 - 30 * DAY_MS },
    { provider: 'aws', region: 'us-east-1', instanceType: 'p5.48xlarge', lifecycle: 'on-demand', gpus: 8, usdPerHour: 55.04, effectiveFromMs: t0 + 40 * DAY_MS },
    ...Array.from({ length: opts.days * 4 }, (_, k): Price => ({
      provider: 'aws', region: 'us-east-1', instanceType: 'p5.48xlarge', lifecycle: 'spot', gpus: 8, usdPerHour: 25 + 10 * rand(), effectiveFromMs: t0 - DAY_MS + k * 6 * HOUR_MS,
    })),
  ]
  await writers.sinks.prices.write(prices)
  await writers.flush()
  process.stderr.write(`api: ${plans.length} nodes, ${nodeRows} node_state rows, ${intervals.length} pod intervals, ${spans.length} GPU spans (${secondsSince(started).toFixed(1)} s)\n`)
  await store.command(SPANS_TABLE)
  for (let i = 0; i < spans.length; i += 50_000) await store.client.insert({ table: 'bench_spans', values: spans.slice(i, i + 50_000), format: 'JSONEachRow' })
  const parts = 10
  for (let part = 0; part < parts; part++) {
    await store.command(MINUTE_ROWS, { parts, part })
    process.stderr.write(`api: minute rollups ${part + 1}/${parts} (${secondsSince(started).toFixed(1)} s)\n`)
  }
  await store.command('DROP TABLE bench_spans')
  await waitForMerges(store)
  const [counts] = await store.query<Record<string, number>>(
    'SELECT (SELECT count() FROM gpu_samples_1m) AS m, (SELECT count() FROM gpu_samples_1h) AS h, (SELECT count() FROM node_state) AS n, (SELECT count() FROM workload_intervals) AS w')
  process.stderr.write(`api: built in ${secondsSince(started).toFixed(1)} s: ${JSON.stringify(counts)}\n`)
  await store.command(META_TABLE)
  await store.command('INSERT INTO bench_meta VALUES ({e:Int64}, {d:UInt32}, {p:UInt32}, {s:Float64})', { e: end, d: opts.days, p: opts.pods, s: secondsSince(started) })
}

/** Background merges compete with the queries for the 2 CPUs: wait (bounded) until none runs. */
async function waitForMerges(store: Store, maxMs = 600_000): Promise<void> {
  const since = Date.now()
  while (Date.now() - since < maxMs) {
    const [r] = await store.query<{ n: number }>('SELECT count() AS n FROM system.merges WHERE database = currentDatabase()')
    if (Number(r?.n ?? 0) === 0) return
    await new Promise((res) => setTimeout(res, 2_000))
  }
  process.stderr.write('api: merges still running after the wait; measuring anyway\n')
}
