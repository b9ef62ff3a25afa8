import { execFileSync } from 'node:child_process'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { capSeries, OTHER, registerFleetMetrics, type FleetMetrics } from '../api/fleetMetrics'
import type { GpuSample, NodeState, NotebookActivity, WorkloadInterval } from '../core/model'
import type { QueryFn } from '../core/ports'
import { openTestStore, silentLogger, type TestStore } from './helpers/store'

const NOW = Date.UTC(2026, 5, 10, 12, 0, 0)
const MIN = 60_000
const HOUR = 60 * MIN
const A100 = 'NVIDIA A100-SXM4-80GB'

const node = (cluster: string, name: string, pool: string, gpuModel: string, allocatableGpus: number, over: Partial<NodeState> = {}): NodeState => ({
  tsMs: NOW - 24 * HOUR, cluster, node: name, pool, gpuModel, provider: 'onprem', instanceType: '', spot: false, capacityGpus: allocatableGpus, allocatableGpus, ready: true, schedulable: true, ...over,
})

/** c1: n1+n2 (a100, 16 GPUs), n3 cordoned, n4 gone since; c2: l4 (4) and t4 (2). */
const NODES: NodeState[] = [
  node('c1', 'n1', 'a100', A100, 8),
  node('c1', 'n2', 'a100', A100, 8),
  node('c1', 'n3', 'h100', 'NVIDIA H100 80GB HBM3', 8, { schedulable: false }),
  node('c1', 'n4', 'a100', A100, 8),
  node('c1', 'n4', 'a100', A100, 0, { tsMs: NOW - HOUR, ready: false }),
  node('c2', 'm1', 'l4', 'NVIDIA L4', 4),
  node('c2', 'm2', 't4', 'Tesla T4', 2),
]

const pod = (podUid: string, name: string, kind: string, team: string, nodeName: string, gpus: number, startMs: number | undefined, endMs?: number): WorkloadInterval => ({
  cluster: 'c1', podUid, namespace: team, pod: `${name}-0`, workloadKind: kind, workloadName: name, team, project: '', user: '', node: nodeName, gpus,
  gpuResource: 'nvidia.com/gpu', createdMs: (startMs ?? NOW - 10 * MIN) - MIN, startMs, endMs, lastSeenMs: NOW, phase: startMs === undefined ? 'Pending' : endMs ? 'Succeeded' : 'Running',
})

const INTERVALS: WorkloadInterval[] = [
  { ...pod('u1', 'train', 'Job', 'vision', 'n1', 4, NOW - 2 * HOUR), pod: 'train-a' },
  { ...pod('u2', 'train', 'Job', 'vision', 'n2', 2, NOW - 2 * HOUR), pod: 'train-b' },
  pod('u3', 'quiet', 'Job', 'vision', 'n1', 1, NOW - 3 * HOUR),
  pod('u8', 'sleepy', 'Job', 'vision', 'n1', 1, NOW - 3 * HOUR),
  pod('u4', 'queued', 'Job', 'vision', '', 8, undefined),
  pod('u5', 'old', 'Job', 'vision', 'n1', 8, NOW - 5 * HOUR, NOW - 4 * HOUR),
  pod('u6', 'nb', 'Notebook', 'text', 'n2', 1, NOW - 3 * HOUR),
  pod('u7', 'nb2', 'Notebook', 'text', 'n2', 1, NOW - 3 * HOUR),
]

/** train-a: 4 GPUs at GR 0.5; train-b: 2 GPUs with GPU_UTIL 0.25 only; nb, nb2, sleepy: GR 0 for 3 h; quiet: GR 0.03125 for the last 20 min only; an unmapped GPU at GR 1. */
function samples(): GpuSample[] {
  const rows: GpuSample[] = []
  const add = (nodeName: string, namespace: string, podName: string, gpus: number, fromMs: number, metric: Partial<GpuSample>) => {
    for (let t = fromMs; t < NOW; t += MIN) {
      for (let g = 0; g < gpus; g++) rows.push({ tsMs: t, cluster: 'c1', node: nodeName, gpuUuid: `GPU-${podName}-${g}`, gpuIndex: g, model: A100, migProfile: '', namespace, pod: podName, container: 'main', ...metric })
    }
  }
  add('n1', 'vision', 'train-a', 4, NOW - 2 * HOUR, { grEngineActiveRatio: 0.5 })
  add('n2', 'vision', 'train-b', 2, NOW - 2 * HOUR, { gpuUtilRatio: 0.25 })
  add('n2', 'text', 'nb-0', 1, NOW - 3 * HOUR, { grEngineActiveRatio: 0 })
  add('n2', 'text', 'nb2-0', 1, NOW - 3 * HOUR, { grEngineActiveRatio: 0 })
  add('n1', 'vision', 'sleepy-0', 1, NOW - 3 * HOUR, { grEngineActiveRatio: 0 })
  add('n1', 'vision', 'quiet-0', 1, NOW - 20 * MIN, { grEngineActiveRatio: 0.03125 })
  add('n3', '', '', 1, NOW - 2 * HOUR, { grEngineActiveRatio: 1 })
  return rows
}

