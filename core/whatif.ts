/**
 * Policy what-if, pure: replays stored history under a candidate idle policy
 * and burst policy, without touching anything. This module holds the replay's
 * inputs, options and answer and the evidence helpers it shares with the store
 * reads; the replay runs in core/whatifReplay.ts (idle and enforcer side) and
 * core/whatifBurst.ts (pending demand and burst side).
 *
 * Time advances in fixed steps (the enforcer's evaluation interval); at each
 * step every workload recorded
 * as running is judged by the live system's own functions (core/idle.ts and
 * core/idleMachine.ts assessIdle, fed the same evidence shape the store
 * gives: per GPU-minute rollups over the lookback, the hourly history before
 * it, kernel polls, and the simulation's own warn / stop actions), the
 * enforcer's planning (alerts/enforcer/plan.ts planActions) decides warnings
 * and stops, and each burst pool is stepped by alerts/burst/policy.ts
 * stepBurst. Those functions come in through `WhatifEngine`, so core imports
 * no alerts code at run time.
 *
 * Rules of the replay:
 * - warnings are assumed delivered (a warn row acted); exemption labels are
 *   not known for the past, so nothing is exempt;
 * - a stopped workload frees its GPUs from the stop to its recorded end (or
 *   the window end): that is the reclaimed GPU-hours, summed exactly from its
 *   pods' intervals;
 * - false stop = after the stop, its recorded evidence shows activity within
 *   graceMs (before its recorded end): a GPU reading reaching utilBelow (the
 *   policy's activityStat), or, for notebooks, a busy kernel poll or a kernel
 *   last_activity later than the stop; `null` when the window ends first;
 * - reclaimed GPUs serve pending demand of the same cluster (GPU counts, not
 *   placement: an upper bound) — that is the pending wait avoided — and the
 *   served pods are allocated where the GPUs were freed, so cloud burst sees
 *   less pending demand;
 * - burst nodes absorb the pending demand left (so a burst does not grow
 *   until maxBurstGpus because the history still shows the pods pending);
 *   the history is assumed to hold no burst capacity of its own;
 * - each pool's burst is run twice: `baseline`, the policy on the recorded
 *   history (nothing reclaimed), and `whatif`, with the reclaimed GPUs.
 *   A policy that stops nothing gives equal tracks. Burst spend starts at 0
 *   at the window start (and each UTC month).
 */
import type { stepBurst, BurstDecision, ScaleChange } from '../alerts/burst/policy'
import type { EnforcerPolicy, planActions, StopOutcome } from '../alerts/enforcer/plan'
import type { BurstPoolConfig } from '../config/alerts'
import type { IdlePolicy, KernelEvidence } from './idle'
import type { WorkloadRef } from './insights'

const MINUTE_MS = 60_000
const HOUR_MS = 3_600_000
/**
 * The live evaluation's minute lookback covers at least this (api/routes/idle.ts
 * DEFAULT_IDLE_WINDOW_MS, used by the enforcer): keeping it keeps idle-since at
 * minute resolution through the warning and grace period, as live.
 */
export const LIVE_LOOKBACK_MS = 6 * HOUR_MS

/** The live decision functions the replay runs (passed in so core stays free of alerts/ code). */
export interface WhatifEngine {
  planActions: typeof planActions
  stepBurst: typeof stepBurst
}

/** One pod of a workload as recorded: [startMs, endMs) on a node of a pool; pending from createdMs until bound. */
export interface WhatifPod {
  pod: string
  node: string
  pool: string
  gpus: number
  createdMs: number
  /** Undefined: never bound (pending until it ended, or still). */
  startMs?: number | undefined
  /** Undefined: not ended by the end of the history read. */
  endMs?: number | undefined
}

/** A workload (pods grouped by cluster, namespace, kind and name) as recorded. */
export interface WhatifWorkload extends WorkloadRef {
  pods: WhatifPod[]
}

/** A node_state row: the node's schedulable GPUs (0 unless Ready and schedulable) from tsMs until its next row. */
export interface NodeCapacityRow {
  tsMs: number
  cluster: string
  node: string
  pool: string
  gpus: number
}

/** One kernel poll of a notebook (any kernel not idle = busy, the Kubeflow culler's rule). */
export interface KernelPoll {
  tsMs: number
  busy: boolean
  lastActivityMs: number | undefined
}

