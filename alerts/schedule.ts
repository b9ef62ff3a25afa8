/**
 * The alerts' schedules with node-cron: the idle evaluation (Slack alerts,
 * reminders, the enforcer), the daily digests and the burst controller, each
 * on a cron expression from config, in config's time zone. Runs of one job
 * never overlap: node-cron's noOverlap, and our own in-flight guard (which also
 * covers runNow). A failed run is logged and the next one starts fresh.
 * `stop()` destroys the tasks and waits for runs in flight, so the store can
 * close after it.
 */
import { createTask, type Logger as CronLogger, type ScheduledTask } from 'node-cron'
import type { Logger } from '../core/ports'
import { BurstController } from './burst/controller'
import { alertsRuntime, evaluateIdle, sendDigests, type AlertsDeps } from './evaluate'

/** One scheduled job. */
export interface ScheduledJob {
  name: string
  cron: string
  run: () => Promise<unknown>
}

/** What runNow reports. */
export type RunOutcome = { status: 'done'; result: unknown } | { status: 'skipped'; reason: string } | { status: 'failed'; error: string }

/** The running alerts. */
export interface AlertsService {
  /** Job names with their cron expressions. */
  jobs(): Array<{ name: string; cron: string }>
  /** Runs a job now unless a run of it is in flight (then it is skipped). */
  runNow(name: string): Promise<RunOutcome>
  /** Stops the schedules and waits for runs in flight. */
  stop(): Promise<void>
  /** The burst controller, when burst is enabled (its last decisions back the admission hook in this process). */
  burst: BurstController | undefined
}

/** node-cron's own messages (an overlap blocked, a missed tick) go to our logger, tagged with the job. */
function cronLogger(logger: Logger, job: string): CronLogger {
  const text = (m: string | Error) => (m instanceof Error ? m.message : m)
  return {
    info: (m) => logger.debug({ job }, m),
    warn: (m) => logger.warn({ job }, m),
    error: (m, err) => logger.error({ job, err: err?.message }, text(m)),
    debug: (m) => logger.debug({ job }, text(m)),
  }
}

/** The jobs a config asks for: idle evaluation when there is a channel or an enforcer, digests when there is a channel, burst when enabled. */
export function alertJobs(deps: AlertsDeps, burst: BurstController | undefined): ScheduledJob[] {
  const a = deps.config.alerts
  const rt = alertsRuntime(deps)
  const anyChannel = a.slack.defaultWebhookUrl !== '' || a.slack.teamWebhooks.length > 0 || a.slack.botToken !== ''
  const jobs: ScheduledJob[] = []
  if (anyChannel || a.enforcer.enabled) jobs.push({ name: 'idle', cron: a.evaluateCron, run: () => evaluateIdle(deps, rt) })
  if (anyChannel) jobs.push({ name: 'digest', cron: a.slack.digestCron, run: () => sendDigests(deps, rt) })
  if (burst) jobs.push({ name: 'burst', cron: a.burst.cron, run: () => burst.step() })
  return jobs
}

/**
 * Starts the alerts of a config (nothing when alerts.enabled is false) and
 * returns the service. Tasks are unref'd so they never keep a process alive.
 */
export function startAlerts(deps: AlertsDeps, options: { start?: boolean } = {}): AlertsService {
  const a = deps.config.alerts
  const burst = a.enabled && a.burst.enabled ? new BurstController(deps) : undefined
  const jobs = a.enabled ? alertJobs(deps, burst) : []
  const inFlight = new Map<string, Promise<RunOutcome>>()
  const runNow = (name: string): Promise<RunOutcome> => {
    const job = jobs.find((j) => j.name === name)
    if (!job) return Promise.resolve({ status: 'skipped', reason: `no job '${name}'` })
    if (inFlight.has(name)) return Promise.resolve({ status: 'skipped', reason: `a run of '${name}' is still in flight` })
    const started = Date.now()
    const p = job.run().then(
      (result): RunOutcome => ({ status: 'done', result }),
      (err: unknown): RunOutcome => ({ status: 'failed', error: err instanceof Error ? err.message : String(err) }),
    ).then((outcome) => {
      inFlight.delete(name)
      if (outcome.status === 'failed') deps.logger.error({ job: name, err: outcome.error }, 'alerts job failed')
      else deps.logger.debug({ job: name, durationMs: Date.now() - started }, 'alerts job done')
      return outcome
    })
    inFlight.set(name, p)
    return p
  }
  // Reclaim before burst: a burst held for idle GPUs asks the idle enforcer to run now.
  if (burst) burst.reclaimNow = () => runNow('idle')
  const tasks: ScheduledTask[] = options.start === false ? [] : jobs.map((j) => {
    const task = createTask(j.cron, async () => {
      const outcome = await runNow(j.name)
      if (outcome.status === 'skipped') deps.logger.warn({ job: j.name, reason: outcome.reason }, 'alerts run skipped')
    }, { name: `gpuscope-${j.name}`, noOverlap: true, timezone: a.timezone, unref: true, logger: cronLogger(deps.logger, j.name) })
    void task.start()
    return task
  })
  if (jobs.length) deps.logger.info({ jobs: jobs.map((j) => `${j.name} (${j.cron})`) }, 'alerts scheduled')
  let stopping: Promise<void> | undefined
  return {
    jobs: () => jobs.map((j) => ({ name: j.name, cron: j.cron })),
    runNow,
    burst,
    stop: () => {
      stopping ??= (async () => {
        await Promise.all(tasks.map((t) => t.destroy()))
        await Promise.all([...inFlight.values()])
      })()
      return stopping
    },
  }
}
