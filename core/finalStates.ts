/**
 * GPU-hours by the final state of the work that held them (issue #9, waste
 * from failed and cancelled work): succeeded, failed, cancelled (pods deleted
 * before they finished) and still running, per team and workload kind, with
 * the users whose work failed or was cancelled again and again. The store
 * sums exact intervals clipped to the window per (team, kind, user, state);
 * this module folds those sums into groups, shares and a ranking. Pure.
 */
import { InputError } from './errors.js'
import type { WorkloadPhase } from './model.js'

/** Final states, in the order answers list them. `unknown`: ended, but its last phase was not a final one. */
export const FINAL_STATES = ['succeeded', 'failed', 'cancelled', 'running', 'unknown'] as const

/** The final state of the work a GPU-hour went to. */
export type FinalState = (typeof FINAL_STATES)[number]

/** Keys GPU-hours by final state can be grouped by. */
export const FINAL_STATE_KEYS = ['team', 'kind'] as const

/** One grouping key: the owning team or the workload kind (Job, Notebook, ...). */
export type FinalStateKey = (typeof FINAL_STATE_KEYS)[number]

/** A number per final state. */
export type ByState = Record<FinalState, number>

/** GPU-hours and pods of one (team, kind, user, state), as the store sums them. */
export interface FinalStateRow {
  team: string
  kind: string
  user: string
  state: FinalState
  /** Pods with GPU time in the window. */
  pods: number
  gpuHours: number
}

/** GPU-hours by final state of one group (or of everything), with shares. */
export interface FinalStateGroup {
  team?: string
  kind?: string
  gpuHours: ByState
  pods: ByState
  totalGpuHours: number
  /** Each state's share of totalGpuHours (0..1); null when there are no GPU-hours. */
  shares: Record<FinalState, number | null>
  failedOrCancelledGpuHours: number
  /** Failed + cancelled over the GPU-hours of work that ended (succeeded, failed, cancelled); null when none ended. */
  failedOrCancelledRatio: number | null
}

/** A user whose work failed or was cancelled at least twice in the window, with what it cost. */
export interface RepeatOffender {
  team: string
  user: string
  failedPods: number
  cancelledPods: number
  /** Pods of the user that ended (succeeded, failed or cancelled). */
  endedPods: number
  failedGpuHours: number
  cancelledGpuHours: number
  failedOrCancelledGpuHours: number
  /** Failed + cancelled over the user's ended GPU-hours. */
  failedOrCancelledRatio: number | null
}

/** GPU-hours by final state: everything, the groups asked for, and the top repeat offenders. */
export interface FinalStatesSummary {
  by: FinalStateKey[]
  totals: FinalStateGroup
  groups: FinalStateGroup[]
  offenders: RepeatOffender[]
}

/** Failed or cancelled runs a user needs to be a repeat offender. */
export const REPEAT_MIN_RUNS = 2

const ENDED: readonly FinalState[] = ['succeeded', 'failed', 'cancelled']

const zero = (): ByState => ({ succeeded: 0, failed: 0, cancelled: 0, running: 0, unknown: 0 })

/**
 * The final state of a stored interval: its phase when the pod ended
 * (Succeeded, Failed; Deleted = deleted before it finished, i.e. cancelled),
 * running while it has no end, unknown when it ended in another phase.
 */
export function finalStateOf(phase: WorkloadPhase | string, ended: boolean): FinalState {
  if (!ended) return 'running'
  if (phase === 'Succeeded') return 'succeeded'
  if (phase === 'Failed') return 'failed'
  if (phase === 'Deleted') return 'cancelled'
  return 'unknown'
}

/** Parses `by` (team, kind, or team,kind in any order); throws InputError naming the bad keys and the allowed ones. */
export function parseFinalStateBy(text: string | undefined): FinalStateKey[] {
  const parts = (text ?? 'team').split(',').map((s) => s.trim()).filter((s) => s !== '')
  const unknown = parts.filter((p) => !(FINAL_STATE_KEYS as readonly string[]).includes(p))
  if (unknown.length > 0) throw new InputError(`bad by '${text}': unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `'${u}'`).join(', ')}; expected team, kind or team,kind`)
  if (parts.length === 0) throw new InputError(`bad by '${text}': expected team, kind or team,kind`)
  return FINAL_STATE_KEYS.filter((k) => parts.includes(k))
}

