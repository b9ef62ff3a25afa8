import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RequestHandler } from 'express'
import { createApp } from '../../api/app'
import { setPrincipal, type Principal } from '../../api/auth'
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

/** An auth stand-in for route tests: header `x-team: <t>` makes the request team-scoped, otherwise it runs as `fallback`. */
export function teamHeaderAuth(fallback: Principal): RequestHandler {
  return (req, res, next) => {
    const team = req.get('x-team')
    setPrincipal(res, team ? { role: 'team', name: `${team}-token`, team } : fallback)
    next()
  }
}

/** A GET answer as route tests read it: status, content type, and the body parsed as JSON when it is JSON. */
export interface Answer {
  status: number
  type: string
  body: any
}

/** GETs `base + path` with headers. */
export async function getFrom(base: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(base + path, { headers })
  const type = res.headers.get('content-type') ?? ''
  return { status: res.status, type, body: type.includes('json') ? await res.json() : await res.text() }
}
