import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backfill } from '../collector/replay/backfill'
import { clusterFromHelios } from '../collector/replay/sim/fromHelios'
import { loadHeliosVcs } from '../collector/replay/traces/helios'
import type { StoreSinks } from '../core/ports'
import { CLICKHOUSE_TYPE } from '../dashboards/common'
import { renderClickHouse, type ResolvedVariable } from '../dashboards/expand'
import { queriesOf, type PanelQuery } from '../dashboards/inspect'
import { buildAll } from '../dashboards/render'
import { columnsOf, contextFor, dashboardRange, resolveVariables, shapeProblems, type Pick } from '../dashboards/verify'
import { sharedFixtures } from './helpers/fixtures'
import { openTestStore, type TestStore } from './helpers/store'

// Every ClickHouse query the dashboards send, expanded as Grafana and the plugin would for each
// dashboard's default range ending now, runs on chDB over the Helios replay (31 days of node state
// and pod intervals, the last 6 hours of GPU samples at 5 min) plus a priced cloud node and a few
// actions, so the cost and action panels have rows of their own.
const HOUR = 3_600_000
const NOW = Math.floor(Date.now() / 60_000) * 60_000
const CLUSTER = 'helios-earth'
const built = buildAll()
let ts: TestStore

/** A cloud burst node with a list price, one 8-GPU pod that ran on it for an hour, and three actions. */
async function seedCloudAndActions(sinks: StoreSinks): Promise<void> {
  await sinks.nodeState.write([{
    tsMs: NOW - 3 * HOUR, cluster: CLUSTER, node: 'burst-node-0', pool: 'burst', gpuModel: 'NVIDIA-A100-SXM4-40GB', provider: 'aws',
    instanceType: 'p4d.24xlarge', spot: false, capacityGpus: 8, allocatableGpus: 8, ready: true, schedulable: true,
  }])
  await sinks.prices.write([{ provider: 'aws', region: 'us-east-1', instanceType: 'p4d.24xlarge', lifecycle: 'on-demand', gpus: 8, usdPerHour: 32.77, effectiveFromMs: NOW - 30 * 24 * HOUR }])
  await sinks.workloadIntervals.write([{
    cluster: CLUSTER, podUid: 'burst-uid-0', namespace: 'burst', pod: 'burst-train-0', workloadKind: 'Job', workloadName: 'burst-train', team: 'burst-team',
    project: 'scale-out', user: 'zoe', node: 'burst-node-0', gpus: 8, gpuResource: 'nvidia.com/gpu', createdMs: NOW - 2 * HOUR, startMs: NOW - 2 * HOUR,
    endMs: NOW - HOUR, lastSeenMs: NOW - HOUR, phase: 'Succeeded',
  }])
  const action = (i: number, action: string, decision: string, dryRun: boolean) => ({
    tsMs: NOW - (3 - i) * HOUR, id: `seed-${i}`, action, cluster: CLUSTER, namespace: 'nlp', workloadKind: 'Notebook', workloadName: `vc-nb-${i}`,
    decision, dryRun, acted: !dryRun, reason: 'GPU idle below 5% for 60 min', evidence: { peakUtil: 0.01 }, actor: 'enforcer',
  })
  await sinks.actions.write([action(0, 'warn', 'warned', false), action(1, 'shutdown', 'would-stop', true), action(2, 'burst', 'scale-up', false)])
}

beforeAll(async () => {
  ts = await openTestStore()
  const { minutes } = await loadHeliosVcs(sharedFixtures('helios', 'Earth_vcs_2020-05'))
  const sim = clusterFromHelios(minutes, NOW)
  await backfill(sim, ts.writers.sinks, {
    fromMs: sim.beginMs, toMs: NOW, samplesFromMs: NOW - 6 * HOUR, sampleStepMs: 300_000, notebookStepMs: 600_000, kubernetes: ts.config.collector.kubernetes,
  })
  await seedCloudAndActions(ts.writers.sinks)
  await ts.writers.flush()
}, 300_000)

afterAll(async () => {
  await ts?.close()
})

/** The intervals a query runs at: Grafana's for the range, plus an hour when it can switch to the hourly rollup. */
const intervalsFor = (q: PanelQuery, range: { fromMs: number; toMs: number }): number[] => {
  const auto = contextFor(q, range).intervalMs
  return q.text.includes('gpu_samples_1h') && auto < HOUR ? [auto, HOUR] : [auto]
}

