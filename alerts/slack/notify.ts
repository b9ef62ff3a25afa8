/**
 * Idle alerts and reminders to Slack, with their audit rows. A warning is the
 * `warn` row the idle state machine reads: written acted only when Slack took
 * the message, so the grace period starts when the owner could know, and an
 * undelivered warning is retried by the next run (it stays due). With no
 * channel for the team, the warning is audited once per episode as
 * `no-channel` and the workload is never stopped. Reminders go out at the
 * configured offsets after the warning, once per step per episode.
 */
import type { IdleAssessment } from '../../core/idleMachine'
import type { ActionRecord } from '../../core/model'
import type { Logger } from '../../core/ports'
import type { IdleWorkload } from '../../store/queries/idle'
import { ACTIONS, auditRecord, idleEvidence, isRepeat, subjectOf, workloadKey, type AuditWriter, type PriorDecisions } from '../audit'
import type { PlannedAction } from '../enforcer/plan'
import { idleAlert, idleReminder, type Consequence, type MessageContext } from './blocks'
import type { Delivery, SlackChannel, SlackMessage, SlackRouter } from './send'

/** What the notifier needs. */
export interface NotifierDeps {
  router: SlackRouter
  audit: AuditWriter
  now: () => number
  actor: string
  logger: Logger
  /** Whether the enforcer is in dry-run (recorded on the rows). */
  dryRun: boolean
  /** The message context of a workload (owner mention, prices, links). */
  context: (w: IdleWorkload) => MessageContext
}

/** A reminder due now. */
export interface PlannedReminder {
  key: string
  workload: IdleWorkload
  assessment: IdleAssessment
  /** 1-based: the number of reminder offsets passed since the warning. */
  step: number
  consequence: Consequence
}

/** The result of one warning or reminder. */
export interface NotifyResult {
  key: string
  action: string
  decision: 'sent' | 'failed' | 'no-channel'
  channels: string[]
  error?: string
}

/**
 * Reminders due at nowMs: for each warned workload, the number of offsets
 * (from the warning) already passed; one reminder when that is above the
 * highest step sent in this episode (several passed offsets give one message).
 */
export function planReminders(
  assessed: ReadonlyArray<{ workload: IdleWorkload; assessment: IdleAssessment }>, prior: PriorDecisions, offsetsMs: readonly number[],
  nowMs: number, consequenceOf: (w: IdleWorkload, a: IdleAssessment) => Consequence,
): PlannedReminder[] {
  const out: PlannedReminder[] = []
  for (const { workload, assessment: a } of assessed) {
    if (a.state !== 'warned' || a.warnedAtMs === undefined) continue
    const warnedAtMs = a.warnedAtMs
    const due = offsetsMs.filter((o) => warnedAtMs + o <= nowMs).length
    const key = workloadKey(workload)
    const sent = Math.max(0, ...(prior.get(key) ?? []).filter((p) => p.action === ACTIONS.remind && p.acted && p.tsMs >= warnedAtMs).map((p) => p.step))
    if (due > sent) out.push({ key, workload, assessment: a, step: due, consequence: consequenceOf(workload, a) })
  }
  return out
}

/** Sends one message to every channel of a workload (its team's channel, and a DM to the owner when mapped). */
async function fanOut(channels: readonly SlackChannel[], message: SlackMessage): Promise<{ delivered: boolean; errors: string[]; deliveries: Delivery[] }> {
  const deliveries: Delivery[] = []
  for (const c of channels) deliveries.push(await c.send(message))
  return { delivered: deliveries.some((d) => d.delivered), errors: deliveries.flatMap((d) => (d.error ? [d.error] : [])), deliveries }
}

const channelsOf = (router: SlackRouter, w: IdleWorkload): SlackChannel[] =>
  [router.team(w.team), router.dm(w.user)].filter((c): c is SlackChannel => c !== undefined)

interface Notice {
  key: string
  action: string
  workload: IdleWorkload
  assessment: IdleAssessment
  message: SlackMessage
  evidence: Record<string, unknown>
}

async function notify(n: Notice, prior: PriorDecisions, deps: NotifierDeps, rows: ActionRecord[]): Promise<NotifyResult> {
  const channels = channelsOf(deps.router, n.workload)
  const labels = channels.map((c) => c.label)
  const sent = channels.length ? await fanOut(channels, n.message) : undefined
  const decision: NotifyResult['decision'] = !sent ? 'no-channel' : sent.delivered ? 'sent' : 'failed'
  const reason = !sent ? `no Slack channel for team '${n.workload.team}' (no team or default webhook)` : sent.delivered ? `sent to ${labels.join(', ')}` : sent.errors.join('; ')
  const acted = decision === 'sent'
  if (acted || !isRepeat(prior, n.key, n.action, decision, n.assessment.idleSinceMs)) {
    const evidence = { ...idleEvidence(n.workload, n.assessment), ...n.evidence, channels: labels, attempts: sent?.deliveries.map((d) => d.attempts) ?? [], text: n.message.text }
    rows.push(auditRecord({ action: n.action, subject: subjectOf(n.workload), decision, dryRun: deps.dryRun, acted, reason, evidence }, deps.now(), deps.actor))
  }
  if (decision === 'failed') deps.logger.warn({ workload: n.key, action: n.action, channels: labels, error: reason }, 'slack alert not delivered')
  return { key: n.key, action: n.action, decision, channels: labels, ...(decision === 'sent' ? {} : { error: reason }) }
}

/** Sends the planned warnings (one per idle episode: a delivered warning moves the workload to warned); the audit rows are written together at the end. */
export async function sendWarnings(warns: readonly PlannedAction[], prior: PriorDecisions, deps: NotifierDeps): Promise<NotifyResult[]> {
  const out: NotifyResult[] = []
  const rows: ActionRecord[] = []
  for (const p of warns) {
    const consequence: Consequence = { outcome: p.outcome, reason: p.reason, stopAtMs: p.stopAtMs }
    const message = idleAlert(p.workload, p.assessment, consequence, deps.context(p.workload))
    out.push(await notify({ key: p.key, action: ACTIONS.warn, workload: p.workload, assessment: p.assessment, message, evidence: { consequence } }, prior, deps, rows))
  }
  if (rows.length) await deps.audit(rows)
  return out
}

/** Sends the planned reminders. */
export async function sendReminders(reminders: readonly PlannedReminder[], prior: PriorDecisions, deps: NotifierDeps): Promise<NotifyResult[]> {
  const out: NotifyResult[] = []
  const rows: ActionRecord[] = []
  for (const r of reminders) {
    const message = idleReminder(r.workload, r.assessment, r.consequence, r.step, deps.context(r.workload))
    out.push(await notify({ key: r.key, action: ACTIONS.remind, workload: r.workload, assessment: r.assessment, message, evidence: { reminderStep: r.step, consequence: r.consequence } }, prior, deps, rows))
  }
  if (rows.length) await deps.audit(rows)
  return out
}
