import type { WorkloadProfile } from './profiles'
import { normalN, unitN } from './random'

/**
 * Minute-by-minute GPU activity of a simulated workload, and the Jupyter
 * kernel state of a simulated notebook. Pure functions of (profile, time).
 */

const MINUTE_MS = 60_000
/** Distinct salts per kind of draw (util uses two: Box-Muller takes salt and salt + 1). */
const SALT = { session: 11, cell: 13, nbUtil: 17, util: 19 } as const
const HOUR_MS = 3_600_000

/** Activity of one workload on its GPUs at one minute: GR_ENGINE_ACTIVE as a ratio, and whether its kernel (notebooks) is busy. */
export interface Activity {
  grEngineActive: number
  kernelBusy: boolean
}

/** Whether an interactive notebook's owner is at work in this hour (weekday office hours, UTC, mostly). */
function sessionHour(seed: number, hourIndex: number): boolean {
  const d = new Date(hourIndex * HOUR_MS)
  const weekday = d.getUTCDay() >= 1 && d.getUTCDay() <= 5
  const office = d.getUTCHours() >= 8 && d.getUTCHours() < 19
  const p = weekday && office ? 0.45 : 0.04
  return unitN(seed, hourIndex, SALT.session) < p
}

/** A notebook's kernel is busy in a minute when its owner is in a session and running a cell. */
function notebookBusy(p: WorkloadProfile, startMs: number, tMs: number): boolean {
  const nb = p.notebook
  if (!nb) return false
  const minute = Math.floor(tMs / MINUTE_MS)
  if (nb.behaviour === 'abandoned') return tMs - startMs < nb.activeForMs && unitN(p.seed, minute, SALT.cell) < 0.5
  return sessionHour(p.seed, Math.floor(tMs / HOUR_MS)) && unitN(p.seed, minute, SALT.cell) < 0.55
}

/**
 * GR_ENGINE_ACTIVE of a workload at minute `tMs` (relative to its own GPU
 * share). Idle work is exactly 0; jobs vary around their mean; services follow
 * a daily traffic curve; notebooks are busy only while a cell runs.
 */
export function activityAt(p: WorkloadProfile, startMs: number, tMs: number): Activity {
  const minute = Math.floor(tMs / MINUTE_MS)
  if (p.kind === 'Notebook') {
    const busy = notebookBusy(p, startMs, tMs)
    return { grEngineActive: busy ? 0.15 + 0.75 * unitN(p.seed, minute, SALT.nbUtil) : 0, kernelBusy: busy }
  }
  if (p.meanUtil === 0) return { grEngineActive: 0, kernelBusy: false }
  const hour = new Date(tMs).getUTCHours() + new Date(tMs).getUTCMinutes() / 60
  const traffic = p.kind === 'Deployment' ? 0.55 + 0.45 * Math.sin(((hour - 8) / 24) * 2 * Math.PI) : 1
  const noisy = p.meanUtil * traffic * (1 + 0.3 * normalN(p.seed, minute, SALT.util))
  return { grEngineActive: Math.min(1, Math.max(0, noisy)), kernelBusy: false }
}

/**
 * The newest minute at or before `tMs` in which a notebook's kernel was busy,
 * searching back at most `lookbackMs`; undefined if none (then the kernel has
 * been idle at least that long, and the caller uses the notebook's start).
 */
export function lastNotebookActivity(p: WorkloadProfile, startMs: number, tMs: number, lookbackMs = 7 * 24 * HOUR_MS): number | undefined {
  const nb = p.notebook
  if (!nb) return undefined
  if (nb.behaviour === 'abandoned') {
    const end = Math.min(tMs, startMs + nb.activeForMs)
    // The last minute that activityAt() calls busy starts strictly before start + activeFor.
    for (let m = Math.floor((end - 1) / MINUTE_MS); m * MINUTE_MS >= Math.max(startMs, tMs - lookbackMs); m--) {
      if (unitN(p.seed, m, SALT.cell) < 0.5) return m * MINUTE_MS + 30_000
    }
    return undefined
  }
  const floor = Math.max(startMs, tMs - lookbackMs)
  for (let h = Math.floor(tMs / HOUR_MS); h * HOUR_MS + HOUR_MS > floor; h--) {
    if (!sessionHour(p.seed, h)) continue
    const lastMinute = Math.min(Math.floor(tMs / MINUTE_MS), (h + 1) * 60 - 1)
    for (let m = lastMinute; m >= h * 60 && m * MINUTE_MS >= floor; m--) {
      if (unitN(p.seed, m, SALT.cell) < 0.55) return m * MINUTE_MS + 30_000
    }
  }
  return undefined
}
