/**
 * Data-driven findings over a window (7 days by default), each with the
 * evidence behind it: teams that use little of what they hold, jobs that hold
 * more GPUs than they keep busy (right-size), busy jobs whose GPU memory stays
 * low (larger batch), and notebooks idle or hung long enough to cull. Pure:
 * the store and the idle assessment supply the numbers. Unsampled GPUs are
 * unknown, never idle: a pod without samples counts in allocation only, and
 * a job with an unsampled GPU gets no right-size or memory finding.
 */
import { reaches, type IdleState, type IdleVerdict } from './idle.js'

const HOUR_MS = 3_600_000
const GiB = 1024 ** 3

/** Thresholds of the findings (config idle.insights) and the activity threshold shared with idle detection. */
export interface InsightsPolicy {
  efficiencyBelow: number
  memoryBelowRatio: number
  cullAfterMs: number
  minGpuHours: number
  /** A GPU whose p95 hourly activity reaches this is busy (idle.utilBelow). */
  utilBelow: number
}

/** The default insight thresholds (a new object each call); equal to config/idle.ts defaults. */
export const defaultInsightsPolicy = (): InsightsPolicy => ({ efficiencyBelow: 0.3, memoryBelowRatio: 0.25, cullAfterMs: 24 * HOUR_MS, minGpuHours: 1, utilBelow: 0.05 })

/** One GPU of a pod over the window, from the hourly rollup: mean and p95 of hourly mean activity, peak and total memory. */
export interface DeviceUsage {
  device: string
  hours: number
  meanUtil: number
  p95Util: number
  fbUsedMaxBytes: number | null
  /** used + free memory of the device; null for MIG slices and GPUs not sampled lately. */
  fbTotalBytes: number | null
}

/** Who owns a workload. */
export interface WorkloadRef {
  cluster: string
  namespace: string
  kind: string
  name: string
  team: string
  project: string
  user: string
}

/** One pod of a workload over the window: GPUs requested, allocated GPU-hours clipped to the window, and its sampled devices. */
export interface PodUsage extends WorkloadRef {
  pod: string
  gpus: number
  gpuHours: number
  devices: DeviceUsage[]
}

/** A running notebook's idle assessment, for the cull list. */
export interface NotebookIdle extends WorkloadRef {
  gpus: number
  verdict: IdleVerdict
  state: IdleState
  idleSinceMs: number | undefined
  wastedGpuHours: number
  lastKernelActivityMs: number | null
}

/** Kinds of finding. */
export type FindingType = 'team-efficiency' | 'right-size' | 'low-memory' | 'cull-notebook'

/** One finding: what, about whom, what to do, how many GPU-hours are at stake in the window, and the numbers behind it. */
export interface Finding {
  type: FindingType
  team: string
  /** The team, or the workload as cluster/namespace/kind/name. */
  subject: string
  message: string
  suggestion: string
  impactGpuHours: number
  evidence: Record<string, unknown>
}

/** What findInsights reads. */
export interface InsightsInput {
  pods: readonly PodUsage[]
  notebooks: readonly NotebookIdle[]
}

const pct = (r: number): string => `${Math.round(r * 1000) / 10}%`
const hours = (h: number): string => `${Math.round(h * 10) / 10}`
const subjectOf = (w: WorkloadRef): string => `${w.cluster}/${w.namespace}/${w.kind}/${w.name}`

/** Hour-weighted mean activity of a pod's sampled devices; undefined when none was sampled. */
export function podMeanUtil(p: PodUsage): number | undefined {
  const h = p.devices.reduce((n, d) => n + d.hours, 0)
  return h > 0 ? p.devices.reduce((n, d) => n + d.meanUtil * d.hours, 0) / h : undefined
}

/** Every finding, largest impact first (then by type and subject, for a stable order). */
export function findInsights(input: InsightsInput, policy: InsightsPolicy, nowMs: number): Finding[] {
  const byWorkload = groupByWorkload(input.pods)
  const findings = [
    ...teamEfficiency(input.pods, policy),
    ...[...byWorkload.values()].flatMap((pods) => [rightSize(pods, policy), lowMemory(pods, policy)].filter((f): f is Finding => f !== undefined)),
    ...cullNotebooks(input.notebooks, policy, nowMs),
  ]
  return findings.sort((a, b) => b.impactGpuHours - a.impactGpuHours || a.type.localeCompare(b.type) || a.subject.localeCompare(b.subject))
}

/** Per team, used / allocated GPU-hours over the sampled pods; a finding when it is below efficiencyBelow. */
export function teamEfficiency(pods: readonly PodUsage[], policy: InsightsPolicy): Finding[] {
  const teams = new Map<string, { allocated: number; measured: number; used: number }>()
  for (const p of pods) {
    const t = teams.get(p.team) ?? { allocated: 0, measured: 0, used: 0 }
    t.allocated += p.gpuHours
    const mean = podMeanUtil(p)
    if (mean !== undefined) {
      t.measured += p.gpuHours
      t.used += p.gpuHours * mean
    }
    teams.set(p.team, t)
  }
  const out: Finding[] = []
  for (const [team, t] of teams) {
    if (t.measured < policy.minGpuHours || t.measured <= 0) continue
    const efficiency = t.used / t.measured
    if (efficiency >= policy.efficiencyBelow) continue
    out.push({
      type: 'team-efficiency', team, subject: team,
      message: `team ${team} used ${pct(efficiency)} of the ${hours(t.measured)} sampled GPU-hours it held (threshold ${pct(policy.efficiencyBelow)})`,
      suggestion: 'review its idle work and GPU requests (see /idle and the right-size findings)',
      impactGpuHours: t.measured - t.used,
      evidence: { allocatedGpuHours: t.allocated, sampledGpuHours: t.measured, usedGpuHours: t.used, efficiencyRatio: efficiency },
    })
  }
  return out
}

