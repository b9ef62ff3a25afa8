import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { dcgmSources } from '../collector/dcgm/index'
import { CollectorHealth } from '../collector/health'
import { CollectorScheduler } from '../collector/scheduler'
import type { PollSource } from '../collector/source'
import { configSchema, type Config } from '../config/schema'
import type { Logger } from '../core/ports'
import { createStore, type Store } from '../store/client'
import { migrate } from '../store/migrate'
import { createWriters, type StoreWriters } from '../store/sinks'
import { FlagError, positiveIntFlag, type Benchmark } from './benchmark'
import { fleetNodeName } from './exporterFleet'
import { measureParts, optimizeSamples, storageDay, wideParts, type TableBytes } from './fleetStorage'
import { mib, watchRss } from './measure'

/**
 * `fleet`: capacity math, measured. A simulated fleet of dcgm-exporters (child
 * processes) is scraped for a fixed wall time by the real dcgm collector under
 * the real CollectorScheduler, writing through the real batching writer into
 * embedded chDB, as `gpuscope serve --role collector` would minus the network
 * to a server. Reports rows/s, whether the polls kept up with the interval,
 * this process's CPU and peak RSS, and stored bytes per GPU-day after
 * compression (`storageDay`). docs/scaling.md turns the figures into sizing.
 */

/** Kubernetes supports up to 5,000 nodes per cluster, so a larger fleet is several clusters (one poll source each). */
const MAX_NODES_PER_CLUSTER = 5_000

interface FleetOptions {
  nodes: number
  gpusPerNode: number
  intervalS: number
  durationS: number
  clusters: number
  concurrency: number
  exporters: number
  dayNodes: number
  path: string | undefined
}

/** One poll as the wrapped source saw it (the scheduler may have given up on it earlier). */
interface PollRecord {
  source: string
  startMs: number
  seconds: number
  ok: boolean
  rows: number
  warnings: number
}

interface Exporters {
  urls: string[]
  perChild: number
  children: ChildProcess[]
  stop(): void
}

function parseFlags(argv: string[]): FleetOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      nodes: { type: 'string' }, 'gpus-per-node': { type: 'string' }, interval: { type: 'string' }, duration: { type: 'string' }, clusters: { type: 'string' },
      concurrency: { type: 'string' }, exporters: { type: 'string' }, 'day-nodes': { type: 'string' }, path: { type: 'string' },
    },
  })
  const nodes = positiveIntFlag('nodes', values.nodes, 12_500)
  const opts: FleetOptions = {
    nodes,
    gpusPerNode: positiveIntFlag('gpus-per-node', values['gpus-per-node'], 8),
    intervalS: positiveIntFlag('interval', values.interval, 15),
    durationS: positiveIntFlag('duration', values.duration, 120),
    clusters: positiveIntFlag('clusters', values.clusters, Math.ceil(nodes / MAX_NODES_PER_CLUSTER)),
    concurrency: positiveIntFlag('concurrency', values.concurrency, 16),
    exporters: positiveIntFlag('exporters', values.exporters, 1),
    dayNodes: positiveIntFlag('day-nodes', values['day-nodes'], 4),
    path: values.path,
  }
  if (opts.clusters > nodes) throw new FlagError(`--clusters (${opts.clusters}) must not exceed --nodes (${nodes})`)
  if (opts.exporters > nodes) throw new FlagError(`--exporters (${opts.exporters}) must not exceed --nodes (${nodes})`)
  if (opts.concurrency > 256) throw new FlagError('--concurrency must be at most 256 (collector.dcgm.concurrency)')
  if (opts.gpusPerNode > 255) throw new FlagError('--gpus-per-node must be at most 255 (gpu_index is a UInt8)')
  return opts
}

