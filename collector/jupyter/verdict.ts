/**
 * The Kubeflow culler's activity contract (notebook-controller
 * culling_controller.go), as a pure function: any kernel whose
 * execution_state is not `idle` (busy, starting, ...) makes the notebook
 * active now; otherwise its last activity is the newest kernel last_activity.
 */

/** What one kernel says about activity; NotebookActivity rows fit this shape. */
export interface KernelActivity {
  /** '' marks the row stored for a notebook with no kernels (its time comes from /api/status). */
  kernelId: string
  executionState: string
  lastActivityMs: number
}

/** A notebook's activity at one poll. */
export interface NotebookVerdict {
  /** True when some kernel is not idle: the notebook is working right now. */
  active: boolean
  /** When it was last active; undefined when that is unknown (never 0). */
  lastActivityMs: number | undefined
}

/** The one execution_state the culler treats as idle. */
export const KERNEL_IDLE = 'idle'

/**
 * The culler's verdict for one notebook from its kernels at `nowMs`: active
 * (last activity = now) when any kernel is not idle, else idle since the
 * newest kernel last_activity. Like the culler, an unreadable last_activity
 * leaves the time unknown; with no kernels the culler keeps its old value, so
 * here the /api/status time of the no-kernel row ('' kernel id) is used, or
 * unknown without one.
 */
export function notebookVerdict(kernels: readonly KernelActivity[], nowMs: number): NotebookVerdict {
  const real = kernels.filter((k) => k.kernelId !== '')
  if (real.length === 0) {
    const status = kernels.find((k) => Number.isFinite(k.lastActivityMs))
    return { active: false, lastActivityMs: status?.lastActivityMs }
  }
  if (real.some((k) => k.executionState !== KERNEL_IDLE)) return { active: true, lastActivityMs: nowMs }
  let newest = -Infinity
  for (const k of real) {
    if (!Number.isFinite(k.lastActivityMs)) return { active: false, lastActivityMs: undefined }
    newest = Math.max(newest, k.lastActivityMs)
  }
  return { active: false, lastActivityMs: newest }
}
