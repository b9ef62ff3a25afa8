/**
 * One idle evaluation: assess every running GPU workload (the same verdicts
 * as /idle), read exemptions for the ones with something due, plan warnings
 * and stops, send warnings and reminders to Slack, then carry out the stops
 * (each after a fresh re-read). Also the daily digest. The schedules
 * (schedule.ts) call these; tests call them with a fixed clock.
 */
import { assessRunning } from '../api/routes/idle'
import type { Config } from '../config/schema'
import { IDLE_CLASS, type IdleAssessment } from '../core/idleMachine'
import type { Logger, QueryFn, StoreSinks } from '../core/ports'
import type { IdleWorkload } from '../store/queries/idle'
import { ACTIONS, auditRecord, loadPriorDecisions, type AuditWriter } from './audit'
import { executeStops, readExemptions, type StopResult } from './enforcer/execute'
import { kubeActuatorsFrom, type KubeActuators } from './enforcer/kube'
import { blockerOf, dueWorkloads, noExemptions, planActions, type EnforcerPolicy } from './enforcer/plan'
import { teamDigest, type Consequence, type MessageContext } from './slack/blocks'
import { planReminders, sendReminders, sendWarnings, type NotifierDeps, type NotifyResult } from './slack/notify'
import { realSleep, slackRouter, type Sleep, type SlackRouter } from './slack/send'

/** How far back earlier decisions are read for deduplication (the idle history reaches as far). */
const PRIOR_MS = 30 * 24 * 3_600_000

/** What the alerts need from the process (cli/serve.ts builds it). */
export interface AlertsDeps {
  config: Config
  query: QueryFn
  sinks: Pick<StoreSinks, 'actions'>
  logger: Logger
  now: () => number
  /** Kubernetes writers by cluster; default: built from collector.kubernetes.clusters. */
  actuators?: KubeActuators
  /** Waits between Slack retries; default: a real sleep. */
  sleep?: Sleep
  /**
   * The scheduler's leadership term (leader election): aborted the moment
   * leadership is lost, after which no cluster change is made. Absent = this
   * process is the only scheduler.
   */
  leadership?: AbortSignal
}

/** The long-lived parts of the alerts: Slack channels and Kubernetes writers, built once. */
export interface AlertsRuntime {
  router: SlackRouter
  actuators: KubeActuators
  audit: AuditWriter
}

/** Builds the runtime from the deps. */
export function alertsRuntime(deps: AlertsDeps): AlertsRuntime {
  const a = deps.config.alerts
  return {
    router: slackRouter(a.slack, deps.sleep ?? realSleep),
    actuators: deps.actuators ?? kubeActuatorsFrom(deps.config.collector.kubernetes.clusters, a.enforcer.requestTimeoutMs),
    audit: (rows) => deps.sinks.actions.write(rows),
  }
}

/** Whether cluster changes are dry-run: the global switch or the enforcer's own. */
export const enforcerDryRun = (config: Config): boolean => config.alerts.dryRun || config.alerts.enforcer.dryRun

/** The enforcer policy of a config. */
export function enforcerPolicy(config: Config): EnforcerPolicy {
  const e = config.alerts.enforcer
  return {
    enabled: e.enabled, dryRun: enforcerDryRun(config), namespaceAllowList: e.namespaceAllowList, protectedNamespaces: e.protectedNamespaces,
    maxActionsPerRun: e.maxActionsPerRun, deleteBarePods: e.deleteBarePods, clusters: config.collector.kubernetes.clusters.map((c) => c.name), graceMs: config.idle.graceMs,
  }
}

/** The message context of a workload under a config at nowMs. */
export function messageContext(config: Config, nowMs: number): (w: IdleWorkload) => MessageContext {
  const s = config.alerts.slack
  return (w) => ({
    nowMs, usdPerGpuHour: config.alerts.usdPerGpuHour, dashboardUrl: s.dashboardUrl, snoozeUrl: s.snoozeUrl,
    exemptLabel: config.alerts.enforcer.exemptLabel, graceMs: config.idle.graceMs, ownerSlackId: s.userMap[w.user],
  })
}

/** What one evaluation did. */
export interface IdleEvaluation {
  nowMs: number
  /** Sources that failed while reading evidence (their verdicts say unknown where it mattered). */
  warnings: string[]
  warned: NotifyResult[]
  reminded: NotifyResult[]
  stops: StopResult[]
}

/**
 * Runs one evaluation at deps.now(): warnings and reminders first, then the
 * stops. A workload is never warned and stopped in the same run (a stop
 * needs a delivered warning one grace period earlier).
 */
