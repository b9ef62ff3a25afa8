/**
 * The enforcer's hands: reads exemption labels for the planned workloads, and
 * performs planned stops. Before each stop it re-reads fresh evidence for just
 * that workload (assessRunning: utilization, kernel activity, the action log)
 * and stands down unless the state machine still says "warned, stop due"; then
 * it re-reads the object and its namespace (an exemption label added since
 * planning wins) and makes the one change of alerts/enforcer/kinds.ts. Every
 * decision, acted or not, becomes an audit row with its evidence; a decision
 * not acted on is written once per idle episode.
 */
import { assessRunning } from '../../api/routes/idle'
import type { IdleConfig } from '../../config/idle'
import type { IdleAssessment } from '../../core/idleMachine'
import type { ActionRecord } from '../../core/model'
import type { Logger, QueryFn } from '../../core/ports'
import type { IdleWorkload } from '../../store/queries/idle'
import { ACTIONS, auditRecord, idleEvidence, isRepeat, subjectOf, workloadKey, type AuditWriter, type PriorDecisions } from '../audit'
import { hasExemptLabel, isStoppable, kubePaths, stopOperation, type StopOperation } from './kinds'
import type { KubeActuators, KubeObject } from './kube'
import type { Exemptions, PlannedAction } from './plan'

/** What the executor needs. */
export interface ExecutorDeps {
  query: QueryFn
  idle: IdleConfig
  actuators: KubeActuators
  audit: AuditWriter
  now: () => number
  exemptLabel: string
  dryRun: boolean
  actor: string
  logger: Logger
  /** Aborted when this process loses scheduler leadership: no change is made after that. */
  leadership?: AbortSignal | undefined
}

