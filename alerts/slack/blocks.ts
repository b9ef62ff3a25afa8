/**
 * Block Kit messages, pure: the idle alert (workload, owner, team, GPUs, idle
 * since, waste and its cost, the evidence, what happens when, how to keep it,
 * a dashboard link), its reminders, and the daily team digest. Times are
 * Slack date tokens (shown in the reader's time zone) with an RFC 3339
 * fallback; GPU counts keep MIG fractions.
 */
import type { IdleAssessment } from '../../core/idleMachine'
import { formatDuration } from '../../core/windows'
import type { IdleWorkload } from '../../store/queries/idle'
import type { StopOutcome } from '../enforcer/plan'
import type { SlackMessage } from './send'

/** What every message needs besides the workload. */
export interface MessageContext {
  nowMs: number
  /** Price of a GPU-hour for the cost line; undefined = GPU-hours only. */
  usdPerGpuHour: number | undefined
  dashboardUrl: string
  /** Template with {cluster} {namespace} {kind} {name}; empty = no snooze link. */
  snoozeUrl: string
  exemptLabel: string
  graceMs: number
  /** Slack member id of the owner, for a mention. */
  ownerSlackId: string | undefined
}

/** What the owner is told will happen, from the enforcement plan. */
export interface Consequence {
  outcome: StopOutcome
  reason: string
  stopAtMs: number | undefined
}

type Block = Record<string, unknown>

const mrkdwn = (text: string) => ({ type: 'mrkdwn', text })
const section = (text: string): Block => ({ type: 'section', text: mrkdwn(text) })
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')

/** A Slack date token: the reader's local time, with an RFC 3339 fallback. */
export const slackDate = (ms: number): string => `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${iso(ms)}>`

/** GPUs for people: whole numbers plain, MIG slices and shares to two decimals. */
export const gpusText = (gpus: number): string => (Number.isInteger(gpus) ? String(gpus) : gpus.toFixed(2))

/** Wasted GPU-hours, and their cost when a price is known. */
export function wasteText(gpuHours: number, usdPerGpuHour: number | undefined): string {
  const hours = `${gpuHours.toFixed(1)} GPU-hours`
  return usdPerGpuHour === undefined ? hours : `${hours} (~$${(gpuHours * usdPerGpuHour).toFixed(2)})`
}

const KUBECTL_RESOURCE: Record<string, string> = { Notebook: 'notebooks.kubeflow.org', Job: 'job', Deployment: 'deployment', StatefulSet: 'statefulset', Pod: 'pod' }

const HOW_STOPPED: Record<string, string> = {
  Notebook: 'by setting the `kubeflow-resource-stopped` annotation (the notebook\'s own Stop; its volume is kept)',
  Job: 'by suspending it (`spec.suspend: true`)',
  Deployment: 'by scaling it to 0 (the replicas are kept in the `gpuscope.io/replicas-before-stop` annotation)',
  StatefulSet: 'by scaling it to 0 (the replicas are kept in the `gpuscope.io/replicas-before-stop` annotation)',
  Pod: 'by deleting the pod',
}

/** The "what happens next" sentence for a consequence. */
export function whatHappens(kind: string, c: Consequence): string {
  if (c.outcome === 'stop' && c.stopAtMs !== undefined) return `If it stays idle, gpuscope stops it at ${slackDate(c.stopAtMs)} ${HOW_STOPPED[kind] ?? ''}.`
  if (c.outcome === 'dry-run' && c.stopAtMs !== undefined) return `gpuscope runs in dry-run: it would stop it at ${slackDate(c.stopAtMs)}; nothing will be changed.`
  if (c.outcome === 'exempt') return `It is exempt (${esc(c.reason)}): it will not be stopped.`
  return `It will not be stopped automatically: ${esc(c.reason)}.`
}

/** The "how to keep it" sentence: use it, label it exempt, or snooze. */
export function howToKeep(w: IdleWorkload, ctx: MessageContext): string {
  const resource = KUBECTL_RESOURCE[w.kind] ?? w.kind.toLowerCase()
  const label = `\`kubectl label ${resource} ${w.name} -n ${w.namespace} ${ctx.exemptLabel}=true\``
  const snooze = ctx.snoozeUrl ? ` or <${fill(ctx.snoozeUrl, w)}|snooze this alert>` : ''
  return `Use the GPUs again, or exempt it: ${label}${snooze}. Free them when you are done.`
}