/** Kernels polled each minute: nb's last activity was 2 h ago (idle); nb2's 10 minutes ago (active, whatever its GPU says). */
const ACTIVITY: NotebookActivity[] = Array.from({ length: 60 }, (_, i) => NOW - (i + 1) * MIN).flatMap((tsMs) => [
  { tsMs, cluster: 'c1', namespace: 'text', notebook: 'nb', kernelId: 'k1', executionState: 'idle', lastActivityMs: NOW - 2 * HOUR, connections: 0 },
  { tsMs, cluster: 'c1', namespace: 'text', notebook: 'nb2', kernelId: 'k2', executionState: 'idle', lastActivityMs: NOW - 10 * MIN, connections: 1 },
])

let ts: TestStore
let queries = 0
let failing = false
let registry: Registry
let fleet: FleetMetrics

async function values(name: string): Promise<Array<[Record<string, string | number>, number]>> {
  const metric = registry.getSingleMetric(name)
  if (!metric) throw new Error(`no metric ${name}`)
  const { values: vals } = await metric.get()
  return vals.map((v) => [v.labels as Record<string, string | number>, v.value] as [Record<string, string | number>, number]).sort((a, b) => JSON.stringify(a[0]).localeCompare(JSON.stringify(b[0])))
}

beforeAll(async () => {
  ts = await openTestStore()
  const { sinks } = ts.writers
  const writes = [sinks.nodeState.write(NODES), sinks.workloadIntervals.write(INTERVALS), sinks.gpuSamples.write(samples()), sinks.notebookActivity.write(ACTIVITY)]
  await ts.writers.flush()
  await Promise.all(writes)
  const query: QueryFn = (sql, params) => {
    queries++
    return failing ? Promise.reject(new Error('store down')) : ts.store.query(sql, params)
  }
  registry = new Registry()
  fleet = registerFleetMetrics(registry, { query, logger: silentLogger, now: () => NOW, idle: ts.config.idle }, { maxSeries: 2 })
  await fleet.refresh()
})

afterAll(async () => {
  await fleet?.stop()
  await ts?.close()
})

