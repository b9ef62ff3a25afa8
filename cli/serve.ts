import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startAdmissionTls } from '../alerts/admission'
import { connectLeaseApi, leaderIdentity } from '../alerts/leader/kubeLease'
import { createLeaderElector, type LeaderElector } from '../alerts/leader/lease'
import { startAlerts, type AlertsService } from '../alerts/schedule'
import { createApp } from '../api/app'
import { createAuth } from '../api/authMiddleware'
import { registerFleetMetrics, type FleetMetrics } from '../api/fleetMetrics'
import { createMetrics } from '../api/metrics'
import { CollectorHealth } from '../collector/health'
import { buildSources } from '../collector/index'
import { backfillOnce, buildSimulation, replayWanted } from '../collector/replay/index'
import { startLiveReplay, type LiveReplay } from '../collector/replay/live/driver'
import { configSchema } from '../config/schema'
import { CollectorScheduler } from '../collector/scheduler'
import type { LoadedConfig } from '../config/load'
import { UpstreamError } from '../core/errors'
import { createStore, type Store } from '../store/client'
import { migrate, readMigrations } from '../store/migrate'
import { createWriters, type StoreWriters } from '../store/sinks'
import { createLogger } from './logger'
import { planRole, shardCollectors, type RolePlan, type ServeOptions } from './roles'
import { VERSION } from './version'

/** A running service; `stop()` is the graceful shutdown. */
export interface Service {
  port: number
  /** What this process runs (`--role`). */
  plan: RolePlan
  /** The store writers' sinks: collectors (and tests) write through these. */
  sinks: StoreWriters['sinks']
  stop(reason: string): Promise<void>
}

/**
 * The composition root of `gpuscope serve`: loads nothing itself (config is
 * passed in), builds the store, writers, metrics and HTTP app, and wires
 * shutdown. The HTTP server listens first so /healthz answers at once;
 * /readyz turns 200 once migrations are applied.
 */
