import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { VariableModel } from '@grafana/grafana-foundation-sdk/dashboard'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderPromQL, type ResolvedVariable } from '../dashboards/expand'
import { queriesOf, variablesOf } from '../dashboards/inspect'
import { buildAll } from '../dashboards/render'
import { contextFor, dashboardRange } from '../dashboards/verify'
import { readDcgmFixture, startFakeExporter, type FakeExporter } from './fakes/exporter'
import { findPrometheus, startPrometheus, type RunningPrometheus } from './fakes/prometheus'
import { listeningPort, spawnScript, type Child } from './helpers/serveProcess'

// Every PromQL expression of the dashboards, with variables interpolated as Grafana's Prometheus data
// source does, runs on Debian's prometheus after it has scraped a real `gpuscope serve` (replaying the
// Helios trace, so the fleet gauges and collector series have values) and two loopback exporters
// serving real dcgm-exporter output (an L4 with profiling metrics, eight H100s without).
const bin = findPrometheus()
const FIXTURES = ['kops-aws-L4-1gpu.prom', 'aicr-eks-p5-H100x8-sampled.prom']
const CLUSTER = 'helios-earth'
const built = buildAll()
const dir = mkdtempSync(join(tmpdir(), 'gpuscope-dash-prom-'))
let serve: Child | undefined
let exporters: FakeExporter[] = []
let prom: RunningPrometheus | undefined

/** GPU UUIDs in the dcgm-exporter fixtures (what the workload dashboard's `gpu` variable would list). */
const fixtureUuids = (): string[] => [...new Set(FIXTURES.flatMap((f) => [...readDcgmFixture(f).matchAll(/UUID="([^"]+)"/g)].map((m) => m[1] as string)))]

type Result = { status: string; data?: { result?: unknown[] }; error?: string }

async function rangeQuery(p: RunningPrometheus, expr: string): Promise<Result> {
  const end = Date.now() / 1000
  const url = `${p.url}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${end - 120}&end=${end}&step=5`
  return (await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).json()) as Result
}

/** Polls until every expression returns series; throws after `tries` rounds. */
async function waitForSeries(p: RunningPrometheus, exprs: readonly string[], tries = 240): Promise<void> {
  let missing: string[] = [...exprs]
  for (let i = 0; i < tries && missing.length > 0; i++) {
    const answers = await Promise.all(missing.map(async (e) => ((await p.query(e).catch(() => undefined))?.data?.result?.length ?? 0) > 0))
    missing = missing.filter((_, j) => !answers[j])
    if (missing.length > 0) await new Promise((r) => setTimeout(r, 500))
  }
  if (missing.length > 0) throw new Error(`no series for ${missing.join(', ')}; prometheus said:\n${p.logs()}\ngpuscope stderr:\n${serve?.stderr.slice(-20).join('\n')}`)
}

beforeAll(async () => {
  if (!bin) return
  serve = spawnScript('cli/main.ts', ['serve'], {
    GPUSCOPE_STORE_PATH: join(dir, 'store'), GPUSCOPE_API_PORT: '0', GPUSCOPE_REPLAY_BACKFILL_DAYS: '1', GPUSCOPE_REPLAY_SAMPLE_DAYS: '1',
  })
  const port = await listeningPort(serve)
  exporters = await Promise.all(FIXTURES.map((file) => startFakeExporter({ kind: 'fixture', file })))
  prom = await startPrometheus(bin, [
    { name: 'gpuscope', targets: [`127.0.0.1:${port}`] },
    { name: 'dcgm-exporter', targets: exporters.map((e) => e.hostPort), honorLabels: true },
  ])
  await prom.waitForScrapes(3, 60_000)
  // The fleet gauges appear on the first refresh after the replay's backfill (they refresh every 30 s), poll durations after the first live poll.
  await waitForSeries(prom, ['gpuscope_capacity_gpus', 'gpuscope_utilization_ratio', 'gpuscope_collector_last_duration_seconds', 'DCGM_FI_DEV_GPU_UTIL'])
}, 300_000)

afterAll(async () => {
  await prom?.stop()
  await Promise.all(exporters.map((e) => e.close()))
  if (serve) {
    serve.proc.kill('SIGTERM')
    await serve.exit
  }
  rmSync(dir, { recursive: true, force: true })
}, 60_000)

/** Variable values for one scenario: All where the variable offers it, else the given values. */
function scenario(vars: readonly VariableModel[], options: Record<string, string[]>, all: boolean): Map<string, ResolvedVariable> {
  const out = new Map<string, ResolvedVariable>()
  for (const v of vars) {
    const fixed = v.type === 'custom' ? [String(v.current?.value)] : undefined
    const opts = fixed ?? options[v.name] ?? []
    const current = all && v.includeAll ? 'all' : opts.slice(0, 1)
    out.set(v.name, { name: v.name, multi: v.multi ?? false, includeAll: v.includeAll ?? false, allValue: v.allValue, current, options: opts })
  }
  return out
}

/** Values a real deployment would offer: the replayed cluster, the pool and team of one allocation that has a utilization, the fixture GPUs. */
async function liveOptions(p: RunningPrometheus): Promise<Record<string, string[]>> {
  const res = await p.query(`gpuscope_allocated_gpus{cluster="${CLUSTER}",team!="__other__"} and gpuscope_utilization_ratio`)
  const series = ((res.data?.result ?? []) as Array<{ metric: Record<string, string> }>)[0]?.metric ?? {}
  return {
    cluster: [CLUSTER], pool: [series.pool ?? ''], team: [series.team ?? ''], namespace: ['dynamo-workload'],
    workload: ['vllm-agg-0'], pod: ['vllm-agg-0-vllmdecodeworker-s65j5'], gpu: fixtureUuids(),
  }
}

describe('prometheus for the dashboard PromQL tests', () => {
  it('is installed where CI runs (Debian prometheus at /usr/bin/prometheus)', () => {
    if (process.env.CI) expect(bin, 'CI must apt-get install prometheus').toBeDefined()
    else expect(true).toBe(true)
  })
})

describe.skipIf(!bin).each(built.map((b) => ({ file: b.file })))('$file dashboard PromQL on Debian prometheus', ({ file }) => {
  const d = built.find((b) => b.file === file)!.dashboard
  const queries = queriesOf(d).filter((q) => q.type === 'prometheus')

  it.each([{ selection: 'All', all: true }, { selection: 'one value of each variable', all: false }])(
    'with $selection selected, every expression is valid and returns series',
    async ({ all }) => {
      const p = prom as RunningPrometheus
      const vars = scenario(variablesOf(d), await liveOptions(p), all)
      const range = dashboardRange(d, Date.now())
      const problems: string[] = []
      for (const q of queries) {
        const expr = renderPromQL(q.text, vars, { ...contextFor(q, range), scrapeIntervalMs: 15_000 })
        const res = q.instant ? await p.query(expr) : await rangeQuery(p, expr)
        if (res.status !== 'success') problems.push(`${q.panel.title} / ${q.refId}: ${expr}: ${JSON.stringify(res).slice(0, 300)}`)
        else if ((res.data?.result?.length ?? 0) === 0) problems.push(`${q.panel.title} / ${q.refId}: no series for ${expr}`)
      }
      expect(problems).toEqual([])
    },
    60_000,
  )

  it('has PromQL only where the dashboard reads live series (fleet, teams, idle, workload, collectors)', () => {
    expect(queries.length > 0).toBe(file !== 'forecast')
  })
})