const fill = (template: string, w: IdleWorkload): string =>
  template.replace(/\{(cluster|namespace|kind|name)\}/g, (_m, k: 'cluster' | 'namespace' | 'kind' | 'name') => encodeURIComponent(w[k]))

/** The dashboard link of a workload, or undefined without a dashboard URL. */
export function dashboardLink(base: string, params: Record<string, string>): string | undefined {
  if (!base) return undefined
  const url = new URL(base)
  for (const [k, v] of Object.entries(params)) url.searchParams.set(`var-${k}`, v)
  return url.toString()
}

const METRIC_NAMES: Record<string, string> = { grEngineActive: 'DCGM_FI_PROF_GR_ENGINE_ACTIVE', gpuUtil: 'DCGM_FI_DEV_GPU_UTIL', mixed: 'GR_ENGINE_ACTIVE and GPU_UTIL' }

/** Signals whose note does not carry their value: shown as `note: value`. */
const RATIO_SIGNALS = new Set(['maxUtilRatio', 'coverage'])

const pct = (v: number): string => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`

/** The signals worth showing people (not the device count, metric or waste, which the message shows elsewhere), at most six. */
export function evidenceLines(a: IdleAssessment): string[] {
  return a.signals
    .filter((s) => s.name !== 'devices' && s.name !== 'wastedGpuHours' && s.name !== 'metric')
    .slice(0, 6)
    .map((s) => {
      if (!RATIO_SIGNALS.has(s.name)) return `• ${esc(s.note)}`
      const value = typeof s.value === 'number' ? pct(s.value) : 'no samples'
      const metric = s.name === 'maxUtilRatio' && METRIC_NAMES[a.metric] ? ` of ${METRIC_NAMES[a.metric]}` : ''
      return `• ${esc(s.note)}: ${value}${metric}`
    })
}

const owner = (w: IdleWorkload, ctx: MessageContext) => (ctx.ownerSlackId ? `<@${ctx.ownerSlackId}>` : esc(w.user || 'unknown'))

function facts(w: IdleWorkload, a: IdleAssessment, ctx: MessageContext): Block {
  const since = a.idleSinceMs === undefined ? 'unknown' : `${slackDate(a.idleSinceMs)}${a.idleSinceExact ? '' : ' or earlier'}`
  return {
    type: 'section',
    fields: [
      mrkdwn(`*Workload*\n${esc(w.kind)} \`${esc(w.namespace)}/${esc(w.name)}\` on ${esc(w.cluster)}`),
      mrkdwn(`*Owner*\n${owner(w, ctx)}`),
      mrkdwn(`*Team*\n${esc(w.team || 'unknown')}`),
      mrkdwn(`*GPUs held*\n${gpusText(w.evidence.gpus)}`),
      mrkdwn(`*Idle since*\n${since}`),
      mrkdwn(`*Wasted*\n${wasteText(a.wastedGpuHours, ctx.usdPerGpuHour)}`),
    ],
  }
}

function tail(w: IdleWorkload, ctx: MessageContext, note: string): Block[] {
  const link = dashboardLink(ctx.dashboardUrl, { cluster: w.cluster, namespace: w.namespace, workload: w.name })
  const out: Block[] = []
  if (link) out.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in gpuscope' }, url: link }] })
  out.push({ type: 'context', elements: [mrkdwn(note)] })
  return out
}

const verdictWord = (a: IdleAssessment): string => (a.verdict === 'stuck' ? 'stuck (no GPU activity since it started)' : a.verdict === 'hung' ? 'hung (kernel busy, GPUs idle)' : 'idle')

