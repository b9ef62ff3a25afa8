import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createApp } from '../api/app'
import { createMetrics } from '../api/metrics'
import { configSchema, type Config } from '../config/schema'
import { createStore, type Store } from '../store/client'
import { migrate } from '../store/migrate'
import { createWriters, type StoreWriters } from '../store/sinks'
import { build, DAY_MS, HOUR_MS, MIN_MS } from './apiFleet'
import { FlagError, positiveIntFlag, type Benchmark } from './benchmark'
import { secondsSince, stderrLogger } from './measure'

/**
 * `api`: latency of the analytics API (issue #5) on a synthetic fleet of
 * 1,000 GPUs x 90 days: 125 nodes x 8 GPUs in four pools (three on-prem, one
 * cloud burst pool whose nodes come and go), node_state rows as the
 * Kubernetes collector writes them (a row per change; `--node-heartbeat-min`
 * adds the repeated rows older collectors wrote), ~80k pod intervals over teams, projects and users,
 * and 90 days of 1-minute utilization rollups (the 1-hour rollup is filled
 * from them by its materialized view). Raw gpu_samples are not generated: the
 * analytics read only the rollups, and 130M minute rows are built in SQL
 * (INSERT ... SELECT) instead of as 520M raw scrapes.
 *
 * The real app (createApp) serves that store in this process; autocannon runs
 * in a second process and measures /usage, /summary (cold: cache off, and
 * warm), /chargeback for the last quarter, then /summary at a fixed rate.
 */

const HOST = '127.0.0.1'
const LOAD_CHILD = '--load-child'
const THIS_FILE = fileURLToPath(import.meta.url)

interface Options {
  data: string | undefined
  days: number
  pods: number
  endMs: number | undefined
  requests: number
  rate: number
  rateSeconds: number
  maxLoad: number
  loadWaits: number
  /** Unchanged node rows repeated every this many ms, as older collectors wrote them (60 min, 5 min before that); 0 = changes only, as the collector writes node_state now. */
  nodeHeartbeatMs: number
}

/** Default "now" of the data: two days into the current quarter, so the last quarter is (almost) all inside the 90 days. */
function defaultEndMs(wallMs: number): number {
  const d = new Date(wallMs)
  const start = Date.UTC(d.getUTCFullYear(), Math.floor(d.getUTCMonth() / 3) * 3, 1) + 2 * DAY_MS
  const end = start <= wallMs ? start : Date.UTC(d.getUTCFullYear(), Math.floor(d.getUTCMonth() / 3) * 3 - 3, 1) + 2 * DAY_MS
  return end + 13 * HOUR_MS + 17 * MIN_MS
}

/** The quarter before the one `ms` falls in, as the API spells it (2026-Q3). */
function lastQuarter(ms: number): string {
  const d = new Date(ms)
  const q = Math.floor(d.getUTCMonth() / 3)
  return q === 0 ? `${d.getUTCFullYear() - 1}-Q4` : `${d.getUTCFullYear()}-Q${q}`
}

// ---------------------------------------------------------------- measuring

interface LoadSpec {
  url: string
  connections: number
  amount?: number
  duration?: number
  rate?: number
}

interface LoadResult {
  requests: number
  non2xx: number
  errors: number
  seconds: number
  /** From the per-response times this child recorded (exact percentiles of the requests made). */
  p50Ms: number
  p95Ms: number
  p99Ms: number
  maxMs: number
  /** autocannon's own p99 (corrected for coordinated omission when a rate is set). */
  autocannonP99Ms: number
  achievedRps: number
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN
const round1 = (x: number): number => Math.round(x * 10) / 10

type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, result: any) => void) => unknown