/** Folds rows into one group's figures. */
function group(rows: readonly FinalStateRow[], keys: Pick<FinalStateGroup, 'team' | 'kind'>): FinalStateGroup {
  const gpuHours = zero()
  const pods = zero()
  for (const r of rows) {
    gpuHours[r.state] += r.gpuHours
    pods[r.state] += r.pods
  }
  const totalGpuHours = FINAL_STATES.reduce((n, s) => n + gpuHours[s], 0)
  const endedGpuHours = ENDED.reduce((n, s) => n + gpuHours[s], 0)
  const failedOrCancelledGpuHours = gpuHours.failed + gpuHours.cancelled
  const shares = Object.fromEntries(FINAL_STATES.map((s) => [s, totalGpuHours > 0 ? gpuHours[s] / totalGpuHours : null])) as Record<FinalState, number | null>
  return {
    ...keys, gpuHours, pods, totalGpuHours, shares, failedOrCancelledGpuHours,
    failedOrCancelledRatio: endedGpuHours > 0 ? failedOrCancelledGpuHours / endedGpuHours : null,
  }
}

/** Groups ranked by failed + cancelled GPU-hours, then total GPU-hours, then name. */
const byLoss = (a: FinalStateGroup, b: FinalStateGroup): number =>
  b.failedOrCancelledGpuHours - a.failedOrCancelledGpuHours || b.totalGpuHours - a.totalGpuHours || `${a.team ?? ''}/${a.kind ?? ''}`.localeCompare(`${b.team ?? ''}/${b.kind ?? ''}`)

/**
 * Users whose work failed or was cancelled at least REPEAT_MIN_RUNS times,
 * ranked by the GPU-hours that work held (then by runs, then by name); the
 * first `top`.
 */
export function repeatOffenders(rows: readonly FinalStateRow[], top: number): RepeatOffender[] {
  const users = new Map<string, FinalStateRow[]>()
  for (const r of rows) {
    const key = JSON.stringify([r.team, r.user])
    const list = users.get(key)
    if (list) list.push(r)
    else users.set(key, [r])
  }
  const out: RepeatOffender[] = []
  for (const [key, list] of users) {
    const [team, user] = JSON.parse(key) as [string, string]
    const g = group(list, {})
    if (g.pods.failed + g.pods.cancelled < REPEAT_MIN_RUNS) continue
    out.push({
      team, user, failedPods: g.pods.failed, cancelledPods: g.pods.cancelled, endedPods: ENDED.reduce((n, s) => n + g.pods[s], 0),
      failedGpuHours: g.gpuHours.failed, cancelledGpuHours: g.gpuHours.cancelled, failedOrCancelledGpuHours: g.failedOrCancelledGpuHours,
      failedOrCancelledRatio: g.failedOrCancelledRatio,
    })
  }
  out.sort((a, b) =>
    b.failedOrCancelledGpuHours - a.failedOrCancelledGpuHours || b.failedPods + b.cancelledPods - (a.failedPods + a.cancelledPods) || `${a.team}/${a.user}`.localeCompare(`${b.team}/${b.user}`))
  return out.slice(0, Math.max(0, top))
}

/** GPU-hours by final state in total and per group (ranked by failed + cancelled GPU-hours), and the top `top` repeat offenders. */
export function summarizeFinalStates(rows: readonly FinalStateRow[], by: readonly FinalStateKey[], top: number): FinalStatesSummary {
  const groups = new Map<string, FinalStateRow[]>()
  for (const r of rows) {
    const key = JSON.stringify(by.map((k) => r[k]))
    const list = groups.get(key)
    if (list) list.push(r)
    else groups.set(key, [r])
  }
  const out = [...groups].map(([key, list]) => {
    const values = JSON.parse(key) as string[]
    return group(list, Object.fromEntries(by.map((k, i) => [k, values[i] ?? ''])))
  })
  return { by: [...by], totals: group(rows, {}), groups: out.sort(byLoss), offenders: repeatOffenders(rows, top) }
}
