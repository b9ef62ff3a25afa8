/**
 * The idle state machine (STYLE.md): active → suspect (holdFor) → idle →
 * warned (grace) → stopped, like a Prometheus alert rule, with the evidence
 * kept at each step. The GPU verdict (core/idle.ts) is combined with Jupyter
 * kernel activity for notebooks (GPU-aware notebook verdicts: idle only when
 * kernels *and* GPUs are idle; a kernel busy for the whole window while the
 * GPUs do nothing is `hung`), then the action log says whether the owner was
 * warned or the workload stopped in the current idle episode.
 */
import { analyzeGpus, iso, isNotebook, sig, type ActionEvidence, type AssessOptions, type GpuRun, type IdlePolicy, type IdleState, type IdleVerdict, type KernelEvidence, type MetricUsed, type Signal, type WorkloadEvidence } from './idle.js'
import { formatDuration } from './windows.js'

const HOUR_MS = 3_600_000

/** Action names in the audit log that move the machine: an owner warned, a workload stopped (written by the alerts issue). */
export const IDLE_ACTIONS = { warn: 'warn', stop: 'stop' } as const

/** What the enforcer should do next and when, per the policy; undefined when nothing is due. */
export interface NextAction {
  action: 'warn' | 'stop'
  atMs: number
}

/** Kernel facts shown beside a notebook verdict. */
export interface KernelSummary {
  busyNow: boolean
  lastActivityMs: number | null
  latestPollMs: number
}

/** The verdict, state and evidence of one workload. */
export interface IdleAssessment {
  verdict: IdleVerdict
  state: IdleState
  windowMs: number
  /** Start of the current below-threshold stretch (suspect and the idle states); undefined otherwise. */
  idleSinceMs: number | undefined
  /** False when the stretch may be older than the evidence reaches (idleSinceMs is then a lower bound of the duration). */
  idleSinceExact: boolean
  /** GPUs held × hours since idleSinceMs, for idle, stuck and hung workloads (and their warned / stopped states); 0 otherwise. */
  wastedGpuHours: number
  metric: MetricUsed
  coverageRatio: number | null
  maxUtilRatio: number | null
  lastGpuActivityMs: number | undefined
  fbUsedMaxBytes: number | null
  kernel: KernelSummary | undefined
  warnedAtMs: number | undefined
  stoppedAtMs: number | undefined
  nextAction: NextAction | undefined
  signals: Signal[]
}

/** Verdicts at the idle step of the machine (they can be warned and stopped, and they waste GPUs). */
export const IDLE_CLASS: ReadonlySet<IdleVerdict> = new Set(['idle', 'stuck', 'hung'])

/**
 * Assesses one running workload at `nowMs`: its verdict from GPUs (and
 * kernels for notebooks), its step in the state machine from the actions of
 * the current idle episode, the wasted GPU-hours, what is due next and the
 * signals behind all of it.
 */
