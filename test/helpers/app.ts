import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RequestHandler } from 'express'
import { createApp } from '../../api/app'
import { createMetrics } from '../../api/metrics'
import { backfill, type BackfillOptions } from '../../collector/replay/backfill'
import type { SimCluster } from '../../collector/replay/sim/cluster'
import { clusterFromHelios } from '../../collector/replay/sim/fromHelios'
import { loadHeliosVcs } from '../../collector/replay/traces/helios'
import type { Config } from '../../config/schema'
import { sharedFixtures } from './fixtures'
import { silentLogger, type TestStore } from './store'

/** An API app over a test store, listening on 127.0.0.1 at a free port. */
export interface TestApp {
  base: string
  close(): Promise<void>
}

/** Starts the real app (createApp) over the test store with a fixed clock, and optionally an auth stand-in. */
export async function startTestApp(ts: TestStore, opts: { now: () => number; auth?: RequestHandler; config?: Config }): Promise<TestApp> {
  const app = createApp({
    logger: silentLogger, metrics: createMetrics({ writerStats: () => [], collectorHealth: () => [] }), readiness: async () => [], version: 'test',
    routes: { query: ts.store.query, config: opts.config ?? ts.config, logger: silentLogger, now: opts.now },
    ...(opts.auth ? { auth: opts.auth } : {}),
  })
  const server: Server = app.listen(0, '127.0.0.1')
  await new Promise<void>((r) => server.once('listening', () => r()))
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

/** Writes the Helios Earth month, ending at `endMs`, into the test store through the replay backfill; returns the simulation. */
export async function backfillHelios(ts: TestStore, endMs: number, opts: Partial<Pick<BackfillOptions, 'sampleStepMs' | 'samplesFromMs' | 'notebookStepMs'>> = {}): Promise<SimCluster> {
  const { minutes } = await loadHeliosVcs(sharedFixtures('helios', 'Earth_vcs_2020-05'))
  const sim = clusterFromHelios(minutes, endMs)
  await backfill(sim, ts.writers.sinks, {
    fromMs: sim.beginMs, toMs: endMs, sampleStepMs: opts.sampleStepMs ?? 0, notebookStepMs: opts.notebookStepMs ?? 3_600_000,
    ...(opts.samplesFromMs !== undefined ? { samplesFromMs: opts.samplesFromMs } : {}), kubernetes: ts.config.collector.kubernetes,
  })
  await ts.writers.flush()
  return sim
}
