/**
 * Reads behind GPU-hours by final state (/waste/final-states and the
 * quarterly report): each pod's exact interval (newest row per pod uid,
 * FINAL) clipped to the window and to now, summed per team, workload kind,
 * user and final state. core/finalStates.ts folds the sums into groups.
 */
import { finalStateOf, type FinalStateRow } from '../../core/finalStates'
import type { QueryFn } from '../../core/ports'

/**
 * GPU-milliseconds and pods per (team, kind, user, phase, ended) over
 * [fromMs, min(toMs, nowMs)); an open interval runs to now. Pods with no GPU
 * time in the window are left out. Optional team filter ('' = every team).
 */
const GPU_MS_BY_FINAL_STATE = `
SELECT team, kind, user, phase, ended, count() AS pods, sum(gpus * (e - s)) AS gpu_ms
FROM (
  SELECT team, workload_kind AS kind, user, phase, gpus, end_ts IS NOT NULL AS ended,
         greatest(toUnixTimestamp64Milli(assumeNotNull(start_ts)), {fromMs:Int64}) AS s,
         least(ifNull(toUnixTimestamp64Milli(end_ts), {nowMs:Int64}), {toMs:Int64}, {nowMs:Int64}) AS e
  FROM workload_intervals FINAL
  WHERE start_ts IS NOT NULL AND gpus > 0
    AND start_ts < fromUnixTimestamp64Milli({toMs:Int64})
    AND (end_ts IS NULL OR end_ts > fromUnixTimestamp64Milli({fromMs:Int64}))
    AND ({team:String} = '' OR team = {team:String})
)
WHERE e > s
GROUP BY team, kind, user, phase, ended`

interface Row {
  team: string
  kind: string
  user: string
  phase: string
  ended: boolean | number
  pods: number | string
  gpu_ms: number | string
}

const HOUR_MS = 3_600_000

/** What one read covers: the window, now (open intervals run to it), and optionally one team. */
export interface FinalStatesSpec {
  fromMs: number
  toMs: number
  nowMs: number
  team?: string | undefined
}

/** GPU-hours and pods per team, kind, user and final state in the window, from exact intervals. */
export async function finalStateRows(query: QueryFn, spec: FinalStatesSpec): Promise<FinalStateRow[]> {
  const rows = await query<Row>(GPU_MS_BY_FINAL_STATE, { fromMs: spec.fromMs, toMs: spec.toMs, nowMs: spec.nowMs, team: spec.team ?? '' })
  const out = new Map<string, FinalStateRow>()
  for (const r of rows) {
    // Two phases can map to one state (an interval ended while Running or Unknown): fold them.
    const state = finalStateOf(r.phase, Boolean(Number(r.ended)))
    const key = JSON.stringify([r.team, r.kind, r.user, state])
    const prev = out.get(key)
    const gpuHours = Number(r.gpu_ms) / HOUR_MS
    if (prev) {
      prev.pods += Number(r.pods)
      prev.gpuHours += gpuHours
    } else {
      out.set(key, { team: r.team, kind: r.kind, user: r.user, state, pods: Number(r.pods), gpuHours })
    }
  }
  return [...out.values()]
}