/** The result of one planned stop. */
export interface StopResult {
  key: string
  /** The plan's outcome, or for a planned stop: stopped, stood-down, exempt, already-stopped, no-cluster or error. */
  decision: string
  acted: boolean
  reason: string
  /** False when the same unacted decision was already audited in this idle episode. */
  audited: boolean
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/**
 * Reads the exemption label on each workload and its namespace (one GET per
 * namespace per run). A workload whose object or namespace cannot be read
 * (or whose cluster cannot be connected) is unverified, never assumed
 * unexempt. Clusters without credentials and kinds gpuscope cannot stop are
 * left out (planning blocks them first).
 */
export async function readExemptions(workloads: ReadonlyArray<{ workload: IdleWorkload }>, actuators: KubeActuators, label: string): Promise<Exemptions> {
  const exempt = new Map<string, string>()
  const unverified = new Map<string, string>()
  const namespaces = new Map<string, Promise<KubeObject | undefined>>()
  for (const { workload: w } of workloads) {
    // Planning blocks kinds gpuscope cannot stop and clusters without credentials before it looks at exemptions.
    if (!isStoppable(w.kind)) continue
    const key = workloadKey(w)
    try {
      const kube = await actuators(w.cluster)
      if (!kube) continue
      const nsKey = `${w.cluster}/${w.namespace}`
      let ns = namespaces.get(nsKey)
      if (!ns) namespaces.set(nsKey, (ns = kube.get(kubePaths.namespace(w.namespace))))
      const [nsObj, obj] = await Promise.all([ns, kube.get(kubePaths[w.kind](w.namespace, w.name))])
      if (!nsObj) unverified.set(key, `namespace ${w.namespace} not found`)
      else if (!obj) unverified.set(key, `${w.kind} ${w.namespace}/${w.name} not found`)
      else if (hasExemptLabel(nsObj, label)) exempt.set(key, `namespace ${w.namespace} is labelled ${label}=true`)
      else if (hasExemptLabel(obj, label)) exempt.set(key, `the ${w.kind} is labelled ${label}=true`)
    } catch (err) {
      unverified.set(key, errText(err))
    }
  }
  return { exempt, unverified }
}

/** The fresh assessment of one workload at nowMs (its team and kind only); undefined when it no longer runs. */
async function freshAssessment(deps: ExecutorDeps, w: IdleWorkload, nowMs: number): Promise<{ workload: IdleWorkload; assessment: IdleAssessment } | undefined> {
  const run = await assessRunning(deps.query, deps.idle, nowMs, { team: w.team, kind: w.kind })
  return run.assessed.find((x) => workloadKey(x.workload) === workloadKey(w))
}

/** Why fresh evidence says not to stop, or undefined when the stop is still due. */
function whyStandDown(fresh: { assessment: IdleAssessment } | undefined, nowMs: number): string | undefined {
  if (!fresh) return 'fresh evidence: the workload no longer runs'
  const a = fresh.assessment
  if (a.state !== 'warned') return `fresh evidence: ${a.verdict} (state ${a.state}), no longer warned and idle`
  if (a.nextAction?.action !== 'stop' || a.nextAction.atMs > nowMs) return 'fresh evidence: the stop is not due'
  return undefined
}

interface Attempt {
  decision: string
  acted: boolean
  reason: string
  evidence?: Record<string, unknown>
}

/** Performs one planned stop after the fresh checks. */
async function stopOne(p: PlannedAction, deps: ExecutorDeps): Promise<Attempt> {
  const w = p.workload
  const nowMs = deps.now()
  const fresh = await freshAssessment(deps, w, nowMs)
  const freshEvidence = fresh ? { fresh: { atMs: nowMs, verdict: fresh.assessment.verdict, state: fresh.assessment.state, maxUtilRatio: fresh.assessment.maxUtilRatio, signals: fresh.assessment.signals } } : { fresh: { atMs: nowMs, running: false } }
  const standDown = whyStandDown(fresh, nowMs)
  if (standDown) return { decision: 'stood-down', acted: false, reason: standDown, evidence: freshEvidence }
  const kube = await deps.actuators(w.cluster)
  if (!kube || !isStoppable(w.kind)) return { decision: 'no-cluster', acted: false, reason: `no credentials for cluster ${w.cluster}` }
  const path = kubePaths[w.kind](w.namespace, w.name)
  const [nsObj, obj] = await Promise.all([kube.get(kubePaths.namespace(w.namespace)), kube.get(path)])
  if (!obj) return { decision: 'stood-down', acted: false, reason: `${w.kind} ${w.namespace}/${w.name} no longer exists`, evidence: freshEvidence }
  if (hasExemptLabel(nsObj, deps.exemptLabel) || hasExemptLabel(obj, deps.exemptLabel)) return { decision: 'exempt', acted: false, reason: `labelled ${deps.exemptLabel}=true since planning`, evidence: freshEvidence }
  const op: StopOperation = stopOperation(w.kind, obj, nowMs)
  if (op.type === 'already-stopped') return { decision: 'already-stopped', acted: false, reason: op.note, evidence: freshEvidence }
  // Checked last, right before the change: a leader that lost its lease during the reads must not act.
  if (deps.leadership?.aborted) return { decision: 'not-leader', acted: false, reason: 'scheduler leadership lost before the stop', evidence: freshEvidence }
  if (op.type === 'patch') await kube.mergePatch(path, op.patch)
  else await kube.delete(path)
  return { decision: 'stopped', acted: true, reason: op.note, evidence: { ...freshEvidence, operation: op } }
}

/**
 * Carries out the planned stops in order: `stop` outcomes are attempted (with
 * the fresh re-read), every other outcome is audited as decided. A failure is
 * audited as `error` and does not stop the run.
 */
export async function executeStops(stops: readonly PlannedAction[], prior: PriorDecisions, deps: ExecutorDeps): Promise<StopResult[]> {
  const results: StopResult[] = []
  const unacted: ActionRecord[] = []
  for (const p of stops) {
    let attempt: Attempt
    if (p.outcome !== 'stop') attempt = { decision: p.outcome, acted: false, reason: p.reason }
    else {
      try {
        attempt = await stopOne(p, deps)
      } catch (err) {
        attempt = { decision: 'error', acted: false, reason: errText(err) }
      }
    }
    const audited = attempt.acted || !isRepeat(prior, p.key, ACTIONS.stop, attempt.decision, p.assessment.idleSinceMs)
    if (audited) {
      const evidence = { ...idleEvidence(p.workload, p.assessment), dueAtMs: p.dueAtMs, plannedOutcome: p.outcome, ...attempt.evidence }
      const row = auditRecord({ action: ACTIONS.stop, subject: subjectOf(p.workload), decision: attempt.decision, dryRun: deps.dryRun, acted: attempt.acted, reason: attempt.reason, evidence }, deps.now(), deps.actor)
      // A change made is recorded before the next one is attempted; decisions without a change are written together.
      if (attempt.acted) await deps.audit([row])
      else unacted.push(row)
    }
    if (attempt.acted || attempt.decision === 'error') deps.logger[attempt.acted ? 'info' : 'warn']({ workload: p.key, decision: attempt.decision, reason: attempt.reason }, 'idle enforcer')
    results.push({ key: p.key, decision: attempt.decision, acted: attempt.acted, reason: attempt.reason, audited })
  }
  if (unacted.length) await deps.audit(unacted)
  return results
}