export function assessIdle(ev: WorkloadEvidence, policy: IdlePolicy, opts: AssessOptions): IdleAssessment {
  const gpu = analyzeGpus(ev, policy, opts)
  const signals = [...gpu.signals]
  const judged = isNotebook(ev.kind) ? judgeNotebook(gpu, ev.kernel, policy, signals) : { verdict: gpu.verdict, idleSinceMs: gpu.runStartMs, exact: gpu.exact }
  const { verdict } = judged
  const idleSinceMs = verdict === 'suspect' || IDLE_CLASS.has(verdict) ? judged.idleSinceMs : undefined
  const episode = IDLE_CLASS.has(verdict) && idleSinceMs !== undefined ? episodeOf(ev.actions, idleSinceMs, opts.nowMs, signals) : {}
  const state: IdleState = IDLE_CLASS.has(verdict) ? (episode.stoppedAtMs !== undefined ? 'stopped' : episode.warnedAtMs !== undefined ? 'warned' : 'idle') : (verdict as IdleState)
  const wastedGpuHours = IDLE_CLASS.has(verdict) && idleSinceMs !== undefined ? (ev.gpus * Math.max(0, gpu.evalEndMs - idleSinceMs)) / HOUR_MS : 0
  if (wastedGpuHours > 0) signals.push(sig('wastedGpuHours', wastedGpuHours, `${ev.gpus} GPU(s) held idle for ${formatDuration(Math.max(0, gpu.evalEndMs - (idleSinceMs as number)))}`))
  return {
    verdict,
    state,
    windowMs: gpu.windowMs,
    idleSinceMs,
    idleSinceExact: idleSinceMs !== undefined && (verdict === 'stuck' || judged.exact),
    wastedGpuHours,
    metric: gpu.metric,
    coverageRatio: gpu.coverageRatio,
    maxUtilRatio: gpu.maxUtilRatio,
    lastGpuActivityMs: gpu.lastActiveEndMs,
    fbUsedMaxBytes: gpu.fbUsedMaxBytes,
    kernel: ev.kernel ? { busyNow: ev.kernel.busyNow, lastActivityMs: lastKernelActivity(ev.kernel) ?? null, latestPollMs: ev.kernel.latestPollMs } : undefined,
    warnedAtMs: episode.warnedAtMs,
    stoppedAtMs: episode.stoppedAtMs,
    nextAction: nextActionOf(verdict, state, idleSinceMs, episode.warnedAtMs, ev, gpu.windowMs, policy),
    signals,
  }
}

/** Kubeflow's last activity: now-ish (the newest poll) while a kernel is busy, else the newest last_activity. */
function lastKernelActivity(k: KernelEvidence): number | undefined {
  return k.busyNow ? k.latestPollMs : k.lastActivityMs
}

interface Judged {
  verdict: IdleVerdict
  idleSinceMs: number | undefined
  exact: boolean
}

/**
 * Combines the GPU verdict with the kernels: GPUs unknown or active decide
 * alone; without fresh kernel data (no poll inside the window) the notebook
 * is unknown (when the policy requires kernels); kernel activity inside the
 * window keeps it active; a kernel busy through the whole window on idle GPUs
 * is hung; kernels and GPUs both idle for the window is idle, since the later
 * of the two went quiet (idleSince).
 */
function judgeNotebook(gpu: GpuRun, k: KernelEvidence | undefined, policy: IdlePolicy, signals: Signal[]): Judged {
  const gpuOnly = (verdict: IdleVerdict): Judged => ({ verdict, idleSinceMs: gpu.runStartMs, exact: gpu.exact })
  if (gpu.verdict === 'unknown' || gpu.verdict === 'active') return gpuOnly(gpu.verdict)
  const windowStart = gpu.evalEndMs - gpu.windowMs
  const last = k ? lastKernelActivity(k) : undefined
  if (!k || k.latestPollMs < windowStart || last === undefined) {
    const why = !k ? 'no kernel activity recorded' : k.latestPollMs < windowStart ? `newest kernel poll ${iso(k.latestPollMs)} is older than the window` : 'kernel last activity unknown'
    signals.push(sig('kernelData', 'missing', `${why}: kernel activity unknown`))
    if (policy.requireKernelActivity) return { verdict: 'unknown', idleSinceMs: undefined, exact: false }
    return gpuOnly(gpu.verdict)
  }
  signals.push(sig('kernelBusyNow', k.busyNow, k.busyNow ? `a kernel was busy at the newest poll ${iso(k.latestPollMs)}` : `every kernel idle at the newest poll ${iso(k.latestPollMs)}`))
  signals.push(sig('lastKernelActivityMs', last, `kernel activity last seen ${iso(last)}`))
  const busyForWindow = k.busyNow && k.busySinceMs !== undefined && k.busySinceMs <= windowStart
  if (gpu.verdict === 'idle' && busyForWindow) {
    signals.push(sig('hung', true, `kernel busy since ${iso(k.busySinceMs as number)} while the GPUs stayed below ${policy.utilBelow} for the window`))
    return gpuOnly('hung')
  }
  if (last >= windowStart) {
    if (gpu.verdict === 'idle') signals.push(sig('gpuIdleForWindow', true, 'GPUs idle for the whole window while the kernel is in use (CPU work in a GPU notebook)'))
    return { verdict: 'active', idleSinceMs: undefined, exact: false }
  }
  return { verdict: gpu.verdict, ...idleSinceOfNotebook(gpu, last, signals) }
}

