/**
 * Data-driven findings over a window (7 days by default), each with the
 * evidence behind it: teams that use little of what they hold, jobs that hold
 * more GPUs than they keep busy (right-size), busy jobs whose GPU memory stays
 * low (larger batch), and notebooks idle or hung long enough to cull. Pure:
 * the store and the idle assessment supply the numbers. Unsampled GPUs are
 * unknown, never idle: only sampled GPU-hours count as measured, a pod without
 * samples counts in allocation only, and a job with an unsampled GPU gets no
 * right-size finding. Every impact is GPU-hours inside the window, and one
 * workload's findings never claim more than the GPU-hours it was allocated
 * there (right-size leaves out the hours a cull recovers; low memory counts
 * only the busy GPUs right-size keeps).
 */
import { isNotebook, reaches, type IdleState, type IdleVerdict } from './idle.js'

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
  /** Start of the window (its end is now): cull impacts count only the idle hours inside it. */
  windowFromMs: number
  pods: readonly PodUsage[]
  notebooks: readonly NotebookIdle[]
  /** Workloads (as cluster/namespace/kind/name) running now with the idle verdict `active`: the only ones given a low-memory finding. */
  activeNow: ReadonlySet<string>
}

const pct = (r: number): string => `${Math.round(r * 1000) / 10}%`
const hours = (h: number): string => `${Math.round(h * 10) / 10}`
/** A workload as cluster/namespace/kind/name (the subject of its findings). */
export const subjectOf = (w: WorkloadRef): string => `${w.cluster}/${w.namespace}/${w.kind}/${w.name}`

/** Hour-weighted mean activity of a pod's sampled devices; undefined when none was sampled. */
export function podMeanUtil(p: PodUsage): number | undefined {
  const h = p.devices.reduce((n, d) => n + d.hours, 0)
  return h > 0 ? p.devices.reduce((n, d) => n + d.meanUtil * d.hours, 0) / h : undefined
}

/** Sampled and used GPU-hours of some devices of a pod. */
export interface SampledHours {
  sampledGpuHours: number
  usedGpuHours: number
}

/**
 * The GPU-hours of a pod that were sampled, and the used share of them, over
 * `devices` (all of the pod's by default): each device's sampled hours (hourly
 * buckets, so a partial hour counts whole) clipped to the pod's allocated hours
 * in the window, weighted by the GPU share of one device (1 for whole GPUs,
 * the pod's fraction split over its devices for MIG slices and shares), the
 * total clipped to the pod's allocated GPU-hours.
 */
export function sampledHours(p: PodUsage, devices: readonly DeviceUsage[] = p.devices): SampledHours {
  if (p.gpus <= 0 || p.gpuHours <= 0 || devices.length === 0) return { sampledGpuHours: 0, usedGpuHours: 0 }
  const allocHours = p.gpuHours / p.gpus
  const unit = Number.isInteger(p.gpus) ? 1 : p.gpus / Math.max(1, p.devices.length)
  let sampled = 0
  let used = 0
  for (const d of devices) {
    const h = Math.min(d.hours, allocHours) * unit
    sampled += h
    used += h * d.meanUtil
  }
  const f = sampled > p.gpuHours ? p.gpuHours / sampled : 1
  return { sampledGpuHours: sampled * f, usedGpuHours: used * f }
}

/** Every finding, largest impact first (then by type and subject, for a stable order); impacts are GPU-hours inside the window. */
export function findInsights(input: InsightsInput, policy: InsightsPolicy, nowMs: number): Finding[] {
  const culls = cullNotebooks(input.notebooks, policy, nowMs, input.windowFromMs)
  const culled = new Map(culls.map((f) => [f.subject, f.impactGpuHours]))
  const perWorkload = [...groupByWorkload(input.pods)].flatMap(([subject, pods]) => [
    rightSize(pods, policy, culled.get(subject) ?? 0),
    input.activeNow.has(subject) ? lowMemory(pods, policy) : undefined,
  ])
  const findings = [...teamEfficiency(input.pods, policy), ...perWorkload.filter((f): f is Finding => f !== undefined), ...culls]
  return findings.sort((a, b) => b.impactGpuHours - a.impactGpuHours || a.type.localeCompare(b.type) || a.subject.localeCompare(b.subject))
}