/** The second process: runs autocannon once and prints one JSON line. */
async function loadChild(spec: LoadSpec): Promise<void> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon
  const times: number[] = []
  const started = process.hrtime.bigint()
  const result = await new Promise<any>((res, rej) => {
    autocannon(
      {
        url: spec.url, connections: spec.connections, timeout: 60, ...(spec.amount ? { amount: spec.amount } : { duration: spec.duration ?? 10 }),
        ...(spec.rate ? { overallRate: spec.rate } : {}),
        setupClient: (client: { on(e: string, f: (status: number, bytes: number, ms: number) => void): void }) => client.on('response', (_s, _b, ms) => times.push(ms)),
      },
      (err, r) => (err ? rej(err) : res(r)),
    )
  })
  const seconds = secondsSince(started)
  times.sort((a, b) => a - b)
  const out: LoadResult = {
    requests: times.length, non2xx: Number(result.non2xx ?? 0), errors: Number(result.errors ?? 0) + Number(result.timeouts ?? 0), seconds: round1(seconds),
    p50Ms: round1(pct(times, 50)), p95Ms: round1(pct(times, 95)), p99Ms: round1(pct(times, 99)), maxMs: round1(times[times.length - 1] ?? NaN),
    autocannonP99Ms: round1(Number(result.latency?.p99 ?? NaN)), achievedRps: round1(times.length / Number(result.duration ?? seconds)),
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

/** Spawns the load child and reads its result. */
function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--import', 'tsx', THIS_FILE, LOAD_CHILD, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.on('data', (c: Buffer) => (text += c.toString('utf8')))
    child.once('error', rej)
    child.once('exit', (code) => {
      const line = text.trim().split('\n').pop() ?? ''
      if (code !== 0) return rej(new Error(`load child exited ${code}: ${text.slice(-500)}`))
      res(JSON.parse(line) as LoadResult)
    })
  })
}

/** Waits (bounded) for the 1-minute load average to drop below maxLoad; returns it. */
async function quietMachine(maxLoad: number, waits: number): Promise<number> {
  for (let i = 0; i < waits && (loadavg()[0] as number) > maxLoad; i++) {
    process.stderr.write(`api: 1-min load ${(loadavg()[0] as number).toFixed(2)} > ${maxLoad}: waiting 30 s (${i + 1}/${waits})\n`)
    await new Promise((r) => setTimeout(r, 30_000))
  }
  return loadavg()[0] as number
}

function listen(config: Config, store: Store, now: () => number): Promise<{ base: string; server: Server }> {
  const silent = { info() {}, debug() {}, warn() {}, error() {} }
  const app = createApp({
    logger: silent, metrics: createMetrics({ writerStats: () => [], collectorHealth: () => [] }), readiness: async () => [], version: 'bench',
    routes: { query: store.query, config, logger: silent, now },
  })
  const server = app.listen(0, HOST)
  return new Promise((res) => server.once('listening', () => res({ base: `http://${HOST}:${(server.address() as AddressInfo).port}`, server })))
}

function parseFlags(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      data: { type: 'string' }, days: { type: 'string' }, pods: { type: 'string' }, end: { type: 'string' }, requests: { type: 'string' },
      rate: { type: 'string' }, 'rate-seconds': { type: 'string' }, 'max-load': { type: 'string' }, 'load-waits': { type: 'string' }, 'node-heartbeat-min': { type: 'string' },
    },
  })
  const endMs = values.end === undefined ? undefined : Date.parse(values.end)
  if (endMs !== undefined && !Number.isFinite(endMs)) throw new Error(`--end must be an RFC 3339 time, got '${values.end}'`)
  return {
    data: values.data, endMs,
    days: positiveIntFlag('days', values.days, 90),
    pods: positiveIntFlag('pods', values.pods, 80_000),
    requests: positiveIntFlag('requests', values.requests, 20),
    rate: positiveIntFlag('rate', values.rate, 500),
    rateSeconds: positiveIntFlag('rate-seconds', values['rate-seconds'], 15),
    maxLoad: Number(values['max-load'] ?? 1.5),
    loadWaits: positiveIntFlag('load-waits', values['load-waits'], 6),
    nodeHeartbeatMs: nonNegativeMinutes(values['node-heartbeat-min']) * MIN_MS,
  }
}


/** The data's end: that of the fleet already in `dir`, or of a new one built there (into an empty store). */
async function ensureFleet(store: Store, writers: StoreWriters, dir: string, opts: Options): Promise<number> {
  const meta = await store.query<{ end_ms: number }>('SELECT end_ms FROM bench_meta LIMIT 1').catch(() => [])
  const endMs = meta[0] ? Number(meta[0].end_ms) : (opts.endMs ?? defaultEndMs(Date.now()))
  if (!meta[0]) {
    // bench_meta is written last: rows without it are a build that did not finish, and building on top would double them.
    const [rows] = await store.query<{ n: number }>('SELECT count() AS n FROM node_state')
    if (Number(rows?.n ?? 0) > 0) throw new Error(`${dir} holds an unfinished build (no bench_meta): remove it or pass another --data`)
    await build(store, writers, { endMs, days: opts.days, pods: opts.pods, nodeHeartbeatMs: opts.nodeHeartbeatMs })
  }
  else process.stderr.write(`api: reusing the fleet in ${dir} (data ends ${new Date(endMs).toISOString()})\n`)
  return endMs
}

