/**
 * The burst controller: at each evaluation it observes every configured pool,
 * steps its policy (policy.ts), and carries out a scale-out or scale-in
 * through the targets' adapters, or in dry-run (the default) only records
 * what it would do. Every scaling decision is an audit row with the
 * observation, the changes and the sizes they leave (the next evaluation
 * reads its sizes and cooldown from there); a hold is audited when its reason
 * changes, so the log shows each transition without a row a minute.
 */
import { assessRunning } from '../../api/routes/idle'
import type { BurstPoolConfig } from '../../config/alerts'
import { IDLE_CLASS } from '../../core/idleMachine'
import { ACTIONS, auditRecord, workloadKey, type AuditWriter } from '../audit'
import type { AlertsDeps } from '../evaluate'
import { burstAdapters, type ScaleAdapter } from './adapters'
import { observePool, snapshotAt } from './observe'
import { stepBurst, triggerHolds, type BurstDecision, type PoolState, type ReclaimCandidate, type ScaleChange } from './policy'

/** One change as carried out. */
export interface ChangeResult extends ScaleChange {
  ok: boolean
  note: string
}

/** A decision with what came of it. */
export interface BurstOutcome extends BurstDecision {
  dryRun: boolean
  results: ChangeResult[]
}

const keyOf = (p: { cluster: string; pool: string }) => `${p.cluster}/${p.pool}`

/** The burst controller of one process (it keeps each pool's trigger and quiet timers between evaluations). */
export class BurstController {
  private readonly states = new Map<string, PoolState>()
  private readonly last = new Map<string, BurstOutcome>()
  private readonly adapters = new Map<string, ScaleAdapter>()
  private readonly audit: AuditWriter

  /** Runs the idle enforcer now (set by the schedule); used when idle GPUs should be reclaimed before a burst. */
  reclaimNow: (() => Promise<unknown>) | undefined

  constructor(
    private readonly deps: AlertsDeps,
    private readonly makeAdapter: (target: BurstPoolConfig['targets'][number]) => ScaleAdapter = burstAdapters(deps),
  ) {
    this.audit = (rows) => deps.sinks.actions.write(rows)
  }

  /** Whether scaling is dry-run: the global switch or the burst section's own. */
  get dryRun(): boolean {
    return this.deps.config.alerts.dryRun || this.deps.config.alerts.burst.dryRun
  }

  /** The last decision of every pool evaluated so far. */
  decisions(): BurstOutcome[] {
    return [...this.last.values()]
  }

  /** Evaluates every pool once at deps.now() and acts on the decisions. */
  async step(): Promise<BurstOutcome[]> {
    const nowMs = this.deps.now()
    const pools = this.deps.config.alerts.burst.pools
    if (pools.length === 0) return []
    const snap = await snapshotAt(this.deps.query, nowMs)
    const out: BurstOutcome[] = []
    let reclaim = false
    for (const p of pools) {
      const obs = await observePool(this.deps.query, p, snap, nowMs, this.dryRun)
      if (p.reclaimFirst && triggerHolds(p, obs)) {
        obs.reclaimCandidates = await this.reclaimCandidates(p.cluster, nowMs)
        obs.idleAllocatedGpus = obs.reclaimCandidates.reduce((n, c) => n + c.gpus, 0)
      }
      const { state, decision } = stepBurst(p, this.states.get(keyOf(p)) ?? {}, obs)
      this.states.set(keyOf(p), state)
      out.push(await this.act(p, decision))
      if (decision.code === 'reclaim-first') reclaim = true
    }
    // Reclaim before burst: with enforcement on (and this process leading), the idle enforcer runs now instead of
    // at its next tick. It keeps every rule of its own (exemptions, warning, grace period, fresh re-check, max per run):
    // reclaiming first never skips a warning.
    if (reclaim && this.reclaimNow && this.enforcing && !this.deps.leadership?.aborted) await this.reclaimNow()
    return out
  }

