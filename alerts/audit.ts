/**
 * The audit log as alerts/ writes and reads it: every warning, reminder,
 * digest, stop and burst decision is one `actions` row (core/model.ts
 * ActionRecord) with its evidence, acted or not. The names `warn` and `stop`
 * are the ones core/idleMachine.ts reads to move a workload to warned and
 * stopped; the rest are alerts/ bookkeeping.
 */
import { randomUUID } from 'node:crypto'
import type { IdleAssessment } from '../core/idleMachine'
import { IDLE_ACTIONS } from '../core/idleMachine'
import type { ActionRecord } from '../core/model'
import type { QueryFn } from '../core/ports'
import type { IdleWorkload } from '../store/queries/idle'

/** Action names in the audit log. */
export const ACTIONS = {
  warn: IDLE_ACTIONS.warn,
  stop: IDLE_ACTIONS.stop,
  remind: 'remind',
  digest: 'digest',
  burstOut: 'burst-scale-out',
  burstIn: 'burst-scale-in',
  burstHold: 'burst-hold',
} as const

/** Writes audit rows durably (the store's actions sink). */
export type AuditWriter = (rows: readonly ActionRecord[]) => Promise<void>

/** What an audit row is about: a workload, a team (digests) or a pool (burst). */
export interface AuditSubject {
  cluster: string
  namespace: string
  kind: string
  name: string
}

/** The fields of one audit row a caller chooses. */
export interface AuditEntry {
  action: string
  subject: AuditSubject
  decision: string
  dryRun: boolean
  acted: boolean
  reason: string
  evidence: unknown
}

/** One audit row at nowMs with a fresh id. */
export function auditRecord(e: AuditEntry, nowMs: number, actor: string): ActionRecord {
  return {
    tsMs: nowMs, id: randomUUID(), action: e.action, cluster: e.subject.cluster, namespace: e.subject.namespace,
    workloadKind: e.subject.kind, workloadName: e.subject.name, decision: e.decision, dryRun: e.dryRun, acted: e.acted,
    reason: e.reason, evidence: e.evidence, actor,
  }
}

/** The audit subject of a workload. */
export const subjectOf = (w: Pick<IdleWorkload, 'cluster' | 'namespace' | 'kind' | 'name'>): AuditSubject => ({ cluster: w.cluster, namespace: w.namespace, kind: w.kind, name: w.name })

/** A workload's identity as one string: cluster/namespace/kind/name. */
export const workloadKey = (w: { cluster: string; namespace: string; kind: string; name: string }): string => `${w.cluster}/${w.namespace}/${w.kind}/${w.name}`

/** The facts an idle decision rested on, as kept in the audit row (owner, GPUs, verdict, state, idle since, waste, signals). */
export function idleEvidence(w: IdleWorkload, a: IdleAssessment): Record<string, unknown> {
  return {
    team: w.team, project: w.project, user: w.user, gpus: w.evidence.gpus, pods: w.pods, nodes: w.nodes,
    verdict: a.verdict, state: a.state, idleSinceMs: a.idleSinceMs ?? null, idleSinceExact: a.idleSinceExact, wastedGpuHours: a.wastedGpuHours,
    warnedAtMs: a.warnedAtMs ?? null, nextAction: a.nextAction ?? null, metric: a.metric, maxUtilRatio: a.maxUtilRatio, coverageRatio: a.coverageRatio,
    kernel: a.kernel ?? null, signals: a.signals,
  }
}

/** Per workload, action and decision: the newest row since fromMs and the highest reminder step. */
const PRIOR_DECISIONS = `
SELECT cluster, namespace, workload_kind, workload_name, action, decision, acted,
       toUnixTimestamp64Milli(max(ts)) AS ts_ms, max(JSONExtractInt(evidence, 'reminderStep')) AS step
FROM actions FINAL
WHERE ts >= fromUnixTimestamp64Milli({fromMs:Int64}) AND action IN {actions:Array(String)}
GROUP BY cluster, namespace, workload_kind, workload_name, action, decision, acted`

/** One earlier decision about a workload. */
export interface PriorDecision {
  action: string
  decision: string
  acted: boolean
  tsMs: number
  /** Reminder step (1-based) for `remind` rows; 0 otherwise. */
  step: number
}