/** --node-heartbeat-min: whole minutes, 0 allowed (no repeated rows). */
function nonNegativeMinutes(raw: string | undefined): number {
  if (raw === undefined) return 0
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 0) throw new FlagError(`--node-heartbeat-min must be a whole number of minutes >= 0, got '${raw}'`)
  return n
}

async function run(argv: string[]): Promise<number> {
  const opts = parseFlags(argv)
  const dir = opts.data ?? mkdtempSync(join(tmpdir(), 'gpuscope-bench-api-'))
  const config = configSchema.parse({ store: { path: resolve(dir) } })
  const store = await createStore(config.store)
  const writers = createWriters(store, config.store.writer, stderrLogger())
  const servers: Server[] = []
  try {
    await migrate(store, config.store)
    const endMs = await ensureFleet(store, writers, dir, opts)
    // The data's clock: it starts at the data's end and runs with the wall clock (so the summary cache expires as it would).
    const wall0 = Date.now()
    const now = () => endMs + (Date.now() - wall0)
    const warm = await listen(config, store, now)
    const cold = await listen(configSchema.parse({ store: { path: resolve(dir) }, analytics: { summaryCacheMs: 0 } }), store, now)
    servers.push(warm.server, cold.server)
    const quarter = lastQuarter(endMs)
    const paths = {
      usage: '/api/v1/usage?window=90d&step=1d&groupBy=team',
      summary: '/api/v1/summary',
      chargeback: `/api/v1/chargeback?period=${quarter}`,
    }
    for (const p of Object.values(paths)) {
      const res = await fetch(cold.base + p)
      if (res.status !== 200) throw new Error(`${p} answered ${res.status}: ${(await res.text()).slice(0, 300)}`)
      await res.arrayBuffer()
    }
    const loadBefore = await quietMachine(opts.maxLoad, opts.loadWaits)
    const loadavgBefore = loadavg().map((x) => Math.round(x * 100) / 100)
    const n = opts.requests
    const results = {
      usage90dTeam: await runLoad({ url: cold.base + paths.usage, connections: 1, amount: n }),
      summaryCold: await runLoad({ url: cold.base + paths.summary, connections: 1, amount: n }),
      summaryWarm: await runLoad({ url: warm.base + paths.summary, connections: 1, duration: 5 }),
      chargebackQuarter: await runLoad({ url: cold.base + paths.chargeback, connections: 1, amount: Math.max(5, Math.ceil(n / 2)) }),
      summaryAtRate: await runLoad({ url: warm.base + paths.summary, connections: 20, duration: opts.rateSeconds, rate: opts.rate }),
    }
    const summary = {
      bench: 'api', data: dir, dataEnd: new Date(endMs).toISOString(), quarter, paths, requestsPerEndpoint: n, targetRate: opts.rate,
      loadavgBefore, loadavgAfter: loadavg().map((x) => Math.round(x * 100) / 100), waitedForLoadBelow: opts.maxLoad, loadAtStart: Math.round(loadBefore * 100) / 100,
      results,
    }
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`)
    return 0
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections() })))
    await writers.close()
    await store.close()
    if (opts.data === undefined) rmSync(dir, { recursive: true, force: true })
  }
}

export const apiBench: Benchmark = {
  name: 'api',
  summary: 'analytics API latency (/usage, /summary, /chargeback, /summary at 500 req/s) on 1,000 GPUs x 90 days, autocannon from a second process',
  usage: `--data DIR      build the fleet there once and reuse it on later runs (default: a temp dir, removed after)
--days N        days of history (default 90)
--pods N        pod intervals, about (default 80000)
--end TIME      the data's "now" (default: two days into the current quarter, so the last quarter is in the history)
--node-heartbeat-min N  repeat unchanged node rows every N minutes when building, as older collectors did (60, 5 before that); default 0: changes only, as node_state is written now
--requests N    sequential requests per endpoint (default 20; /chargeback gets half)
--rate N        /summary requests per second for the load run (default 500)
--rate-seconds  length of the load run (default 15)
--max-load X    wait (bounded) until the 1-min load average is below X before measuring (default 1.5)
--load-waits N  30 s waits at most (default 6); the load is reported either way`,
  run,
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === THIS_FILE && process.argv[2] === LOAD_CHILD) {
  loadChild(JSON.parse(process.argv[3] ?? '{}') as LoadSpec).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    },
  )
}