/**
 * Right-size: every pod asks for n ≥ 2 whole GPUs, all n were sampled, and at
 * most k (1 ≤ k < n) of them ever reach utilBelow at the p95 of their hourly
 * activity; the suggestion is k GPUs per pod (the most any pod kept busy).
 */
export function rightSize(pods: readonly PodUsage[], policy: InsightsPolicy): Finding | undefined {
  const first = pods[0]
  if (!first) return undefined
  const judged = pods.map((p) => ({ p, n: p.gpus, busy: p.devices.filter((d) => reaches(d.p95Util, policy.utilBelow)).length }))
  if (judged.some(({ p, n }) => !Number.isInteger(n) || n < 2 || p.devices.length < n)) return undefined
  const k = Math.max(...judged.map((j) => j.busy))
  const n = Math.min(...judged.map((j) => j.n))
  if (k < 1 || k >= n) return undefined
  const impact = judged.reduce((s, j) => s + (j.p.gpuHours * (j.n - k)) / j.n, 0)
  if (impact < policy.minGpuHours) return undefined
  return {
    type: 'right-size', team: first.team, subject: subjectOf(first),
    message: `${first.kind} ${first.name} requests ${n} GPU(s) per pod but at most ${k} reach ${policy.utilBelow} activity at the p95 of their hourly means`,
    suggestion: `request ${k} GPU(s) per pod`,
    impactGpuHours: impact,
    evidence: { ...ref(first), requestedGpus: n, busyGpus: k, suggestedGpus: k, pods: judged.map(({ p, busy }) => ({ pod: p.pod, gpus: p.gpus, busyGpus: busy, gpuHours: p.gpuHours, devices: p.devices.map((d) => ({ device: d.device, p95UtilRatio: d.p95Util, meanUtilRatio: d.meanUtil })) })) },
  }
}

/** Low memory: a busy workload (mean activity at least utilBelow) whose every GPU peaked below memoryBelowRatio of its memory. */
export function lowMemory(pods: readonly PodUsage[], policy: InsightsPolicy): Finding | undefined {
  const first = pods[0]
  const devices = pods.flatMap((p) => p.devices)
  if (!first || devices.length === 0 || devices.some((d) => d.fbUsedMaxBytes === null || !d.fbTotalBytes)) return undefined
  const gpuHours = pods.reduce((s, p) => s + p.gpuHours, 0)
  const h = devices.reduce((s, d) => s + d.hours, 0)
  const mean = h > 0 ? devices.reduce((s, d) => s + d.meanUtil * d.hours, 0) / h : 0
  const peak = Math.max(...devices.map((d) => (d.fbUsedMaxBytes as number) / (d.fbTotalBytes as number)))
  if (!reaches(mean, policy.utilBelow) || peak >= policy.memoryBelowRatio || gpuHours < policy.minGpuHours) return undefined
  const totalGiB = Math.round(Math.max(...devices.map((d) => d.fbTotalBytes as number)) / GiB)
  return {
    type: 'low-memory', team: first.team, subject: subjectOf(first),
    message: `${first.kind} ${first.name} is busy (mean activity ${pct(mean)}) but its GPU memory peaked at ${pct(peak)} of ${totalGiB} GiB`,
    suggestion: 'raise the batch size (or pack more work per GPU) to use the idle memory and lift utilization',
    impactGpuHours: gpuHours * (1 - mean),
    evidence: { ...ref(first), gpuHours, meanUtilRatio: mean, peakMemoryRatio: peak, devices: devices.map((d) => ({ device: d.device, fbUsedMaxBytes: d.fbUsedMaxBytes, fbTotalBytes: d.fbTotalBytes })) },
  }
}

/** Notebooks idle or hung for at least cullAfterMs. */
export function cullNotebooks(notebooks: readonly NotebookIdle[], policy: InsightsPolicy, nowMs: number): Finding[] {
  return notebooks
    .filter((nb) => (nb.verdict === 'idle' || nb.verdict === 'hung') && nb.idleSinceMs !== undefined && nowMs - nb.idleSinceMs >= policy.cullAfterMs)
    .map((nb) => {
      const idleHours = (nowMs - (nb.idleSinceMs as number)) / HOUR_MS
      const hung = nb.verdict === 'hung'
      return {
        type: 'cull-notebook' as const, team: nb.team, subject: subjectOf(nb),
        message: hung
          ? `notebook ${nb.name} has had a busy kernel with no GPU work for ${hours(idleHours)} h, holding ${nb.gpus} GPU(s)`
          : `notebook ${nb.name} has been idle (kernels and GPUs) for ${hours(idleHours)} h, holding ${nb.gpus} GPU(s)`,
        suggestion: hung ? 'check for a hung cell: interrupt or restart the kernel, or stop the notebook' : 'stop it (Kubeflow annotation kubeflow-resource-stopped); its volume keeps the work',
        impactGpuHours: nb.wastedGpuHours,
        evidence: { ...ref(nb), gpus: nb.gpus, verdict: nb.verdict, state: nb.state, idleSinceMs: nb.idleSinceMs, lastKernelActivityMs: nb.lastKernelActivityMs, wastedGpuHours: nb.wastedGpuHours },
      }
    })
}

function ref(w: WorkloadRef): WorkloadRef {
  return { cluster: w.cluster, namespace: w.namespace, kind: w.kind, name: w.name, team: w.team, project: w.project, user: w.user }
}

function groupByWorkload(pods: readonly PodUsage[]): Map<string, PodUsage[]> {
  const out = new Map<string, PodUsage[]>()
  for (const p of pods) {
    const key = subjectOf(p)
    out.set(key, [...(out.get(key) ?? []), p])
  }
  return out
}