/** Per team, used / sampled GPU-hours (only the GPU-hours with samples count, never extrapolated); a finding when it is below efficiencyBelow. */
export function teamEfficiency(pods: readonly PodUsage[], policy: InsightsPolicy): Finding[] {
  const teams = new Map<string, { allocated: number; measured: number; used: number }>()
  for (const p of pods) {
    const t = teams.get(p.team) ?? { allocated: 0, measured: 0, used: 0 }
    const s = sampledHours(p)
    t.allocated += p.gpuHours
    t.measured += s.sampledGpuHours
    t.used += s.usedGpuHours
    teams.set(p.team, t)
  }
  const out: Finding[] = []
  for (const [team, t] of teams) {
    if (t.measured < policy.minGpuHours || t.measured <= 0) continue
    const efficiency = t.used / t.measured
    if (efficiency >= policy.efficiencyBelow) continue
    out.push({
      type: 'team-efficiency', team, subject: team,
      message: `team ${team} used ${pct(efficiency)} of the ${hours(t.measured)} sampled GPU-hours it held (of ${hours(t.allocated)} allocated; threshold ${pct(policy.efficiencyBelow)}); impact = sampled GPU-hours unused`,
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
 * Impact: the share (n − k) / n of the allocated GPU-hours, leaving out
 * `culledGpuHours` (the idle hours a cull-notebook finding already counts).
 */
export function rightSize(pods: readonly PodUsage[], policy: InsightsPolicy, culledGpuHours = 0): Finding | undefined {
  const first = pods[0]
  if (!first) return undefined
  const judged = pods.map((p) => ({ p, n: p.gpus, busy: busyDevices(p, policy).length }))
  if (judged.some(({ p, n }) => !Number.isInteger(n) || n < 2 || p.devices.length < n)) return undefined
  const k = Math.max(...judged.map((j) => j.busy))
  const n = Math.min(...judged.map((j) => j.n))
  if (k < 1 || k >= n) return undefined
  const allocated = judged.reduce((s, j) => s + j.p.gpuHours, 0)
  const kept = allocated > 0 ? Math.max(0, allocated - culledGpuHours) / allocated : 0
  const impact = judged.reduce((s, j) => s + (j.p.gpuHours * kept * (j.n - k)) / j.n, 0)
  if (impact < policy.minGpuHours) return undefined
  return {
    type: 'right-size', team: first.team, subject: subjectOf(first),
    message: `${first.kind} ${first.name} requests ${n} GPU(s) per pod but at most ${k} reach ${policy.utilBelow} activity at the p95 of their hourly means; impact = GPU-hours of the ${n - k} unneeded GPU(s) per pod`,
    suggestion: `request ${k} GPU(s) per pod`,
    impactGpuHours: impact,
    evidence: { ...ref(first), requestedGpus: n, busyGpus: k, suggestedGpus: k, allocatedGpuHours: allocated, culledGpuHours, pods: judged.map(({ p, busy }) => ({ pod: p.pod, gpus: p.gpus, busyGpus: busy, gpuHours: p.gpuHours, devices: p.devices.map((d) => ({ device: d.device, p95UtilRatio: d.p95Util, meanUtilRatio: d.meanUtil })) })) },
  }
}

/** The devices of a pod that are busy: the p95 of their hourly activity reaches utilBelow. */
const busyDevices = (p: PodUsage, policy: InsightsPolicy): DeviceUsage[] => p.devices.filter((d) => reaches(d.p95Util, policy.utilBelow))

/**
 * Low memory, for a workload that is not a notebook (a notebook's batch is
 * interactive): its busy GPUs (the ones right-size keeps) have a mean activity
 * of at least utilBelow, and every one of them peaked below memoryBelowRatio
 * of its memory. Impact: the engine-idle time of those GPUs, their sampled
 * GPU-hours × (1 − mean activity), which a fuller batch could use. The caller
 * gives it only to workloads active now.
 */
export function lowMemory(pods: readonly PodUsage[], policy: InsightsPolicy): Finding | undefined {
  const first = pods[0]
  if (!first || isNotebook(first.kind)) return undefined
  const busy = pods.map((p) => ({ p, devices: busyDevices(p, policy) }))
  const devices = busy.flatMap((b) => b.devices)
  if (devices.length === 0 || devices.some((d) => d.fbUsedMaxBytes === null || !d.fbTotalBytes)) return undefined
  const { sampledGpuHours, usedGpuHours } = busy.reduce((s, b) => {
    const h = sampledHours(b.p, b.devices)
    return { sampledGpuHours: s.sampledGpuHours + h.sampledGpuHours, usedGpuHours: s.usedGpuHours + h.usedGpuHours }
  }, { sampledGpuHours: 0, usedGpuHours: 0 })
  if (sampledGpuHours <= 0) return undefined
  const mean = usedGpuHours / sampledGpuHours
  const peak = Math.max(...devices.map((d) => (d.fbUsedMaxBytes as number) / (d.fbTotalBytes as number)))
  const impact = sampledGpuHours - usedGpuHours
  if (!reaches(mean, policy.utilBelow) || peak >= policy.memoryBelowRatio || impact < policy.minGpuHours) return undefined
  const totalGiB = Math.round(Math.max(...devices.map((d) => d.fbTotalBytes as number)) / GiB)
  return {
    type: 'low-memory', team: first.team, subject: subjectOf(first),
    message: `${first.kind} ${first.name} keeps ${devices.length} GPU(s) busy (mean activity ${pct(mean)} on them) but their memory peaked at ${pct(peak)} of ${totalGiB} GiB; impact = ${hours(impact)} of their ${hours(sampledGpuHours)} sampled GPU-hours with the engine idle`,
    suggestion: 'raise the batch size (or pack more work per GPU) to use the idle memory and lift utilization',
    impactGpuHours: impact,
    evidence: { ...ref(first), busyGpus: devices.length, busyGpuHours: sampledGpuHours, meanUtilRatio: mean, peakMemoryRatio: peak, devices: devices.map((d) => ({ device: d.device, fbUsedMaxBytes: d.fbUsedMaxBytes, fbTotalBytes: d.fbTotalBytes })) },
  }
}

/** Notebooks idle or hung for at least cullAfterMs; impact = GPUs held × the idle hours inside the window [windowFromMs, nowMs). */
export function cullNotebooks(notebooks: readonly NotebookIdle[], policy: InsightsPolicy, nowMs: number, windowFromMs: number): Finding[] {
  return notebooks
    .filter((nb) => (nb.verdict === 'idle' || nb.verdict === 'hung') && nb.idleSinceMs !== undefined && nowMs - nb.idleSinceMs >= policy.cullAfterMs)
    .map((nb) => {
      const idleSinceMs = nb.idleSinceMs as number
      const idleHours = (nowMs - idleSinceMs) / HOUR_MS
      const impact = (nb.gpus * Math.max(0, nowMs - Math.max(idleSinceMs, windowFromMs))) / HOUR_MS
      const hung = nb.verdict === 'hung'
      return {
        type: 'cull-notebook' as const, team: nb.team, subject: subjectOf(nb),
        message: `${hung ? `notebook ${nb.name} has had a busy kernel with no GPU work` : `notebook ${nb.name} has been idle (kernels and GPUs)`} for ${hours(idleHours)} h, holding ${nb.gpus} GPU(s); impact = ${hours(impact)} idle GPU-hours inside the window`,
        suggestion: hung ? 'check for a hung cell: interrupt or restart the kernel, or stop the notebook' : 'stop it (Kubeflow annotation kubeflow-resource-stopped); its volume keeps the work',
        impactGpuHours: impact,
        evidence: { ...ref(nb), gpus: nb.gpus, verdict: nb.verdict, state: nb.state, idleSinceMs, lastKernelActivityMs: nb.lastKernelActivityMs, wastedGpuHours: nb.wastedGpuHours, idleGpuHoursInWindow: impact },
      }
    })
}

/** A one-line summary of a finding's scalar evidence, `name=value` pairs (for CSV). */
export function evidenceSummary(f: Finding): string {
  return Object.entries(f.evidence)
    .filter(([k, v]) => !['cluster', 'namespace', 'kind', 'name', 'team', 'project', 'user'].includes(k) && (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean'))
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Math.round(v * 1e4) / 1e4 : v}`)
    .join('; ')
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