/** Runs every ClickHouse query of a dashboard; returns what is wrong (empty when all is well). */
async function runDashboard(file: string, pick: Pick): Promise<{ problems: string[]; queries: number; vars: Map<string, ResolvedVariable> }> {
  const d = built.find((b) => b.file === file)!.dashboard
  const range = dashboardRange(d, NOW)
  const problems: string[] = []
  const { vars } = await resolveVariables(d, ts.store.query, { ...range, intervalMs: 60_000 }, pick)
  const queries = queriesOf(d).filter((q) => q.type === CLICKHOUSE_TYPE)
  for (const q of queries) {
    for (const intervalMs of intervalsFor(q, range)) {
      const where = `${q.panel.title} @ ${intervalMs / 1000}s`
      try {
        const sql = renderClickHouse(q.text, vars, { ...contextFor(q, range), intervalMs })
        const [rows, columns] = await Promise.all([ts.store.query<Record<string, unknown>>(sql), columnsOf(ts.store.query, sql)])
        problems.push(...shapeProblems(q, columns, rows).map((p) => `${where}: ${p}`))
        for (const c of columns) if (/AggregateFunction/.test(c.type)) problems.push(`${where}: column ${c.name} is ${c.type}, which the plugin cannot convert`)
        if (pick === 'all' && rows.length === 0) problems.push(`${where}: no rows`)
      } catch (err) {
        problems.push(`${where}: ${(err as Error).message.slice(0, 400)}`)
      }
    }
  }
  return { problems, queries: queries.length, vars }
}

/** One panel's rows with every variable at All (or its default). */
async function panelRows(file: string, title: string): Promise<Array<Record<string, unknown>>> {
  const d = built.find((b) => b.file === file)!.dashboard
  const range = dashboardRange(d, NOW)
  const { vars } = await resolveVariables(d, ts.store.query, { ...range, intervalMs: 60_000 }, 'all')
  const q = queriesOf(d).find((x) => x.panel.title === title)
  if (!q) throw new Error(`no panel '${title}' in ${file}`)
  return ts.store.query<Record<string, unknown>>(renderClickHouse(q.text, vars, contextFor(q, range)))
}

describe.each(built.map((b) => ({ file: b.file })))('$file dashboard on chDB over the replay', ({ file }) => {
  it('with All selected, every variable offers values and every ClickHouse panel returns rows with the columns it needs', async () => {
    const { problems, queries, vars } = await runDashboard(file, 'all')
    expect(problems).toEqual([])
    expect(queries).toBeGreaterThan(0)
    expect(vars.get('cluster')?.options).toContain(CLUSTER)
    for (const v of vars.values()) expect(v.options.length, `options of ${v.name}`).toBeGreaterThan(0)
  }, 120_000)

  it('with one value of each variable selected, every ClickHouse panel still runs and returns the columns it needs', async () => {
    const { problems } = await runDashboard(file, 'first')
    expect(problems.filter((p) => !p.endsWith('no rows'))).toEqual([])
  }, 120_000)
})

describe('dashboard values against what the store holds', () => {
  it('fleet: pools at the end of the range add up to the 856 Helios GPUs plus the 8-GPU burst node', async () => {
    const rows = await panelRows('fleet', 'Pools at the end of the range')
    expect(rows.reduce((n, r) => n + Number(r.capacity_gpus), 0)).toBe(864)
    expect(rows.find((r) => r.pool === 'burst')).toMatchObject({ capacity_gpus: 8, allocated_gpus: 0, nodes: 1 })
  })

  it('fleet: capacity over the week is 856 GPUs until the burst node joins, then 864', async () => {
    const rows = await panelRows('fleet', 'Capacity, allocation and pending demand')
    const capacity = rows.map((r) => Number(r.capacity))
    expect(Math.min(...capacity)).toBe(856)
    expect(Math.max(...capacity)).toBe(864)
  })

  it('teams: the burst pod costs its 8 GPU-hours at the p4d list price ($32.77 an hour), with use unknown (no samples)', async () => {
    const rows = await panelRows('teams', 'Chargeback by team')
    const burst = rows.find((r) => r.team === 'burst-team')
    expect(Number(burst?.allocated_gpu_hours)).toBeCloseTo(8, 9)
    expect(Number(burst?.cost_usd)).toBeCloseTo(32.77, 6)
    expect(Number(burst?.unknown_gpu_hours)).toBeCloseTo(8, 9)
    expect(burst?.efficiency).toBeNull()
  })

  it('idle: the action log lists the three seeded actions, newest first, with dry runs marked', async () => {
    const rows = await panelRows('idle', 'Action log')
    expect(rows.map((r) => [r.action, r.mode])).toEqual([['burst', 'live'], ['shutdown', 'dry run'], ['warn', 'live']])
  })

  it('forecast: capacity now is 864 GPUs and the seasonal-naive projection reaches 7 days past now', async () => {
    const [capacity] = await panelRows('forecast', 'Capacity now')
    expect(capacity?.value).toBe(864)
    const rows = await panelRows('forecast', 'Demand, capacity and the seasonal-naive projection')
    const last = rows[rows.length - 1]
    expect(Date.parse(`${String(last?.time).replace(' ', 'T')}Z`)).toBeGreaterThan(NOW + 6 * 24 * HOUR)
    expect(last).toMatchObject({ demand: null, capacity: 864 })
    expect(Number(last?.seasonal_naive)).toBeGreaterThan(0)
  })
})
