import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Config } from '../../config/schema'
import { InputError } from '../../core/errors'
import type { Logger, QueryFn, StoreSinks } from '../../core/ports'
import { backfill, type BackfillResult } from './backfill'
import { createProgress } from './progress'
import { traceEndOf, type SimCluster } from './sim/cluster'
import { clusterFromAlibaba } from './sim/fromAlibaba'
import { clusterFromHelios, heliosSpanMs } from './sim/fromHelios'
import { loadAlibabaV2023 } from './traces/alibaba'
import { loadHeliosVcs } from './traces/helios'
import type { LoadReport } from './traces/csv'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const DAY_MS = 86_400_000
const iso = (ms: number) => new Date(ms).toISOString()

/** Whether the replay should run: `on`, or `auto` with no real source configured. */
export function replayWanted(config: Config): boolean {
  if (config.replay.mode !== 'auto') return config.replay.mode === 'on'
  const c = config.collector
  return c.kubernetes.clusters.length === 0 && c.dcgm.targets.length === 0 && c.dcgm.prometheus === undefined && !c.aws.enabled
}

/** The folder holding the public traces: configured, else ../shared/fixtures beside the checkout, else test/fixtures/shared. */
export function fixturesDir(configured: string): string {
  const candidates = configured ? [resolve(configured)] : [join(ROOT, '..', 'shared', 'fixtures'), join(ROOT, 'test', 'fixtures', 'shared')]
  const found = candidates.find((d) => existsSync(d))
  if (!found) throw new InputError(`replay: no trace folder found (looked in ${candidates.join(', ')}); set replay.fixtures`)
  return found
}

/**
 * How far after the live start a looping trace ends: the part of the trace
 * the backfill does not cover (so the history starts where the trace does),
 * and at least a day. Without it the trace's end would be the start itself,
 * and every pod open there (all the idle, stuck and forgotten work the
 * history holds) would end the moment the live replay started its next lap.
 */
export function replayLeadMs(traceSpanMs: number, backfillDays: number): number {
  return Math.max(DAY_MS, traceSpanMs - backfillDays * DAY_MS)
}

/**
 * Loads the configured trace and builds the simulated cluster whose history
 * ends at `endMs` (now): Alibaba's snapshot instant is `endMs`; the Helios
 * month runs on for replayLeadMs after it, so the live replay continues it.
 */
export async function buildSimulation(config: Config['replay'], endMs: number, logger: Logger): Promise<SimCluster> {
  const dir = fixturesDir(config.fixtures)
  let sim: SimCluster
  let reports: LoadReport[]
  if (config.trace === 'helios') {
    const loaded = await loadHeliosVcs(join(dir, 'helios', 'Earth_vcs_2020-05'))
    reports = loaded.reports
    sim = clusterFromHelios(loaded.minutes, endMs, undefined, replayLeadMs(heliosSpanMs(loaded.minutes), config.backfillDays))
  } else {
    const loaded = await loadAlibabaV2023(join(dir, 'alibaba-pai-gpu-v2023'))
    reports = loaded.reports
    sim = clusterFromAlibaba(loaded.nodes, loaded.pods, endMs)
  }
  for (const r of reports) {
    if (r.skipped > 0) logger.warn({ file: r.file, skipped: r.skipped, firstBad: r.bad.slice(0, 5) }, 'trace rows skipped')
  }
  const gpus = sim.nodes.reduce((n, x) => n + x.gpus.length, 0)
  logger.info(
    { trace: sim.trace, cluster: sim.name, nodes: sim.nodes.length, gpus, pods: sim.pods.length, overcommitted: sim.overcommitted, traceBegin: iso(sim.beginMs), traceEnd: iso(traceEndOf(sim)) },
    'simulated cluster built',
  )
  return sim
}

const LAST_SAMPLE = "SELECT toUnixTimestamp64Milli(max(ts)) AS last, count() AS n FROM gpu_samples WHERE cluster = {c:String}"
const NODE_ROWS = 'SELECT count() AS n FROM node_state WHERE cluster = {c:String}'

/**
 * Backfills the simulation's history up to `sim.endMs` (where the live replay
 * starts): pods open there are stored open, as the live replay serves them
 * with the same uids from that instant on. Idempotent across restarts:
 * intervals are keyed by pod uid (rewriting is harmless), node state is
 * written only into an empty store, and samples only after the last one
 * already stored, so `npm start` twice never doubles the data.
 */
export async function backfillOnce(
  sim: SimCluster,
  config: Config,
  deps: { sinks: StoreSinks; query: QueryFn; logger: Logger; signal?: AbortSignal },
): Promise<BackfillResult> {
  const r = config.replay
  const toMs = sim.endMs
  const fromMs = Math.max(sim.beginMs, toMs - r.backfillDays * DAY_MS)
  const [last] = await deps.query<{ last: number | null; n: number }>(LAST_SAMPLE, { c: sim.name })
  const [nodes] = await deps.query<{ n: number }>(NODE_ROWS, { c: sim.name })
  const samplesFromMs = Math.max(toMs - r.sampleDays * DAY_MS, last && last.n > 0 && last.last !== null ? last.last + 1 : 0)
  const progress = createProgress(`backfill ${sim.name}`)
  const result = await backfill(sim, deps.sinks, {
    fromMs, toMs, samplesFromMs, sampleStepMs: r.sampleDays > 0 ? r.sampleStepMs : 0, notebookStepMs: Math.max(r.sampleStepMs, 600_000),
    kubernetes: config.collector.kubernetes, skipNodeState: (nodes?.n ?? 0) > 0, signal: deps.signal,
    onProgress: ({ done, total }) => progress.update(done, total),
  })
  progress.done(`${result.gpuSamples.toLocaleString('en-US')} GPU samples, ${result.workloadIntervals.toLocaleString('en-US')} workload intervals`)
  return result
}
