/**
 * The policy what-if, IO side: loads the recorded history of the window from
 * the store (pods, node capacity, then GPU-minutes and kernel polls a day at
 * a time so memory stays bounded), runs the pure replay (core/whatifReplay.ts) with
 * the live enforcer planning and burst policy functions, and returns the
 * report beside the recorded audit counts. Read only: it never talks to a
 * cluster, a cloud or Slack, and writes no row (not even to the actions table).
 */
import type { Config } from '../../config/schema'
import type { WhatifPolicy } from '../../config/whatif'
import type { IdlePolicy } from '../../core/idle'
import type { QueryFn } from '../../core/ports'
import { formatDuration } from '../../core/windows'
import { lookbackMsOf, type WhatifReport } from '../../core/whatif'
import { WhatifReplay } from '../../core/whatifReplay'
import { loadWhatifMinutes, loadWhatifNodes, loadWhatifPolls, loadWhatifWorkloads, PodIndex, recordedActionCounts, type RecordedActionCount } from '../../store/queries/whatif'
import { ACTIONS } from '../audit'
import { stepBurst } from '../burst/policy'
import { planActions, type EnforcerPolicy } from '../enforcer/plan'

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS
/** History read per query: a day of GPU-minutes is about 1.2k rows per GPU at most. */
const CHUNK_MS = 24 * HOUR_MS

/** What a what-if run needs. */
export interface WhatifDeps {
  query: QueryFn
  config: Config
  nowMs: number
  /** Called after each chunk of history is replayed (the CLI prints it on stderr). */
  onProgress?: (p: { doneMs: number; totalMs: number }) => void
}

/** The answer: the policy as applied (no secrets), the replay's report, what was recorded, and the rules it assumed. */
export interface WhatifResult {
  policy: {
    windowMs: number
    stepMs: number
    clusters: string[]
    idle: IdlePolicy
    enforcer: Omit<EnforcerPolicy, 'enabled' | 'dryRun'>
    burstPools: Array<Record<string, unknown>>
  }
  report: WhatifReport
  /** Warn, stop and burst rows the live system recorded in the window (dry-run rows included, flagged). */
  recorded: RecordedActionCount[]
  /** Which burst numbers compare with which, and the replay's other assumptions. */
  notes: string[]
  warnings: string[]
}

/** The idle policy of an idle config, without the insight thresholds. */
const idlePolicyOf = ({ insights: _insights, ...policy }: WhatifPolicy['idle']): IdlePolicy => policy

/** A burst pool as the answer shows it: targets without adapter URLs, keys or secrets. */
function poolSummary(p: WhatifPolicy['burst']['pools'][number]): Record<string, unknown> {
  const { targets, ...rest } = p
  return { ...rest, targets: targets.map(({ adapter, ...t }) => ({ ...t, adapter: adapter.type })) }
}

const NOTES = [
  'read only: nothing was stopped, scaled or sent, and no audit row was written (the actions table is only counted)',
  'burst.baseline is the burst policy re-run on the recorded history at the same step (nothing reclaimed); burst.whatif is the same policy with the reclaimed GPUs serving pending demand. A policy that stops nothing gives equal tracks. `recorded` counts what the live controller wrote, at its own cron and config',
  'warnings are assumed delivered and exemption labels are not known for the past (nothing exempt); the enforcer is assumed enabled and live in every cluster of the history',
  'false stop: active again (a GPU reading at or above utilBelow, or notebook kernel activity) within graceMs after the stop and before the recorded end; null when the window ends first',
  'pending wait avoided counts reclaimed GPUs against pending GPUs of the same cluster (counts, not placement: an upper bound)',
  'missing samples are unknown, never idle: history without GPU samples (e.g. a replay backfilled with fewer sample days) can warn or stop nothing',
]

/** Runs a what-if of the policy over the window ending at nowMs (aligned down to the step). */
export async function runWhatif(deps: WhatifDeps, policy: WhatifPolicy): Promise<WhatifResult> {
  const { query } = deps
  const idle = idlePolicyOf(policy.idle)
  const toMs = Math.floor(deps.nowMs / policy.stepMs) * policy.stepMs
  const fromMs = toMs - policy.windowMs
  const loadFromMs = Math.floor((fromMs - lookbackMsOf(idle)) / HOUR_MS) * HOUR_MS
  const span = { fromMs, toMs, clusters: policy.clusters }
  const pools = policy.burst.pools.filter((p) => policy.clusters.length === 0 || policy.clusters.includes(p.cluster))
  const [workloads, nodes, recorded] = await Promise.all([
    loadWhatifWorkloads(query, span),
    loadWhatifNodes(query, span),
    recordedActionCounts(query, span, [ACTIONS.warn, ACTIONS.stop, ACTIONS.burstOut, ACTIONS.burstIn]),
  ])
  const e = policy.enforcer
  const enforcer: EnforcerPolicy = {
    enabled: true, dryRun: false, namespaceAllowList: e.namespaceAllowList, protectedNamespaces: e.protectedNamespaces, maxActionsPerRun: e.maxActionsPerRun,
    deleteBarePods: e.deleteBarePods, clusters: [...new Set(workloads.map((w) => w.cluster))], graceMs: idle.graceMs,
  }
  const replay = new WhatifReplay(workloads, nodes, { fromMs, toMs, stepMs: policy.stepMs, idle, enforcer, pools }, { planActions, stepBurst })
  const index = new PodIndex(workloads)
  for (let a = loadFromMs; a < toMs; a += CHUNK_MS) {
    const b = Math.min(a + CHUNK_MS, toMs)
    const chunk = { fromMs: a, toMs: b, clusters: policy.clusters }
    const [minutes, polls] = await Promise.all([loadWhatifMinutes(query, chunk, index), loadWhatifPolls(query, { ...chunk, fromMs: a === loadFromMs ? a - 1 : a })])
    replay.addMinutes(minutes)
    replay.addPolls(polls)
    replay.advanceTo(b)
    deps.onProgress?.({ doneMs: Math.max(0, b - fromMs), totalMs: toMs - fromMs })
  }
  replay.advanceTo(toMs)
  const report = replay.report()
  const { enabled: _enabled, dryRun: _dryRun, ...enforcerShown } = enforcer
  return {
    policy: { windowMs: policy.windowMs, stepMs: policy.stepMs, clusters: policy.clusters, idle, enforcer: enforcerShown, burstPools: pools.map(poolSummary) },
    report, recorded, notes: NOTES, warnings: warningsOf(report, pools.length, workloads.length),
  }
}

function warningsOf(r: WhatifReport, pools: number, workloads: number): string[] {
  const out: string[] = []
  if (workloads === 0) out.push('no GPU workloads recorded in the window')
  const unknownShare = r.idle.evaluatedGpuHours > 0 ? r.idle.unknownGpuHours / r.idle.evaluatedGpuHours : 0
  if (unknownShare > 0.2) out.push(`${Math.round(unknownShare * 100)}% of the evaluated GPU-hours had too few GPU samples to judge (unknown, never idle): the numbers cover the sampled part of the ${formatDuration(r.window.toMs - r.window.fromMs)} window only`)
  if (pools === 0) out.push('no burst pools configured (alerts.burst.pools, or burst.pools in the policy): cloud burst not replayed')
  return out
}