describe('fleet gauges from the store', () => {
  it('capacity counts Ready, schedulable nodes by cluster, pool and model, folding past the cap into __other__', async () => {
    expect(await values('gpuscope_capacity_gpus')).toEqual([
      [{ cluster: OTHER, pool: OTHER, gpu_model: OTHER }, 6],
      [{ cluster: 'c1', pool: 'a100', gpu_model: A100 }, 16],
    ])
  })

  it('allocation counts running pods by node pool, model and team; pending has only cluster and team', async () => {
    expect(await values('gpuscope_allocated_gpus')).toEqual([
      [{ cluster: 'c1', pool: 'a100', gpu_model: A100, team: 'text' }, 2],
      [{ cluster: 'c1', pool: 'a100', gpu_model: A100, team: 'vision' }, 8],
    ])
    expect(await values('gpuscope_pending_gpus')).toEqual([[{ cluster: 'c1', team: 'vision' }, 8]])
  })

  it('utilization averages allocated GPUs (GR_ENGINE_ACTIVE, else GPU_UTIL) and ignores GPUs mapped to no pod', async () => {
    const util = await values('gpuscope_utilization_ratio')
    expect(util.map(([labels]) => labels)).toEqual([
      { cluster: 'c1', pool: 'a100', gpu_model: A100, team: 'text' },
      { cluster: 'c1', pool: 'a100', gpu_model: A100, team: 'vision' },
    ])
    expect(util[0]![1]).toBe(0)
    expect(util[1]![1]).toBeCloseTo((4 * 0.5 + 2 * 0.25 + 0.03125 + 0) / 8, 12)
  })

  it('counts workloads the idle core judges idle: GPUs below the threshold for the window and, for notebooks, idle kernels', async () => {
    // nb is idle, sleepy stuck (nothing since its start); nb2 had kernel activity; quiet is only suspect after 20 minutes; train is busy.
    // Capped at 2 series: vision's 1 and the 0 of c2 (capacity, no workloads) fold into __other__; the total stays 2.
    expect(await values('gpuscope_idle_workloads')).toEqual([
      [{ cluster: OTHER, team: OTHER }, 1],
      [{ cluster: 'c1', team: 'text' }, 1],
    ])
  })

  it.each([
    { name: 'some idle: counts, with 0 for a cluster that has capacity and no workloads', atMs: NOW, want: [[{ cluster: 'c1', team: 'text' }, 1], [{ cluster: 'c1', team: 'vision' }, 1], [{ cluster: 'c2', team: '' }, 0]] },
    // Two days on the pods still run but have no samples in the window: unknown, never idle.
    { name: 'none idle: a 0 for every cluster and team with running work, not an empty gauge', atMs: NOW + 48 * HOUR, want: [[{ cluster: 'c1', team: 'text' }, 0], [{ cluster: 'c1', team: 'vision' }, 0], [{ cluster: 'c2', team: '' }, 0]] },
  ])('idle workloads, $name', async ({ atMs, want }) => {
    const own = new Registry()
    await registerFleetMetrics(own, { query: ts.store.query, logger: silentLogger, now: () => atMs, idle: ts.config.idle }).refresh()
    const { values: vals } = await own.getSingleMetric('gpuscope_idle_workloads')!.get()
    expect(vals.map((v) => [v.labels, v.value]).sort((a, b) => JSON.stringify(a[0]).localeCompare(JSON.stringify(b[0])))).toEqual(want)
  })

  it('scrapes read memory only: no store query per scrape', async () => {
    const before = queries
    await registry.metrics()
    await registry.metrics()
    expect(queries).toBe(before)
    expect(await values('gpuscope_fleet_metrics_last_refresh_timestamp_seconds')).toEqual([[{}, NOW / 1000]])
  })

  it('the exposition passes promtool check metrics', async () => {
    const text = await registry.metrics()
    let tool: string | undefined
    try {
      execFileSync('promtool', ['--version'], { stdio: 'ignore' })
      tool = 'promtool'
    } catch {
      tool = undefined
    }
    if (process.env.CI && !tool) throw new Error('promtool is not installed: .ci/run must apt-get install prometheus')
    if (tool) expect(execFileSync(tool, ['check', 'metrics'], { input: text }).toString()).toBe('')
    expect(text).toContain(`gpuscope_pending_gpus{cluster="c1",team="vision"} 8`)
  })

  it('start() refreshes at once and stop() waits for that refresh', async () => {
    const own = new Registry()
    const timed = registerFleetMetrics(own, { query: ts.store.query, logger: silentLogger, now: () => NOW + 1_000, idle: ts.config.idle })
    timed.start()
    await timed.stop()
    const { values: vals } = await own.getSingleMetric('gpuscope_fleet_metrics_last_refresh_timestamp_seconds')!.get()
    expect(vals.map((v) => v.value)).toEqual([(NOW + 1_000) / 1000])
  })

  it('a failed refresh keeps the last values and counts the failure', async () => {
    failing = true
    try {
      await fleet.refresh()
    } finally {
      failing = false
    }
    expect(await values('gpuscope_fleet_metrics_refresh_failures_total')).toEqual([[{}, 1]])
    expect(await values('gpuscope_pending_gpus')).toEqual([[{ cluster: 'c1', team: 'vision' }, 8]])
  })
})

describe('capSeries', () => {
  const row = (team: string, value: number, weight = 1) => ({ labels: { cluster: 'c1', team }, value, weight })
  it.each([
    { name: 'under the cap: unchanged', rows: [row('a', 1), row('b', 2)], max: 2, combine: 'sum' as const, want: [row('a', 1), row('b', 2)] },
    { name: 'sums fold the smallest', rows: [row('a', 1), row('b', 5), row('c', 3)], max: 2, combine: 'sum' as const, want: [row('b', 5), { labels: { cluster: OTHER, team: OTHER }, value: 4, weight: 2 }] },
    { name: 'means keep the heaviest and fold GPU-weighted', rows: [row('a', 0.9, 1), row('b', 0.1, 10), row('c', 0.5, 3)], max: 2, combine: 'mean' as const, want: [row('b', 0.1, 10), { labels: { cluster: OTHER, team: OTHER }, value: (0.9 + 1.5) / 4, weight: 4 }] },
    { name: 'ties are broken by labels', rows: [row('b', 1), row('a', 1), row('c', 1)], max: 2, combine: 'sum' as const, want: [row('a', 1), { labels: { cluster: OTHER, team: OTHER }, value: 2, weight: 2 }] },
  ])('$name', ({ rows, max, combine, want }) => {
    expect(capSeries(rows, max, combine)).toEqual(want)
  })
})
