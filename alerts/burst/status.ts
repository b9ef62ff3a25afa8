/**
 * The burst state as the audit log records it, for readers outside the
 * controller's process (the /burst route, the admission hook): a pool is
 * bursting while its newest performed scaling (not a dry-run) is a scale-out.
 * Dry-run never makes a pool burst, so the admission hook changes no pod
 * until the controller really scales out.
 */
import type { QueryFn } from '../../core/ports'
import { ACTIONS } from '../audit'

/** The newest performed scaling of every pool. */
const LATEST_PERFORMED = `
SELECT cluster, workload_name AS pool, argMax(action, ts) AS last_action, toUnixTimestamp64Milli(max(ts)) AS ts_ms
FROM actions FINAL
WHERE action IN {actions:Array(String)} AND acted AND NOT dry_run
GROUP BY cluster, pool`

/** Audit rows of the burst controller, newest first. */
const RECENT = `
SELECT toUnixTimestamp64Milli(ts) AS ts_ms, action, cluster, workload_name AS pool, decision, dry_run, acted, reason, evidence
FROM actions FINAL
WHERE action IN {actions:Array(String)} AND ts >= fromUnixTimestamp64Milli({fromMs:Int64})
  AND ({cluster:String} = '' OR cluster = {cluster:String}) AND ({pool:String} = '' OR workload_name = {pool:String})
ORDER BY ts DESC, id
LIMIT {limit:UInt32}`

/** Whether a pool is bursting, and since when. */
export interface PoolBurstState {
  cluster: string
  pool: string
  active: boolean
  sinceMs: number
}

/** The performed-scaling state of every pool that was ever scaled. */
export async function burstStates(query: QueryFn): Promise<PoolBurstState[]> {
  const rows = await query<{ cluster: string; pool: string; last_action: string; ts_ms: number }>(LATEST_PERFORMED, { actions: [ACTIONS.burstOut, ACTIONS.burstIn] })
  return rows.map((r) => ({ cluster: r.cluster, pool: r.pool, active: r.last_action === ACTIONS.burstOut, sinceMs: Number(r.ts_ms) }))
}

/** One burst audit row as the API shows it. */
export interface BurstRow {
  tsMs: number
  action: string
  cluster: string
  pool: string
  decision: string
  dryRun: boolean
  acted: boolean
  reason: string
  evidence: unknown
}

/** Burst audit rows since fromMs (optionally one cluster's or pool's), newest first. */
export async function recentBurstRows(query: QueryFn, r: { fromMs: number; limit: number; cluster?: string | undefined; pool?: string | undefined }): Promise<BurstRow[]> {
  const rows = await query<{ ts_ms: number; action: string; cluster: string; pool: string; decision: string; dry_run: boolean | number; acted: boolean | number; reason: string; evidence: string }>(
    RECENT, { actions: [ACTIONS.burstOut, ACTIONS.burstIn, ACTIONS.burstHold], fromMs: r.fromMs, limit: r.limit, cluster: r.cluster ?? '', pool: r.pool ?? '' },
  )
  return rows.map((x) => {
    let evidence: unknown = null
    try {
      evidence = JSON.parse(x.evidence)
    } catch {
      evidence = x.evidence
    }
    return { tsMs: Number(x.ts_ms), action: x.action, cluster: x.cluster, pool: x.pool, decision: x.decision, dryRun: Boolean(x.dry_run), acted: Boolean(x.acted), reason: x.reason, evidence }
  })
}
