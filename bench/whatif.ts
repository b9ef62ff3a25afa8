import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { runWhatif } from '../alerts/whatif/run'
import { backfill } from '../collector/replay/backfill'
import { clusterFromHelios } from '../collector/replay/sim/fromHelios'
import { loadHeliosVcs } from '../collector/replay/traces/helios'
import { replaySchema } from '../config/replay'
import { configSchema } from '../config/schema'
import { resolveWhatifPolicy } from '../config/whatif'
import { createStore } from '../store/client'
import { migrate } from '../store/migrate'
import { createWriters } from '../store/sinks'
import { sharedFixtures } from '../test/helpers/fixtures'
import { positiveIntFlag, type Benchmark } from './benchmark'

const silent = { info() {}, warn() {}, error() {}, debug() {} }
const HOUR = 3_600_000
const DAY = 24 * HOUR

/**
 * A what-if over the default Helios replay (856 GPUs), backfilled as `gpuscope
 * replay` does by default (30 days of intervals and node state, GPU samples
 * every 5 minutes over the last 7 days), then `runWhatif` with the default
 * idle policy over `--window` days in 5-minute steps, without and with a burst
 * pool on every virtual cluster. Reports wall time and RSS per run.
 */
export const whatifBench: Benchmark = {
  name: 'whatif',
  summary: 'policy what-if over the default Helios replay (856 GPUs, 30 days), with and without burst pools',
  usage: '  --window D     days replayed (default 30)',
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { window: { type: 'string' } } })
    const days = positiveIntFlag('window', values.window, 30)
    const dir = mkdtempSync(join(tmpdir(), 'gpuscope-bench-whatif-'))
    const config = configSchema.parse({ store: { path: dir }, replay: { mode: 'off' } })
    const store = await createStore(config.store)
    try {
      await migrate(store, config.store)
      const writers = createWriters(store, config.store.writer, silent)
      const r = replaySchema.parse({})
      const end = Math.floor(Date.now() / HOUR) * HOUR
      const { minutes } = await loadHeliosVcs(sharedFixtures('helios', 'Earth_vcs_2020-05'))
      const sim = clusterFromHelios(minutes, end)
      let t = performance.now()
      await backfill(sim, writers.sinks, {
        fromMs: Math.max(sim.beginMs, end - r.backfillDays * DAY), toMs: end, sampleStepMs: r.sampleStepMs, samplesFromMs: end - r.sampleDays * DAY,
        notebookStepMs: Math.max(r.sampleStepMs, 600_000), kubernetes: config.collector.kubernetes,
      })
      await writers.close()
      process.stderr.write(`whatif: backfilled the replay in ${((performance.now() - t) / 1000).toFixed(1)} s\n`)
      const vcs = [...new Set(sim.nodes.map((n) => n.pool))]
      const pools = vcs.map((vc) => ({
        cluster: sim.name, pool: vc, maxBurstGpus: 64, monthlyBudgetUsd: 100_000,
        targets: [{ name: `${vc}-spot`, provider: 'aws', pool: `${vc}-burst`, gpusPerNode: 8, maxNodes: 8, usdPerGpuHour: 1.2, adapter: { type: 'webhook', webhookUrl: 'http://127.0.0.1:9/never-called' } }],
      }))
      const runs = []
      for (const [name, burst] of [['no burst pools', {}], [`burst pools on all ${vcs.length} VCs`, { pools }]] as const) {
        const p = resolveWhatifPolicy({ window: `${days}d`, burst }, config)
        if ('issues' in p) throw new Error(JSON.stringify(p.issues))
        t = performance.now()
        const cpu0 = process.cpuUsage()
        const out = await runWhatif({ query: store.query, config, nowMs: end }, p.policy)
        const cpu = process.cpuUsage(cpu0)
        const run = {
          run: name, wallS: +((performance.now() - t) / 1000).toFixed(1), cpuS: +((cpu.user + cpu.system) / 1e6).toFixed(1), steps: out.report.window.steps,
          rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20), stopped: out.report.idle.stoppedWorkloads, reclaimedGpuHours: Math.round(out.report.idle.reclaimedGpuHours),
        }
        process.stderr.write(`whatif: ${name}: ${run.wallS} s (${run.cpuS} s CPU), ${run.steps} steps, RSS ${run.rssMiB} MiB\n`)
        runs.push(run)
      }
      console.log(JSON.stringify({ bench: 'whatif', days, gpus: sim.nodes.reduce((n, x) => n + x.gpus.length, 0), load: (await import('node:os')).loadavg()[0], runs }))
      return 0
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  },
}