/** Starts the exporter children, each serving a contiguous range of nodes, and waits for their URLs. */
async function startExporters(opts: FleetOptions): Promise<Exporters> {
  const perChild = Math.ceil(opts.nodes / opts.exporters)
  const children: ChildProcess[] = []
  const stop = () => children.forEach((c) => c.kill('SIGTERM'))
  try {
    const urls = await Promise.all(
      Array.from({ length: opts.exporters }, (_, k) => {
        const first = k * perChild
        const count = Math.min(perChild, opts.nodes - first)
        const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'exporterFleet.ts'), String(count), String(opts.gpusPerNode), String(first)], { stdio: ['ignore', 'pipe', 'inherit'] })
        children.push(child)
        return new Promise<string>((resolve, reject) => {
          createInterface({ input: child.stdout! }).once('line', resolve)
          child.once('exit', (code) => reject(new Error(`exporter fleet ${k} exited (${code})`)))
        })
      }),
    )
    return { urls, perChild, children, stop }
  } catch (err) {
    stop()
    throw err
  }
}

/** The collector config: node i is served by child floor(i / perChild) and belongs to cluster floor(i * clusters / nodes). */
function fleetConfig(opts: FleetOptions, exporters: Exporters, dir: string): Config {
  const intervalMs = opts.intervalS * 1000
  const targets = Array.from({ length: opts.nodes }, (_, i) => ({
    cluster: `fleet-${Math.floor((i * opts.clusters) / opts.nodes)}`,
    url: `${exporters.urls[Math.floor(i / exporters.perChild)]}/nodes/${fleetNodeName(i)}/metrics`,
  }))
  return configSchema.parse({
    store: { path: dir },
    collector: { dcgm: { intervalMs, timeoutMs: Math.min(5_000, intervalMs), concurrency: opts.concurrency, targets } },
  })
}

/**
 * User + system CPU seconds so far of a process (`/proc/<pid>/stat`) or of one of
 * this process's threads (`/proc/self/task/<tid>/stat`; the JS main thread's tid
 * is the pid). Linux reports them in USER_HZ = 100 ticks per second.
 */