/** The first alert of an idle episode. */
export function idleAlert(w: IdleWorkload, a: IdleAssessment, c: Consequence, ctx: MessageContext): SlackMessage {
  const text = `${w.kind} ${w.namespace}/${w.name} holds ${gpusText(w.evidence.gpus)} GPU(s) ${a.verdict}: ${wasteText(a.wastedGpuHours, ctx.usdPerGpuHour)} wasted so far`
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `GPU workload ${verdictWord(a).split(' ')[0]}: ${w.name}`.slice(0, 150) } },
      facts(w, a, ctx),
      section(`*Evidence*\n${evidenceLines(a).join('\n') || '• (none recorded)'}`),
      section(`*What happens next*\n${whatHappens(w.kind, c)}`),
      section(`*How to keep it*\n${howToKeep(w, ctx)}`),
      ...tail(w, ctx, `gpuscope idle alert · ${verdictWord(a)} · one alert per idle episode`),
    ],
  }
}

/** A reminder `step` (1-based) of an idle episode already warned about. */
export function idleReminder(w: IdleWorkload, a: IdleAssessment, c: Consequence, step: number, ctx: MessageContext): SlackMessage {
  const warned = a.warnedAtMs === undefined ? '' : ` since the warning ${formatDuration(Math.max(0, ctx.nowMs - a.warnedAtMs))} ago`
  const text = `Reminder: ${w.kind} ${w.namespace}/${w.name} is still ${a.verdict}${warned}: ${wasteText(a.wastedGpuHours, ctx.usdPerGpuHour)} wasted`
  return {
    text,
    blocks: [
      section(`:hourglass: *Reminder ${step}*: ${esc(w.kind)} \`${esc(w.namespace)}/${esc(w.name)}\` is still ${verdictWord(a)}${warned}.`),
      facts(w, a, ctx),
      section(`*What happens next*\n${whatHappens(w.kind, c)}`),
      section(`*How to keep it*\n${howToKeep(w, ctx)}`),
      ...tail(w, ctx, `gpuscope idle reminder ${step}`),
    ],
  }
}

/** One line of a digest. */
export interface DigestRow {
  workload: IdleWorkload
  assessment: IdleAssessment
}

/** The daily digest of one team: idle GPUs, waste, and the most wasteful workloads. */
export function teamDigest(team: string, rows: readonly DigestRow[], top: number, ctx: Omit<MessageContext, 'ownerSlackId'>): SlackMessage {
  const gpus = rows.reduce((n, r) => n + r.workload.evidence.gpus, 0)
  const wasted = rows.reduce((n, r) => n + r.assessment.wastedGpuHours, 0)
  const text = `gpuscope daily digest for ${team}: ${rows.length} idle workload(s) hold ${gpusText(gpus)} GPU(s), ${wasteText(wasted, ctx.usdPerGpuHour)} wasted`
  const sorted = [...rows].sort((x, y) => y.assessment.wastedGpuHours - x.assessment.wastedGpuHours || x.workload.name.localeCompare(y.workload.name))
  const lines = sorted.slice(0, top).map(({ workload: w, assessment: a }) =>
    `• ${esc(w.kind)} \`${esc(w.namespace)}/${esc(w.name)}\` (${esc(w.user || 'unknown')}): ${gpusText(w.evidence.gpus)} GPU(s) ${a.state === 'warned' ? 'warned, ' : ''}${a.verdict} since ${a.idleSinceMs === undefined ? 'unknown' : slackDate(a.idleSinceMs)}, ${wasteText(a.wastedGpuHours, ctx.usdPerGpuHour)}`)
  const more = sorted.length > top ? [`…and ${sorted.length - top} more`] : []
  const link = dashboardLink(ctx.dashboardUrl, { team })
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `Idle GPUs of ${team}`.slice(0, 150) } },
      section(`*${rows.length}* idle workload(s) hold *${gpusText(gpus)}* GPU(s); *${wasteText(wasted, ctx.usdPerGpuHour)}* wasted in their current idle stretches.`),
      section(rows.length ? [...lines, ...more].join('\n') : 'No idle GPU workloads. :tada:'),
      ...(link ? [{ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in gpuscope' }, url: link }] }] : []),
      { type: 'context', elements: [mrkdwn(`gpuscope daily digest · ${iso(ctx.nowMs)}`)] },
    ],
  }
}