/**
 * When a notebook's kernels and GPUs both went quiet: the kernel's last
 * activity (exact, from Jupyter) when it is the later signal, else the GPUs'
 * start. At hour resolution the GPUs went quiet within the hour ending at
 * their start; a notebook's GPU work comes from its kernels, so a kernel last
 * activity inside that hour is when both went quiet.
 */
function idleSinceOfNotebook(gpu: GpuRun, lastKernelMs: number, signals: Signal[]): { idleSinceMs: number; exact: boolean } {
  const gpuStart = gpu.runStartMs as number
  const hourly = gpu.resolution === 'hour' && !gpu.exact
  if (lastKernelMs >= gpuStart || (hourly && lastKernelMs > gpuStart - HOUR_MS)) {
    signals.push(sig('idleSinceFrom', 'kernel', `idle since the kernel's last activity ${iso(lastKernelMs)}, the later of the kernel and GPU signals`))
    return { idleSinceMs: lastKernelMs, exact: true }
  }
  return { idleSinceMs: gpuStart, exact: gpu.exact }
}

/** The first acted warning and stop of the episode that began at idleSinceMs; warnings and stops decided but not performed (dry run, Slack failed) are noted as signals. */
function episodeOf(actions: readonly ActionEvidence[], idleSinceMs: number, nowMs: number, signals: Signal[]): { warnedAtMs?: number; stoppedAtMs?: number } {
  const inEpisode = actions.filter((a) => a.tsMs >= idleSinceMs && a.tsMs <= nowMs).sort((a, b) => a.tsMs - b.tsMs)
  const warned = inEpisode.find((a) => a.action === IDLE_ACTIONS.warn && a.acted)
  const stopped = inEpisode.find((a) => a.action === IDLE_ACTIONS.stop && a.acted)
  const dryStop = inEpisode.find((a) => a.action === IDLE_ACTIONS.stop && !a.acted)
  const unsentWarn = warned ? undefined : inEpisode.findLast((a) => a.action === IDLE_ACTIONS.warn && !a.acted)
  if (warned) signals.push(sig('warnedAtMs', warned.tsMs, `owner warned ${iso(warned.tsMs)}`))
  if (unsentWarn) signals.push(sig('warnNotSentAtMs', unsentWarn.tsMs, `a warning was decided ${iso(unsentWarn.tsMs)} but not sent${unsentWarn.dryRun ? ' (dry run)' : ''}: the state stays idle`))
  if (stopped) signals.push(sig('stoppedAtMs', stopped.tsMs, `stopped ${iso(stopped.tsMs)}`))
  if (dryStop) signals.push(sig('stopDryRunAtMs', dryStop.tsMs, `a stop was decided ${iso(dryStop.tsMs)} but not performed${dryStop.dryRun ? ' (dry run)' : ''}`))
  return { ...(warned ? { warnedAtMs: warned.tsMs } : {}), ...(stopped ? { stoppedAtMs: stopped.tsMs } : {}) }
}

/**
 * What is due: a warning once a workload reaches the idle step (at the end of
 * its window, or at stuckMinAge for a stuck job), the stop a grace period after
 * the warning. A hung notebook is warned but never stopped: a busy kernel is
 * active by the Kubeflow culling contract.
 */
function nextActionOf(verdict: IdleVerdict, state: IdleState, idleSinceMs: number | undefined, warnedAtMs: number | undefined, ev: WorkloadEvidence, windowMs: number, policy: IdlePolicy): NextAction | undefined {
  if (idleSinceMs === undefined) return undefined
  if (state === 'idle') return { action: 'warn', atMs: verdict === 'stuck' ? ev.startMs + policy.stuckMinAgeMs : idleSinceMs + windowMs }
  if (state === 'warned' && verdict !== 'hung' && warnedAtMs !== undefined) return { action: 'stop', atMs: warnedAtMs + policy.graceMs }
  return undefined
}