export async function evaluateIdle(deps: AlertsDeps, rt: AlertsRuntime): Promise<IdleEvaluation> {
  const { config } = deps
  const nowMs = deps.now()
  const run = await assessRunning(deps.query, config.idle, nowMs)
  const policy = enforcerPolicy(config)
  const prior = await loadPriorDecisions(deps.query, nowMs - PRIOR_MS, [ACTIONS.warn, ACTIONS.stop, ACTIONS.remind])
  const due = dueWorkloads(run.assessed, nowMs)
  const warned = run.assessed.filter((x) => x.assessment.state === 'warned')
  const exemptions = policy.enabled ? await readExemptions([...due, ...warned.filter((x) => !due.includes(x))], rt.actuators, config.alerts.enforcer.exemptLabel) : noExemptions()
  const plan = planActions(run.assessed, policy, exemptions, nowMs)
  const consequenceOf = (w: IdleWorkload, a: IdleAssessment): Consequence => {
    const blocked = blockerOf(w, a, policy, exemptions)
    if (blocked) return { ...blocked, stopAtMs: undefined }
    return { outcome: policy.dryRun ? 'dry-run' : 'stop', reason: '', stopAtMs: (a.warnedAtMs ?? nowMs) + policy.graceMs }
  }
  const stopping = new Set(plan.stops.filter((s) => s.outcome === 'stop').map((s) => s.key))
  const reminders = planReminders(run.assessed, prior, config.alerts.slack.remindersMs, nowMs, consequenceOf).filter((r) => !stopping.has(r.key))
  const notifier: NotifierDeps = { router: rt.router, audit: rt.audit, now: deps.now, actor: config.alerts.actor, logger: deps.logger, dryRun: policy.dryRun, context: messageContext(config, nowMs) }
  const sentWarnings = await sendWarnings(plan.warns, prior, notifier)
  const sentReminders = await sendReminders(reminders, prior, notifier)
  const stops = await executeStops(plan.stops, prior, {
    query: deps.query, idle: config.idle, actuators: rt.actuators, audit: rt.audit, now: deps.now, exemptLabel: config.alerts.enforcer.exemptLabel,
    dryRun: policy.dryRun, actor: config.alerts.actor, logger: deps.logger, leadership: deps.leadership,
  })
  return { nowMs, warnings: run.warnings, warned: sentWarnings, reminded: sentReminders, stops }
}

/** What one digest run sent, per team. */
export interface DigestResult {
  team: string
  workloads: number
  delivered: boolean
  channel: string | undefined
}

/**
 * Sends each team its daily digest: every team with idle (idle, stuck, hung)
 * workloads, and every team with its own webhook (which hears "nothing idle"
 * too). Teams without any channel are skipped.
 */
export async function sendDigests(deps: AlertsDeps, rt: AlertsRuntime): Promise<DigestResult[]> {
  const { config } = deps
  const nowMs = deps.now()
  const run = await assessRunning(deps.query, config.idle, nowMs)
  const byTeam = new Map<string, Array<{ workload: IdleWorkload; assessment: IdleAssessment }>>(config.alerts.slack.teamWebhooks.map((t) => [t.team, []]))
  for (const x of run.assessed) if (IDLE_CLASS.has(x.assessment.verdict)) byTeam.set(x.workload.team, [...(byTeam.get(x.workload.team) ?? []), x])
  const ctx = messageContext(config, nowMs)
  const out: DigestResult[] = []
  for (const [team, rows] of [...byTeam].sort(([a], [b]) => a.localeCompare(b))) {
    const channel = rt.router.team(team)
    if (!channel) {
      out.push({ team, workloads: rows.length, delivered: false, channel: undefined })
      continue
    }
    const { ownerSlackId: _none, ...context } = ctx({ user: '' } as IdleWorkload)
    const message = teamDigest(team, rows, config.alerts.slack.digestTop, context)
    const d = await channel.send(message)
    await rt.audit([auditRecord({
      action: ACTIONS.digest, subject: { cluster: '', namespace: '', kind: 'Team', name: team }, decision: d.delivered ? 'sent' : 'failed', dryRun: false, acted: d.delivered,
      reason: d.error ?? `sent to ${channel.label}`, evidence: { team, workloads: rows.length, gpus: rows.reduce((n, r) => n + r.workload.evidence.gpus, 0), text: message.text, warnings: run.warnings },
    }, deps.now(), config.alerts.actor)])
    out.push({ team, workloads: rows.length, delivered: d.delivered, channel: channel.label })
  }
  return out
}
