import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { dcgmSources } from '../collector/dcgm/index'
import type { PollSource } from '../collector/source'
import { configSchema } from '../config/schema'
import { createStore } from '../store/client'
import { migrate } from '../store/migrate'
import { createWriters } from '../store/sinks'
import { FlagError, positiveIntFlag, type Benchmark } from './benchmark'

const silent = { info() {}, warn() {}, error() {}, debug() {} }

/**
 * The dcgm collector against a fleet of loopback exporters (a child process
 * serves them): polls every `--interval` seconds for `--polls` polls and reports
 * this process's CPU (as a share of one core over the wall time) and peak RSS,
 * writing every sample to an embedded store as in production.
 */
export const collectorBench: Benchmark = {
  name: 'collector',
  summary: 'dcgm collector CPU and RSS for a fleet of loopback exporters (default 1,250 nodes x 8 GPUs, 15 s scrape)',
  usage:
    '  --nodes N      exporters, 8 GPUs each (default 1250)\n  --polls N      scrapes to time (default 4)\n  --interval S   seconds between scrapes (default 15)\n' +
    '  --store KIND   embedded (chDB in this process, as `serve --role all`) or server (a ClickHouse HTTP endpoint\n' +
    '                 in a child process, as `serve --role collector`: this process is then the collector alone)',
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { nodes: { type: 'string' }, polls: { type: 'string' }, interval: { type: 'string' }, store: { type: 'string' } } })
    const nodes = positiveIntFlag('nodes', values.nodes, 1250)
    const polls = positiveIntFlag('polls', values.polls, 4)
    const intervalMs = positiveIntFlag('interval', values.interval, 15) * 1000
    const storeKind = values.store ?? 'embedded'
    if (storeKind !== 'embedded' && storeKind !== 'server') throw new FlagError(`--store must be embedded or server (got '${storeKind}')`)
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'exporterFleet.ts'), String(nodes)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve)
      child.once('exit', (code) => reject(new Error(`exporter fleet exited (${code})`)))
    })
    const dir = mkdtempSync(join(tmpdir(), 'gpuscope-bench-collector-'))
    const server = storeKind === 'server' ? await childLine(['--import', 'tsx', join(import.meta.dirname, 'chdbServer.ts'), join(dir, 'chdb')], 'chdb server') : undefined
    const config = configSchema.parse({
      store: server ? { url: server.line } : { path: dir },
      collector: { dcgm: { intervalMs, timeoutMs: Math.min(10_000, intervalMs), targets: Array.from({ length: nodes }, (_, i) => ({ cluster: 'bench', url: `${url}/nodes/gpu-node-${String(i).padStart(4, '0')}/metrics` })) } },
    })
    const store = await createStore(config.store)
    await migrate(store, config.store)
    const writers = createWriters(store, config.store.writer, silent)
    const [source] = dcgmSources(config.collector.dcgm, { sinks: writers.sinks, query: store.query, logger: silent, now: Date.now }) as PollSource[]
    let peakRss = 0
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200)
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    let rows = 0
    for (let i = 0; i < polls; i++) {
      const started = performance.now()
      const r = await source!.poll(Date.now(), AbortSignal.timeout(intervalMs))
      rows += r.rows
      process.stderr.write(`collector: poll ${i + 1}/${polls}: ${r.rows} rows in ${((performance.now() - started) / 1000).toFixed(2)} s${r.warnings?.length ? `, ${r.warnings.length} warnings` : ''}\n`)
      const wait = started + intervalMs - performance.now()
      if (i < polls - 1 && wait > 0) await new Promise((res) => setTimeout(res, wait))
    }
    await writers.flush()
    const wallS = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    clearInterval(sampler)
    const cpuS = (cpu.user + cpu.system) / 1e6
    const summary = { bench: 'collector', store: storeKind, gpus: nodes * 8, nodes, polls, intervalS: intervalMs / 1000, rows, wallS: +wallS.toFixed(1), cpuS: +cpuS.toFixed(2), coreShare: +(cpuS / wallS).toFixed(3), peakRssMiB: +(peakRss / 2 ** 20).toFixed(0) }
    process.stderr.write(`collector: ${summary.gpus} GPUs, ${rows} rows in ${polls} polls: ${(summary.coreShare * 100).toFixed(1)}% of one core over ${summary.wallS} s, peak RSS ${summary.peakRssMiB} MiB\n`)
    console.log(JSON.stringify(summary))
    await writers.close()
    await store.close()
    child.kill('SIGTERM')
    server?.child.kill('SIGTERM')
    if (server) await new Promise((r) => server.child.once('exit', r))
    rmSync(dir, { recursive: true, force: true })
    return rows === polls * nodes * 8 ? 0 : 1
  },
}

/** Spawns `node <args>` and resolves with its first stdout line (a URL). */
function childLine(args: string[], what: string): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, line }))
    child.once('exit', (code) => reject(new Error(`${what} exited (${code})`)))
  })
}