/** What to replay and under which policy. */
export interface WhatifOptions {
  /** Evaluations at fromMs, fromMs + stepMs, ... before toMs. */
  fromMs: number
  toMs: number
  stepMs: number
  idle: IdlePolicy
  /** The enforcer as it would run (enabled, live); its graceMs is the idle policy's. */
  enforcer: EnforcerPolicy
  pools: readonly BurstPoolConfig[]
}

/** A stop the policy would have made. */
export interface WhatifStop {
  cluster: string
  namespace: string
  kind: string
  name: string
  team: string
  user: string
  gpus: number
  idleSinceMs: number | null
  warnedAtMs: number | null
  stoppedAtMs: number
  recordedEndMs: number | null
  reclaimedGpuHours: number
  /** Active again within the grace period after the stop; null when the window ended first. */
  falseStop: boolean | null
  resumedAtMs: number | null
}

/** One run of a pool's burst policy over the window. */
export interface BurstTrack {
  scaleOuts: number
  scaleIns: number
  cloudGpuHours: number
  costUsd: number
  /** Pending GPU-hours the burst nodes served. */
  burstServedGpuHours: number
  /** Steps held, by reason code (steady left out). */
  holds: Partial<Record<BurstDecision['code'], number>>
  decisions: Array<{ atMs: number; action: BurstDecision['action']; code: BurstDecision['code']; changes: ScaleChange[] }>
}

/** The what-if answer. */
export interface WhatifReport {
  window: { fromMs: number; toMs: number; stepMs: number; steps: number }
  idle: {
    workloadsEvaluated: number
    /** GPU-hours judged (running workloads × steps), and the part without enough samples (unknown: never idle). */
    evaluatedGpuHours: number
    unknownGpuHours: number
    warnedWorkloads: number
    warnings: number
    stoppedWorkloads: number
    falseStops: number
    /** Stops whose grace period ran past the window end (not judged). */
    falseStopsUnjudged: number
    reclaimedGpuHours: number
    /** Of the reclaimed GPU-hours, those of false stops. */
    falseStopReclaimedGpuHours: number
    /** Workloads warned whose stop the enforcer would not make, by why (hung, unsupported, not-allowed, ...). */
    blocked: Partial<Record<StopOutcome, number>>
  }
  demand: { pendingGpuHours: number; pendingWaitAvoidedGpuHours: number }
  burst: Array<{ cluster: string; pool: string; baseline: BurstTrack; whatif: BurstTrack }>
  stops: WhatifStop[]
}

/** The minute lookback each evaluation reads (6 h or the longest idle window, plus staleness), as api/routes/idle.ts assessRunning reads it for the enforcer. */
export const lookbackMsOf = (p: IdlePolicy): number => Math.max(LIVE_LOOKBACK_MS, p.notebookWindowMs, p.jobWindowMs, ...Object.values(p.windowsByKindMs)) + p.stalenessMs

/** Start of the minute lookback of an evaluation at tMs: hour-aligned, so the hourly history ends exactly there. */
export const lookbackFromOf = (p: IdlePolicy, tMs: number): number => Math.floor((Math.floor(tMs / MINUTE_MS) * MINUTE_MS - lookbackMsOf(p)) / HOUR_MS) * HOUR_MS

/** A workload's identity: cluster/namespace/kind/name (alerts/audit.ts workloadKey). */
export const whatifKey = (w: { cluster: string; namespace: string; kind: string; name: string }): string => `${w.cluster}/${w.namespace}/${w.kind}/${w.name}`

/** Kernel evidence from the polls of the lookback, as store/queries/idle.ts KERNELS summarises them; undefined without polls. */
export function kernelOf(polls: readonly KernelPoll[]): KernelEvidence | undefined {
  if (polls.length === 0) return undefined
  const latest = polls[polls.length - 1] as KernelPoll
  let busySinceMs: number | undefined
  for (let i = polls.length - 1; i >= 0 && (polls[i] as KernelPoll).busy; i--) busySinceMs = (polls[i] as KernelPoll).tsMs
  const acts = polls.flatMap((p) => (p.lastActivityMs === undefined ? [] : [p.lastActivityMs]))
  return {
    firstPollMs: (polls[0] as KernelPoll).tsMs, latestPollMs: latest.tsMs, busyNow: latest.busy,
    busySinceMs: latest.busy ? busySinceMs : undefined, lastActivityMs: acts.length > 0 ? Math.max(...acts) : undefined,
  }
}
