/**
 * Enforcement planning, pure: from the assessed running workloads (the idle
 * state machine of core/idleMachine.ts), the enforcer policy and the
 * exemptions read from the cluster, which warnings are due and which stops,
 * each with what will happen and why. Nothing here reads a clock or the
 * network: the executor (execute.ts) re-reads fresh evidence before acting.
 */
import type { IdleAssessment } from '../../core/idleMachine'
import type { IdleWorkload } from '../../store/queries/idle'
import { workloadKey } from '../audit'
import { isStoppable } from './kinds'

/** The enforcer settings planning needs (config/alerts.ts `enforcer`, with the global dry-run folded in). */
export interface EnforcerPolicy {
  enabled: boolean
  dryRun: boolean
  namespaceAllowList: readonly string[]
  protectedNamespaces: readonly string[]
  maxActionsPerRun: number
  deleteBarePods: boolean
  /** Clusters gpuscope holds credentials for (collector.kubernetes.clusters). */
  clusters: readonly string[]
  /** Time from the warning to the stop (idle policy graceMs). */
  graceMs: number
}

/** What the cluster says about exemptions, by workload key; a workload whose labels could not be read is never stopped. */
export interface Exemptions {
  /** Exempt workloads and why (the label on the workload or on its namespace). */
  exempt: ReadonlyMap<string, string>
  /** Workloads whose labels could not be read, and why. */
  unverified: ReadonlyMap<string, string>
}

/** No exemptions known and nothing unverified. */
export const noExemptions = (): Exemptions => ({ exempt: new Map(), unverified: new Map() })

/**
 * What a stop will do: `stop` (act), `dry-run` (would act), or why not:
 * the enforcer is off or the kind is not allowed (`disabled`), gpuscope cannot
 * stop the kind (`unsupported`), a hung notebook (`hung`, never stopped), the
 * namespace is not allowed (`not-allowed`), no credentials for the cluster
 * (`no-cluster`), labels unreadable (`unverified`), `exempt`, or the per-run
 * cap was reached (`limit`).
 */
export type StopOutcome = 'stop' | 'dry-run' | 'disabled' | 'unsupported' | 'hung' | 'not-allowed' | 'no-cluster' | 'unverified' | 'exempt' | 'limit'

/** One planned warning or stop. */
export interface PlannedAction {
  key: string
  workload: IdleWorkload
  assessment: IdleAssessment
  action: 'warn' | 'stop'
  /** When the action fell due (the state machine's nextAction). */
  dueAtMs: number
  /** For a stop: what the enforcer does; for a warning: what the owner is told will happen after the grace period. */
  outcome: StopOutcome
  reason: string
  /** For a warning whose workload will be stopped (or would be, in dry-run) if it stays idle: when. */
  stopAtMs?: number | undefined
}

/** The warnings and stops due in one run. */
export interface EnforcementPlan {
  warns: PlannedAction[]
  stops: PlannedAction[]
}

/** The assessed workloads whose next action (warn or stop) is due at nowMs. */
export function dueWorkloads<T extends { assessment: IdleAssessment }>(assessed: readonly T[], nowMs: number): T[] {
  return assessed.filter((x) => x.assessment.nextAction !== undefined && x.assessment.nextAction.atMs <= nowMs)
}

/** Why a workload may not be stopped, or undefined when it may be (before the dry-run and the per-run cap). */
export function blockerOf(w: IdleWorkload, a: IdleAssessment, policy: EnforcerPolicy, ex: Exemptions): { outcome: StopOutcome; reason: string } | undefined {
  const key = workloadKey(w)
  if (a.verdict === 'hung') return { outcome: 'hung', reason: 'a notebook whose kernel is busy is active by the Kubeflow culling contract: it is never stopped, only reported' }
  if (!policy.enabled) return { outcome: 'disabled', reason: 'the idle-shutdown enforcer is off (alerts.enforcer.enabled)' }
  if (!isStoppable(w.kind)) return { outcome: 'unsupported', reason: `gpuscope does not stop a ${w.kind}` }
  if (w.kind === 'Pod' && !policy.deleteBarePods) return { outcome: 'disabled', reason: 'a bare pod can only be deleted, which alerts.enforcer.deleteBarePods does not allow' }
  if (policy.protectedNamespaces.includes(w.namespace)) return { outcome: 'not-allowed', reason: `namespace ${w.namespace} is protected` }
  if (policy.namespaceAllowList.length > 0 && !policy.namespaceAllowList.includes(w.namespace)) return { outcome: 'not-allowed', reason: `namespace ${w.namespace} is not in the allow-list` }
  if (!policy.clusters.includes(w.cluster)) return { outcome: 'no-cluster', reason: `gpuscope has no credentials for cluster ${w.cluster}` }
  const unverified = ex.unverified.get(key)
  if (unverified !== undefined) return { outcome: 'unverified', reason: `exemption labels could not be read: ${unverified}` }
  const exempt = ex.exempt.get(key)
  if (exempt !== undefined) return { outcome: 'exempt', reason: exempt }
  return undefined
}

const byWaste = (x: { workload: IdleWorkload; assessment: IdleAssessment }, y: { workload: IdleWorkload; assessment: IdleAssessment }): number =>
  y.assessment.wastedGpuHours - x.assessment.wastedGpuHours || y.workload.evidence.gpus - x.workload.evidence.gpus || workloadKey(x.workload).localeCompare(workloadKey(y.workload))

/**
 * Plans one run: every workload whose warning or stop is due, most wasteful
 * first. A stop goes ahead (or is a dry-run) only when nothing blocks it and
 * fewer than maxActionsPerRun stops went before it in this run (dry-run stops
 * count too, so a dry run shows what a live run would do); a warning says what
 * will happen after the grace period.
 */
export function planActions(assessed: ReadonlyArray<{ workload: IdleWorkload; assessment: IdleAssessment }>, policy: EnforcerPolicy, exemptions: Exemptions, nowMs: number): EnforcementPlan {
  const plan: EnforcementPlan = { warns: [], stops: [] }
  let left = policy.maxActionsPerRun
  for (const { workload, assessment } of [...dueWorkloads(assessed, nowMs)].sort(byWaste)) {
    const next = assessment.nextAction as NonNullable<IdleAssessment['nextAction']>
    const base = { key: workloadKey(workload), workload, assessment, action: next.action, dueAtMs: next.atMs }
    const blocked = blockerOf(workload, assessment, policy, exemptions)
    const go: StopOutcome = policy.dryRun ? 'dry-run' : 'stop'
    if (next.action === 'warn') {
      const stopAtMs = blocked ? undefined : nowMs + policy.graceMs
      plan.warns.push({ ...base, outcome: blocked?.outcome ?? go, reason: blocked?.reason ?? (policy.dryRun ? 'dry-run: the enforcer would stop it after the grace period' : 'the enforcer stops it after the grace period'), stopAtMs })
    } else if (blocked) {
      plan.stops.push({ ...base, ...blocked })
    } else if (left <= 0) {
      plan.stops.push({ ...base, outcome: 'limit', reason: `the limit of ${policy.maxActionsPerRun} stop(s) per run was reached; retried next run` })
    } else {
      left--
      plan.stops.push({ ...base, outcome: go, reason: policy.dryRun ? 'idle through the grace period after the warning; dry-run, nothing changed' : 'idle through the grace period after the warning' })
    }
  }
  return plan
}