  /** Whether the idle enforcer would change the cluster (enabled and not dry-run). */
  private get enforcing(): boolean {
    const a = this.deps.config.alerts
    return a.enforcer.enabled && !a.dryRun && !a.enforcer.dryRun
  }

  /** Workloads of a cluster held by idle, stuck or hung work (the idle core's verdicts), most GPUs first. */
  private async reclaimCandidates(cluster: string, nowMs: number): Promise<ReclaimCandidate[]> {
    const run = await assessRunning(this.deps.query, this.deps.config.idle, nowMs)
    return run.assessed
      .filter((x) => x.workload.cluster === cluster && IDLE_CLASS.has(x.assessment.verdict))
      .map((x) => ({ key: workloadKey(x.workload), gpus: x.workload.evidence.gpus, verdict: x.assessment.verdict, state: x.assessment.state, idleSinceMs: x.assessment.idleSinceMs }))
      .sort((a, b) => b.gpus - a.gpus || (a.key < b.key ? -1 : 1))
  }

  private adapter(target: BurstPoolConfig['targets'][number]): ScaleAdapter {
    let a = this.adapters.get(target.name)
    if (!a) this.adapters.set(target.name, (a = this.makeAdapter(target)))
    return a
  }

  /** Carries out (or, in dry-run, records) a decision, and audits it. */
  private async act(p: BurstPoolConfig, d: BurstDecision): Promise<BurstOutcome> {
    const prev = this.last.get(keyOf(p))
    const dryRun = this.dryRun
    const results: ChangeResult[] = []
    if (d.action !== 'hold') {
      for (const change of d.changes) {
        const target = p.targets.find((t) => t.name === change.target)
        if (!dryRun && this.deps.leadership?.aborted) {
          results.push({ ...change, ok: false, note: 'not sent: scheduler leadership lost' })
          continue
        }
        if (dryRun || !target) {
          results.push({ ...change, ok: dryRun, note: dryRun ? 'dry-run: not sent' : `no target ${change.target}` })
          continue
        }
        try {
          results.push({ ...change, ok: true, note: await this.adapter(target)(change, { cluster: p.cluster, pool: p.pool, action: d.action, reasons: d.reasons, atMs: d.atMs }) })
        } catch (err) {
          results.push({ ...change, ok: false, note: (err as Error).message })
        }
      }
    }
    const outcome: BurstOutcome = { ...d, dryRun, results }
    this.last.set(keyOf(p), outcome)
    if (d.action === 'hold' && prev?.action === 'hold' && prev.code === d.code) return outcome
    await this.audit([this.auditRow(p, outcome)])
    if (d.action !== 'hold') this.deps.logger.info({ cluster: p.cluster, pool: p.pool, action: d.action, dryRun, changes: results.map((r) => `${r.target} ${r.fromNodes}->${r.toNodes} ${r.ok ? 'ok' : 'failed'}`) }, 'burst decision')
    return outcome
  }

  private auditRow(p: BurstPoolConfig, o: BurstOutcome) {
    const sizes = Object.fromEntries(o.observation.targets.map((t) => [t.name, t.gpus]))
    for (const r of o.results) if (r.ok) sizes[r.target] = r.toGpus
    const acted = !o.dryRun && o.results.some((r) => r.ok)
    const failed = o.results.filter((r) => !r.ok).length
    const decision = o.action === 'hold' ? o.code : o.dryRun ? 'dry-run' : failed === 0 ? 'scaled' : acted ? 'partial' : 'failed'
    const action = o.action === 'scale-out' ? ACTIONS.burstOut : o.action === 'scale-in' ? ACTIONS.burstIn : ACTIONS.burstHold
    const reason = [...o.reasons, ...o.results.filter((r) => !r.ok && !o.dryRun).map((r) => r.note)].join('; ')
    return auditRecord({
      action, subject: { cluster: p.cluster, namespace: '', kind: 'Pool', name: p.pool }, decision, dryRun: o.dryRun, acted, reason,
      evidence: { code: o.code, observation: o.observation, changes: o.results, sizes },
    }, o.atMs, this.deps.config.alerts.actor)
  }
}