export async function startService(loaded: LoadedConfig, options: ServeOptions = {}): Promise<Service> {
  const plan = planRole(loaded.config, options)
  // A collector shard sees only its clusters; other roles build no collectors.
  const config = plan.collectors ? shardCollectors(loaded.config, options) : loaded.config
  const logger = createLogger(config.log).child({ role: plan.role })
  let store: Store | undefined
  let writers: StoreWriters | undefined
  let startupError: string | undefined
  let scheduler: CollectorScheduler | undefined
  let fleet: FleetMetrics | undefined
  let alerts: AlertsService | undefined
  let elector: LeaderElector | undefined
  let admissionTls: Awaited<ReturnType<typeof startAdmissionTls>>
  let replayState: string | undefined
  const replayAbort = new AbortController()
  let replayRun: Promise<void> | undefined
  let live: LiveReplay | undefined
  const health = new CollectorHealth()
  const startedMs = Date.now()
  const metrics = createMetrics({ writerStats: () => writers?.stats() ?? [], collectorHealth: () => health.snapshot(), schedulerLeader: () => elector?.isLeader() })

  const readiness = async (): Promise<string[]> => {
    if (startupError) return [`startup failed: ${startupError}`]
    if (!store || !writers) return ['store: opening and migrating']
    const problems = plan.collectors ? health.problems(startedMs) : []
    if (!plan.migrate) {
      const behind = await schemaBehind(store)
      if (behind) problems.push(behind)
    }
    if (replayState) problems.unshift(`replay: ${replayState}`)
    try {
      await store.query('SELECT 1')
    } catch (err) {
      problems.unshift(`store: ${(err as Error).message}`)
    }
    return problems
  }
  const app = createApp({ logger, metrics, readiness, version: VERSION, serveApi: plan.api, routes: { query: (sql, params) => (store ? store.query(sql, params) : Promise.reject(new UpstreamError('store not open yet'))), config, logger, now: Date.now }, auth: createAuth(config.auth) })
  const server = await listen(app, config.api.host, config.api.port)
  const port = (server.address() as AddressInfo).port
  logger.info({ host: config.api.host, port, configFile: loaded.file ?? null, version: VERSION, role: plan.role }, 'listening')

  try {
    store = await createStore(config.store)
    // The api role never runs DDL: N stateless replicas racing to migrate would be noise. It waits
    // (unready) for a collector, scheduler or `gpuscope migrate` Job to bring the schema up to date.
    const result = plan.migrate ? await migrate(store, config.store) : undefined
    writers = createWriters(store, config.store.writer, logger)
    logger.info({ store: store.mode, location: store.location, applied: result?.applied ?? 'not this role', ttlChanged: result?.ttlChanged ?? [] }, 'store ready')
    if (plan.fleetMetrics) {
      fleet = registerFleetMetrics(metrics.registry, { query: store.query, logger, now: Date.now, idle: config.idle })
      fleet.start()
    }
    if (plan.scheduler) {
      const alertDeps = { config, query: store.query, sinks: writers.sinks, logger, now: Date.now }
      const le = config.leaderElection
      if (le.enabled) {
        // Only the Lease holder schedules anything; the term's signal aborts the moment leadership is lost,
        // and every cluster change checks it right before it is made (alerts/evaluate.ts, burst/controller.ts).
        elector = createLeaderElector({
          api: await connectLeaseApi(le), namespace: le.namespace, name: le.leaseName, identity: leaderIdentity(le), logger,
          leaseDurationMs: le.leaseDurationMs, renewDeadlineMs: le.renewDeadlineMs, retryPeriodMs: le.retryPeriodMs,
          onStartedLeading: (signal) => {
            const svc = startAlerts({ ...alertDeps, leadership: signal })
            alerts = svc
            logger.info({ identity: leaderIdentity(le) }, 'scheduler leadership acquired: alerts, enforcer and burst controller running')
            signal.addEventListener('abort', () => void svc.stop(), { once: true })
          },
          onStoppedLeading: () => logger.warn('scheduler leadership lost: alerts, enforcer and burst controller stopped'),
        })
        elector.start()
      } else {
        if (plan.role === 'scheduler') logger.warn('scheduler role without leader election (leaderElection.enabled): run exactly one replica')
        alerts = startAlerts(alertDeps)
      }
    }
    if (plan.admissionTls) admissionTls = await startAdmissionTls({ config, query: store.query, logger, now: Date.now })
    const deps = { sinks: writers.sinks, query: store.query, logger, now: Date.now }
    const startCollectors = async (effective: typeof config, now: () => number = Date.now) => {
      const sources = buildSources(effective, { ...deps, now })
      scheduler = new CollectorScheduler(sources, health, logger)
      await scheduler.start()
      logger.info({ sources: sources.map((s) => s.name) }, sources.length ? 'collectors started' : 'no collector sources configured')
    }
    if (plan.replay && replayWanted(config)) {
      replayState = 'building the simulated cluster'
      const backfillDeps = { ...deps, signal: replayAbort.signal }
      // The backfill runs in the background: HTTP answers at once and /readyz says what is left.
      replayRun = (async () => {
        const sim = await buildSimulation(config.replay, Math.floor(Date.now() / 60_000) * 60_000, logger)
        replayState = `backfilling ${config.replay.backfillDays} days of ${sim.name}`
        await backfillOnce(sim, config, backfillDeps)
        replayState = undefined
        logger.info({ cluster: sim.name, trace: sim.trace }, 'replay backfill done: the data is a SIMULATED cluster replayed from a public trace')
        if (replayAbort.signal.aborted) return
        if (!config.replay.live) {
          announce(config.api.host, port, sim.name, sim.trace)
          return
        }
        live = await startLiveReplay(sim, { startMs: sim.endMs, speed: config.replay.speed, logger })
        const overlay = live.collectorConfig()
        // One virtual minute between live scrapes, like the backfill's resolution, whatever the speed.
        const intervalMs = Math.max(1_000, Math.round(60_000 / config.replay.speed))
        const dcgm = { ...overlay.dcgm, intervalMs, timeoutMs: Math.min(config.collector.dcgm.timeoutMs, intervalMs) }
        const effective = configSchema.parse({ ...config, collector: { ...config.collector, ...overlay, dcgm } })
        const replay = live
        await startCollectors(effective, () => replay.now())
        announce(config.api.host, port, sim.name, sim.trace)
      })().catch((err: unknown) => {
        if (replayAbort.signal.aborted) return
        replayState = `failed: ${(err as Error).message}`
        logger.error({ err: (err as Error).message }, 'replay failed')
      })
    } else if (plan.collectors) {
      await startCollectors(config)
    }
  } catch (err) {
    startupError = (err as Error).message
    logger.error({ err: startupError }, 'store failed to open')
    await closeServer(server)
    throw err
  }

  let stopping: Promise<void> | undefined
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'shutting down: closing HTTP, flushing writers, closing store')
      await closeServer(server)
      replayAbort.abort(new Error('shutting down'))
      await replayRun
      await admissionTls?.close()
      await elector?.stop() // stops acting first, then releases the Lease so a standby takes over at once
      await alerts?.stop() // waits for a run in flight so its audit rows are written
      await scheduler?.stop()
      await live?.stop()
      await fleet?.stop() // waits for a refresh in flight, so the store closes after it
      await writers?.close()
      await store?.close()
      logger.info({ written: writers?.stats().reduce((n, s) => n + s.rowsWritten, 0) ?? 0 }, 'stopped')
    })()
    return stopping
  }
  return { port, plan, sinks: (writers as StoreWriters).sinks, stop }
}

function listen(app: ReturnType<typeof createApp>, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host)
    server.once('listening', () => resolve(server))
    server.once('error', reject)
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeIdleConnections()
  })
}

/** Tells a person at the terminal what they are looking at and where (stderr, plain text). */
function announce(host: string, port: number, cluster: string, trace: string): void {
  const base = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`
  process.stderr.write(
    [
      '',
      `gpuscope is serving a SIMULATED cluster '${cluster}' replayed from a public trace (${trace}), not a real one.`,
      `  health:  ${base}/healthz   ready: ${base}/readyz`,
      `  metrics: ${base}/metrics`,
      '  Configure collector.kubernetes.clusters (or dcgm targets) to watch a real fleet; see README, Configuration.',
      '',
    ].join('\n'),
  )
}

/** Why the schema is not current for a role that does not migrate, or undefined when it is. */
async function schemaBehind(store: Store): Promise<string | undefined> {
  const latest = readMigrations().at(-1)?.version ?? 0
  try {
    const [row] = await store.query<{ v: number }>('SELECT max(version) AS v FROM schema_migrations')
    const applied = Number(row?.v ?? 0)
    return applied >= latest ? undefined : `schema: migration ${latest} not applied yet (store at ${applied}); run \`gpuscope migrate\` or start a collector or scheduler`
  } catch {
    return 'schema: not created yet; run `gpuscope migrate` or start a collector or scheduler'
  }
}