function procCpuSeconds(pid: number | undefined, statPath = `/proc/${pid}/stat`): number {
  if (pid === undefined) return 0
  try {
    const stat = readFileSync(statPath, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

/** A logger that counts warnings and errors (poll warnings, failed polls) and keeps the first few. */
function countingLogger(): Logger & { count: number; first: string[] } {
  const state = { count: 0, first: [] as string[] }
  const line = (obj: object | string, msg?: string) => {
    state.count++
    if (state.first.length < 5) state.first.push(typeof obj === 'string' ? obj : `${msg ?? ''} ${JSON.stringify(obj)}`)
  }
  return Object.assign(state, { info() {}, debug() {}, warn: line, error: line })
}

/** Wraps a poll source to record each poll's duration and outcome. */
function timedSource(source: PollSource, records: PollRecord[], inFlight: { n: number }): PollSource {
  return {
    ...source,
    async poll(nowMs, signal) {
      const startMs = Date.now()
      const t0 = performance.now()
      inFlight.n++
      try {
        const r = await source.poll(nowMs, signal)
        records.push({ source: source.name, startMs, seconds: (performance.now() - t0) / 1000, ok: true, rows: r.rows, warnings: r.warnings?.length ?? 0 })
        return r
      } catch (err) {
        records.push({ source: source.name, startMs, seconds: (performance.now() - t0) / 1000, ok: false, rows: 0, warnings: 0 })
        throw err
      } finally {
        inFlight.n--
      }
    },
  }
}

/** Runs the scheduler over every cluster's source for the fixed wall time and measures the process meanwhile. */
async function runLive(opts: FleetOptions, config: Config, writers: StoreWriters, store: Store, exporters: Exporters) {
  const logger = countingLogger()
  const records: PollRecord[] = []
  const inFlight = { n: 0 }
  const sources = (dcgmSources(config.collector.dcgm, { sinks: writers.sinks, query: store.query, logger, now: Date.now }) as PollSource[]).map((s) => timedSource(s, records, inFlight))
  const health = new CollectorHealth()
  const scheduler = new CollectorScheduler(sources, health, logger)
  const gpuWriter = () => writers.stats().find((s) => s.table === 'gpu_samples')!
  let maxBacklog = 0
  const backlogTimer = setInterval(() => (maxBacklog = Math.max(maxBacklog, gpuWriter().queuedRows)), 250)
  const progress = setInterval(() => process.stderr.write(`fleet: ${gpuWriter().rowsWritten.toLocaleString('en-US')} rows stored, ${records.length} polls done\n`), 15_000)
  const loop = monitorEventLoopDelay({ resolution: 20 })
  const childCpu0 = exporters.children.map((c) => procCpuSeconds(c.pid))
  const mainThread = () => procCpuSeconds(process.pid, `/proc/self/task/${process.pid}/stat`)
  const mainCpu0 = mainThread()
  const rss = watchRss(200)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  loop.enable()
  await scheduler.start()
  await new Promise((r) => setTimeout(r, opts.durationS * 1000))
  const stopAt = performance.now()
  await scheduler.stop()
  // A poll the scheduler timed out keeps running until its scrapes settle; wait for it (bounded) so its rows are counted.
  for (let waited = 0; inFlight.n > 0 && waited < opts.intervalS * 1000; waited += 100) await new Promise((r) => setTimeout(r, 100))
  const backlogAtStop = gpuWriter().queuedRows
  await writers.flush()
  const wallS = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const mainCpuS = mainThread() - mainCpu0
  loop.disable()
  clearInterval(backlogTimer)
  clearInterval(progress)
  const childCpuS = exporters.children.map((c, i) => procCpuSeconds(c.pid) - (childCpu0[i] ?? 0))
  const w = gpuWriter()
  return {
    wallS, drainS: (performance.now() - stopAt) / 1000, cpuS: (cpu.user + cpu.system) / 1e6, userS: cpu.user / 1e6, sysS: cpu.system / 1e6, mainCpuS, rss: rss.stop(),
    childCpuS, records, schedulerFailures: health.snapshot().reduce((n, h) => n + h.errors, 0), rowsWritten: w.rowsWritten, rowsFailed: w.rowsFailed, batches: w.batchesWritten, maxBacklog, backlogAtStop,
    loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6, logged: logger.count, firstLogged: logger.first,
  }
}

type Live = Awaited<ReturnType<typeof runLive>>
type Day = Awaited<ReturnType<typeof storageDay>>

/** Poll figures per source and overall; `keptUp` when every poll finished inside its interval with every exporter answering. */
function pollSummary(opts: FleetOptions, live: Live) {
  const secs = live.records.map((r) => r.seconds).sort((a, b) => a - b)
  const q = (p: number) => secs[Math.min(secs.length - 1, Math.floor(p * secs.length))] ?? 0
  const bySource = new Map<string, PollRecord[]>()
  for (const r of live.records) bySource.set(r.source, [...(bySource.get(r.source) ?? []), r])
  const periods: number[] = []
  let overlapping = 0
  let slotsMissed = 0
  for (const list of bySource.values()) {
    const sorted = [...list].sort((a, b) => a.startMs - b.startMs)
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1] as PollRecord
      const cur = sorted[i] as PollRecord
      periods.push((cur.startMs - prev.startMs) / 1000)
      if (cur.startMs < prev.startMs + prev.seconds * 1000) overlapping++
    }
    slotsMissed += Math.max(0, Math.floor(opts.durationS / opts.intervalS) - list.length)
  }
  const failed = live.records.filter((r) => !r.ok).length
  const withWarnings = live.records.filter((r) => r.warnings > 0).length
  const maxS = secs.at(-1) ?? 0
  return {
    polls: live.records.length,
    pollsPerSource: [...bySource.values()].map((l) => l.length),
    failed,
    /** Polls the scheduler gave up on (timed out at the interval) or that threw. */
    schedulerFailures: live.schedulerFailures,
    withWarnings,
    /** Polls that started before the same cluster's previous poll had finished (after a scheduler time-out). */
    overlapping,
    /** Per cluster, floor(duration / interval) minus the polls that ran. */
    slotsMissed,
    pollS: { median: round(q(0.5), 2), p90: round(q(0.9), 2), max: round(maxS, 2) },
    meanPeriodS: periods.length ? round(periods.reduce((a, b) => a + b, 0) / periods.length, 2) : undefined,
    keptUp: secs.length > 0 && failed === 0 && live.schedulerFailures === 0 && withWarnings === 0 && live.rowsFailed === 0 && maxS < opts.intervalS,
  }
}

async function run(argv: string[]): Promise<number> {
  const opts = parseFlags(argv)
  const loadStart = loadavg()
  const gpus = opts.nodes * opts.gpusPerNode
  process.stderr.write(`fleet: ${opts.nodes.toLocaleString('en-US')} nodes x ${opts.gpusPerNode} GPUs = ${gpus.toLocaleString('en-US')} GPUs in ${opts.clusters} cluster(s), ${opts.intervalS} s scrape, ${opts.durationS} s; ${opts.exporters} exporter process(es); loadavg ${fmtLoad(loadStart)}\n`)
  const exporters = await startExporters(opts)
  const dir = opts.path ?? mkdtempSync(join(tmpdir(), 'gpuscope-bench-fleet-'))
  try {
    const config = fleetConfig(opts, exporters, dir)
    const store = await createStore(config.store)
    try {
      await migrate(store, config.store)
      await wideParts(store)
      const writers = createWriters(store, config.store.writer, countingLogger())
      const live = await runLive(opts, config, writers, store, exporters)
      await writers.close()
      exporters.stop()
      const polls = pollSummary(opts, live)
      await optimizeSamples(store)
      const liveParts = await measureParts(store)
      const day = await storageDay(store, config.store.writer, { nodes: opts.dayNodes, gpusPerNode: opts.gpusPerNode, intervalS: opts.intervalS }, Date.now(), countingLogger())
      const summary = summarize(opts, live, polls, liveParts, day, loadStart, loadavg())
      printReport(summary)
      return summary.polls.keptUp && day.ok ? 0 : 1
    } finally {
      await store.close()
    }
  } finally {
    exporters.stop()
    if (opts.path === undefined) rmSync(dir, { recursive: true, force: true })
  }
}

function summarize(opts: FleetOptions, live: Live, polls: ReturnType<typeof pollSummary>, liveParts: TableBytes[], day: Day, loadStart: number[], loadEnd: number[]) {
  const gpus = opts.nodes * opts.gpusPerNode
  return {
    bench: 'fleet',
    gpus, nodes: opts.nodes, gpusPerNode: opts.gpusPerNode, clusters: opts.clusters, concurrency: opts.concurrency, exporters: opts.exporters,
    intervalS: opts.intervalS, durationS: opts.durationS,
    loadavgStart: loadStart.map((x) => round(x, 2)), loadavgEnd: loadEnd.map((x) => round(x, 2)),
    rows: live.rowsWritten, rowsFailed: live.rowsFailed, batches: live.batches,
    wallS: round(live.wallS, 1), drainS: round(live.drainS, 1),
    rowsPerSec: Math.round(live.rowsWritten / live.wallS), nominalRowsPerSec: Math.round(gpus / opts.intervalS),
    polls,
    writerBacklog: { maxQueuedRows: live.maxBacklog, queuedAtStop: live.backlogAtStop },
    eventLoopDelayMs: { p99: round(live.loopP99Ms, 1), max: round(live.loopMaxMs, 1) },
    cpu: { seconds: round(live.cpuS, 1), userS: round(live.userS, 1), sysS: round(live.sysS, 1), coreShare: round(live.cpuS / live.wallS, 3), mainThreadS: round(live.mainCpuS, 1), mainThreadShare: round(live.mainCpuS / live.wallS, 3), microsPerRow: round((live.cpuS * 1e6) / live.rowsWritten, 1) },
    /** CPU-bound ceiling: GPUs one fully busy core would scrape and store at this interval (ignores headroom and latency). */
    gpusPerCore: Math.round((live.rowsWritten * opts.intervalS) / live.cpuS),
    exporterCpu: { seconds: live.childCpuS.map((s) => round(s, 1)), coreShare: live.childCpuS.map((s) => round(s / live.wallS, 3)) },
    peakRssMiB: mib(live.rss.sampledPeakBytes), maxRssMiB: mib(live.rss.maxRssBytes),
    warningsLogged: live.logged, firstWarnings: live.firstLogged,
    liveStorage: liveParts,
    day,
  }
}

type Summary = ReturnType<typeof summarize>

function printReport(s: Summary): void {
  const p = s.polls
  const out = [
    `fleet: ${fmt(s.gpus)} GPUs (${fmt(s.nodes)} nodes x ${s.gpusPerNode}, ${s.clusters} cluster(s), concurrency ${s.concurrency} per cluster), ${s.intervalS} s scrape, ${s.wallS} s wall (${s.drainS} s of it stopping and draining)`,
    `  rows: ${fmt(s.rows)} stored = ${fmt(s.rowsPerSec)} rows/s (nominal ${fmt(s.nominalRowsPerSec)} rows/s = GPUs / interval); ${s.rowsFailed} failed; ${s.batches} inserts`,
    `  polls: ${p.polls} (${p.pollsPerSource.join('/')} per cluster), ${p.schedulerFailures} failed or timed out (scheduler), ${p.withWarnings} with failed scrapes, ${p.overlapping} overlapping, ${p.slotsMissed} interval slots missed; duration median ${p.pollS.median} s, p90 ${p.pollS.p90} s, max ${p.pollS.max} s; mean period ${p.meanPeriodS ?? '-'} s: ${p.keptUp ? 'KEPT UP' : 'DID NOT KEEP UP'} with ${s.intervalS} s`,
    `  writer backlog: max ${fmt(s.writerBacklog.maxQueuedRows)} rows queued, ${fmt(s.writerBacklog.queuedAtStop)} at stop; event-loop delay p99 ${s.eventLoopDelayMs.p99} ms, max ${s.eventLoopDelayMs.max} ms`,
    `  CPU (this process: collector, writer, embedded chDB): ${s.cpu.seconds} s (user ${s.cpu.userS}, sys ${s.cpu.sysS}) = ${(s.cpu.coreShare * 100).toFixed(1)}% of one core (JS main thread ${(s.cpu.mainThreadShare * 100).toFixed(1)}%), ${s.cpu.microsPerRow} us per row (one busy core = ${fmt(s.gpusPerCore)} GPUs at ${s.intervalS} s); peak RSS ${s.peakRssMiB} MiB sampled, ${s.maxRssMiB} MiB maxRSS`,
    `  exporter processes CPU: ${s.exporterCpu.coreShare.map((c) => `${(c * 100).toFixed(1)}%`).join(', ')} of one core`,
    ...s.liveStorage.map((t) => `  live run ${t.table}: ${fmt(t.rows)} rows, ${fmt(t.compressedBytes)} B compressed (${t.bytesPerRow} B/row, ratio ${t.ratio})`),
    ...s.day.tables.map((t) => `  one GPU-day (${s.day.gpus} GPUs) ${t.table}: ${fmt(t.rows)} rows, ${t.bytesPerRow} B/row compressed (ratio ${t.ratio}) -> ${fmt(t.bytesPerGpuDay)} B per GPU-day at ${fmt(t.rowsPerGpuDay)} rows/GPU-day`),
    `  raw columns, B per GPU-day: ${s.day.rawColumnsBytesPerGpuDay.slice(0, 8).map((c) => `${c.column} ${fmt(c.bytesPerGpuDay)}`).join(', ')}`,
    `  loadavg start ${fmtLoad(s.loadavgStart)}, end ${fmtLoad(s.loadavgEnd)}`,
    ...(s.firstWarnings.length ? [`  first warnings: ${s.firstWarnings.join(' | ')}`] : []),
    JSON.stringify(s),
  ]
  process.stdout.write(out.join('\n') + '\n')
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits
const fmt = (n: number): string => n.toLocaleString('en-US')
const fmtLoad = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ')

export const fleetBench: Benchmark = {
  name: 'fleet',
  summary: 'a simulated GPU fleet through the dcgm collector into chDB for a fixed time: rows/s, kept up?, CPU, RSS, bytes per GPU-day',
  usage: `--nodes N          exporters to scrape (default 12,500)
--gpus-per-node N  GPUs per node (default 8)
--interval S       scrape interval in seconds (default 15)
--duration S       wall time to run the collector (default 120)
--clusters N       clusters (one poll source each; default ceil(nodes / ${fmt(MAX_NODES_PER_CLUSTER)}))
--concurrency N    exporters scraped in parallel per cluster (collector.dcgm.concurrency, default 16)
--exporters N      exporter child processes sharing the nodes (default 1)
--day-nodes N      nodes whose full simulated day is written to measure bytes per GPU-day (default 4)
--path DIR         chDB data directory (default: a fresh temp dir, removed afterwards)`,
  run,
}