/** Earlier decisions by workload key (cluster/namespace/kind/name), for deduplication within an idle episode. */
export type PriorDecisions = ReadonlyMap<string, readonly PriorDecision[]>

/** Reads the decisions of `actions` since fromMs, grouped by workload. */
export async function loadPriorDecisions(query: QueryFn, fromMs: number, actions: readonly string[]): Promise<PriorDecisions> {
  const rows = await query<{ cluster: string; namespace: string; workload_kind: string; workload_name: string; action: string; decision: string; acted: boolean | number; ts_ms: number; step: number }>(
    PRIOR_DECISIONS, { fromMs, actions: [...actions] },
  )
  const out = new Map<string, PriorDecision[]>()
  for (const r of rows) {
    const key = workloadKey({ cluster: r.cluster, namespace: r.namespace, kind: r.workload_kind, name: r.workload_name })
    const list = out.get(key) ?? []
    list.push({ action: r.action, decision: r.decision, acted: Boolean(r.acted), tsMs: Number(r.ts_ms), step: Number(r.step) })
    out.set(key, list)
  }
  return out
}

/** Whether the same decision (not acted) was already recorded in this idle episode: it is not written again. */
export function isRepeat(prior: PriorDecisions, key: string, action: string, decision: string, episodeStartMs: number | undefined): boolean {
  return (prior.get(key) ?? []).some((p) => p.action === action && p.decision === decision && !p.acted && p.tsMs >= (episodeStartMs ?? Infinity))
}

/** Replaces every given secret in a text (error messages from HTTP clients) with <redacted>. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of secrets) if (s) out = out.split(s).join('<redacted>')
  return out
}

/** The audit log, newest first, with optional filters; a team filter matches the team recorded in the evidence. */
const AUDIT_LOG = `
SELECT toUnixTimestamp64Milli(ts) AS ts_ms, id, action, cluster, namespace, workload_kind, workload_name, decision, dry_run, acted, reason, evidence, actor
FROM actions FINAL
WHERE ts >= fromUnixTimestamp64Milli({fromMs:Int64}) AND ts <= fromUnixTimestamp64Milli({toMs:Int64})
  AND ({action:String} = '' OR action = {action:String}) AND ({cluster:String} = '' OR cluster = {cluster:String})
  AND ({namespace:String} = '' OR namespace = {namespace:String}) AND ({name:String} = '' OR workload_name = {name:String})
  AND ({team:String} = '' OR JSONExtractString(evidence, 'team') = {team:String})
ORDER BY ts DESC, id
LIMIT {limit:UInt32}`

/** Filters of the audit log read; empty strings match everything. */
export interface AuditFilter {
  fromMs: number
  toMs: number
  limit: number
  action?: string | undefined
  cluster?: string | undefined
  namespace?: string | undefined
  name?: string | undefined
  team?: string | undefined
}

/** Reads audit rows (evidence parsed back from JSON), newest first. */
export async function loadAuditLog(query: QueryFn, f: AuditFilter): Promise<ActionRecord[]> {
  const rows = await query<{ ts_ms: number; id: string; action: string; cluster: string; namespace: string; workload_kind: string; workload_name: string; decision: string; dry_run: boolean | number; acted: boolean | number; reason: string; evidence: string; actor: string }>(
    AUDIT_LOG, { fromMs: f.fromMs, toMs: f.toMs, limit: f.limit, action: f.action ?? '', cluster: f.cluster ?? '', namespace: f.namespace ?? '', name: f.name ?? '', team: f.team ?? '' },
  )
  return rows.map((r) => {
    let evidence: unknown
    try {
      evidence = JSON.parse(r.evidence)
    } catch {
      evidence = r.evidence
    }
    return {
      tsMs: Number(r.ts_ms), id: r.id, action: r.action, cluster: r.cluster, namespace: r.namespace, workloadKind: r.workload_kind, workloadName: r.workload_name,
      decision: r.decision, dryRun: Boolean(r.dry_run), acted: Boolean(r.acted), reason: r.reason, evidence, actor: r.actor,
    }
  })
}
