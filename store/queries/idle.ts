/**
 * Reads behind /idle and /insights: running GPU workloads and their evidence,
 * one grouped query per table (never one per workload). Samples join
 * intervals on cluster + namespace + pod (dcgm-exporter's pod mapping), from
 * the pod's own start so a reused pod name does not inherit old samples.
 * Both DCGM activity fields are returned; core/idle.ts prefers
 * GR_ENGINE_ACTIVE and falls back to DEV_GPU_UTIL per GPU-minute.
 */
import type { ActionEvidence, GpuMinute, IdleHistory, KernelEvidence, WorkloadEvidence } from '../../core/idle'
import type { PodUsage, WorkloadRef } from '../../core/insights'
import type { QueryFn } from '../../core/ports'

const MINUTE_MS = 60_000
const HOUR_MS = 3_600_000

/** Running GPU pods (newest row per pod, FINAL): started, not ended; optional team and kind (case-insensitive) filters. */
const RUNNING_PODS = `
SELECT cluster, namespace, pod, workload_kind, workload_name, team, project, user, node, gpus,
       toUnixTimestamp64Milli(start_ts) AS start_ms
FROM workload_intervals FINAL
WHERE end_ts IS NULL AND start_ts IS NOT NULL AND gpus > 0
  AND ({team:String} = '' OR team = {team:String})
  AND ({kind:String} = '' OR lower(workload_kind) = lower({kind:String}))`

/** Per running pod, GPU and minute over [fromMs, toMs): both activity fields' sum / count / max and peak memory. */
const GPU_MINUTES = `
SELECT s.cluster AS cluster, s.namespace AS namespace, s.pod AS pod, s.gpu_uuid AS gpu_uuid,
       toUnixTimestamp(s.ts) * 1000 AS minute_ms,
       sum(s.gr_engine_active_sum) AS gr_sum, sum(s.gr_engine_active_n) AS gr_n, max(s.gr_engine_active_max) AS gr_max,
       sum(s.gpu_util_sum) AS util_sum, sum(s.gpu_util_n) AS util_n, max(s.gpu_util_max) AS util_max,
       max(s.fb_used_bytes_max) AS fb_max
FROM gpu_samples_1m AS s
INNER JOIN (${RUNNING_PODS}) AS w ON s.cluster = w.cluster AND s.namespace = w.namespace AND s.pod = w.pod
WHERE s.ts >= toDateTime(intDiv({fromMs:Int64}, 1000), 'UTC') AND s.ts < toDateTime(intDiv({toMs:Int64}, 1000), 'UTC')
  AND toUnixTimestamp(s.ts) * 1000 >= intDiv(w.start_ms, ${MINUTE_MS}) * ${MINUTE_MS}
GROUP BY cluster, namespace, pod, gpu_uuid, minute_ms`

/**
 * Per running workload, its sampled hours in [fromMs, toMs) (the time before
 * the minute lookback): the newest hour whose max reading reached utilBelow
 * (the max, whatever the policy's activityStat: strict), the first sampled
 * hour, the highest reading, and the sampled hours after the newest active one.
 */
const HISTORY = `
SELECT cluster, namespace, workload_kind, workload_name,
       maxIf(hour_ms, act >= {utilBelow:Float64}) AS last_active_hour_ms, min(hour_ms) AS first_hour_ms, max(act) AS max_act,
       arrayCount(h -> h > last_active_hour_ms, groupArray(hour_ms)) AS sampled_hours
FROM (
  SELECT s.cluster AS cluster, s.namespace AS namespace, w.workload_kind AS workload_kind, w.workload_name AS workload_name,
         toUnixTimestamp(s.ts) * 1000 AS hour_ms,
         if(sum(s.gr_engine_active_n) > 0, max(s.gr_engine_active_max), max(s.gpu_util_max)) AS act
  FROM gpu_samples_1h AS s
  INNER JOIN (${RUNNING_PODS}) AS w ON s.cluster = w.cluster AND s.namespace = w.namespace AND s.pod = w.pod
  WHERE s.ts >= toDateTime(intDiv({fromMs:Int64}, 1000), 'UTC') AND s.ts < toDateTime(intDiv({toMs:Int64}, 1000), 'UTC')
    AND toUnixTimestamp(s.ts) * 1000 >= intDiv(w.start_ms, ${HOUR_MS}) * ${HOUR_MS}
  GROUP BY cluster, namespace, workload_kind, workload_name, hour_ms
  HAVING sum(s.gr_engine_active_n) + sum(s.gpu_util_n) > 0)
GROUP BY cluster, namespace, workload_kind, workload_name`

/**
 * Per running notebook, its kernel polls in [fromMs, toMs] by the culler's
 * rule (a poll is busy when some kernel is not idle): first and newest poll,
 * busy at the newest, the first poll of the busy streak ending there, and the
 * newest last_activity.
 */
const KERNELS = `
SELECT cluster, namespace, notebook,
       toUnixTimestamp64Milli(min(ts)) AS first_poll_ms, toUnixTimestamp64Milli(max(ts)) AS latest_poll_ms,
       argMax(busy, ts) AS busy_now, toUnixTimestamp64Milli(max(last_act)) AS last_activity_ms,
       maxIf(ts, NOT busy) AS last_idle_poll,
       arrayMin(arrayMap(x -> toUnixTimestamp64Milli(x.1), arrayFilter(x -> x.2 AND x.1 > last_idle_poll, groupArray((ts, busy))))) AS busy_since_ms
FROM (
  SELECT cluster, namespace, notebook, ts, countIf(kernel_id != '' AND execution_state != 'idle') > 0 AS busy, max(last_activity_ts) AS last_act
  FROM notebook_activity
  WHERE ts >= fromUnixTimestamp64Milli({fromMs:Int64}) AND ts <= fromUnixTimestamp64Milli({toMs:Int64})
    AND (cluster, namespace, notebook) IN (SELECT cluster, namespace, workload_name FROM (${RUNNING_PODS}) WHERE workload_kind = 'Notebook')
  GROUP BY cluster, namespace, notebook, ts)
GROUP BY cluster, namespace, notebook`

/** Warn and stop rows of the audit log about running workloads since fromMs. */
const ACTIONS = `
SELECT cluster, namespace, workload_kind, workload_name, toUnixTimestamp64Milli(ts) AS ts_ms, action, acted, dry_run
FROM actions FINAL
WHERE ts >= fromUnixTimestamp64Milli({fromMs:Int64}) AND action IN {actions:Array(String)}
  AND (cluster, namespace, workload_kind, workload_name) IN (SELECT cluster, namespace, workload_kind, workload_name FROM (${RUNNING_PODS}))
ORDER BY ts_ms`

interface PodRow { cluster: string; namespace: string; pod: string; workload_kind: string; workload_name: string; team: string; project: string; user: string; node: string; gpus: number; start_ms: number }
interface MinuteRow { cluster: string; namespace: string; pod: string; gpu_uuid: string; minute_ms: number; gr_sum: number; gr_n: number; gr_max: number | null; util_sum: number; util_n: number; util_max: number | null; fb_max: number | null }
interface HistoryRow { cluster: string; namespace: string; workload_kind: string; workload_name: string; last_active_hour_ms: number; first_hour_ms: number; max_act: number | null; sampled_hours: number }
interface KernelRow { cluster: string; namespace: string; notebook: string; first_poll_ms: number; latest_poll_ms: number; busy_now: boolean | number; last_activity_ms: number; busy_since_ms: number }
interface ActionRow { cluster: string; namespace: string; workload_kind: string; workload_name: string; ts_ms: number; action: string; acted: boolean; dry_run: boolean }

/** A running GPU workload (its running pods grouped by cluster, namespace, kind and name) with its idle evidence. */
export interface IdleWorkload extends WorkloadRef {
  pods: string[]
  nodes: string[]
  evidence: WorkloadEvidence
}

/** What to read: now, the minute lookback, how far back the hourly history goes, filters, the threshold for the history and the action names. */
export interface IdleRead {
  nowMs: number
  /** Start of the minute lookback; hour-aligned so the hourly history ends exactly there. */
  lookbackFromMs: number
  historyFromMs: number
  team?: string | undefined
  kind?: string | undefined
  /** Readings at or above this are activity in the hourly history (core/idle.ts activityFloor of the policy threshold). */
  utilBelow: number
  actions: readonly string[]
}

/** The evidence, and the sources that failed (their evidence is left out and the verdicts say unknown where it mattered). */
export interface IdleLoad {
  workloads: IdleWorkload[]
  warnings: string[]
}

const keyOf = (cluster: string, namespace: string, kind: string, name: string): string => [cluster, namespace, kind, name].join('\u0000')

/**
 * Reads every running GPU workload with its per-GPU minutes over
 * [lookbackFromMs, nowMs), its hourly history before that, kernel activity
 * (notebooks) and warn / stop actions: five grouped queries in parallel.
 * Intervals and minutes must answer; the other three degrade to warnings.
 */
export async function loadIdleEvidence(query: QueryFn, r: IdleRead): Promise<IdleLoad> {
  const base = { team: r.team ?? '', kind: r.kind ?? '' }
  const warnings: string[] = []
  const optional = <T>(what: string, p: Promise<T[]>): Promise<T[]> =>
    p.catch((err: unknown) => {
      warnings.push(`${what} unavailable: ${(err as Error).message}`)
      return []
    })
  const [pods, minutes, history, kernels, actions] = await Promise.all([
    query<PodRow>(RUNNING_PODS, base),
    query<MinuteRow>(GPU_MINUTES, { ...base, fromMs: r.lookbackFromMs, toMs: r.nowMs }),
    optional('hourly history', query<HistoryRow>(HISTORY, { ...base, fromMs: r.historyFromMs, toMs: r.lookbackFromMs, utilBelow: r.utilBelow })),
    optional('notebook kernel activity', query<KernelRow>(KERNELS, { ...base, fromMs: r.lookbackFromMs, toMs: r.nowMs })),
    optional('action history', query<ActionRow>(ACTIONS, { ...base, fromMs: r.historyFromMs, actions: [...r.actions] })),
  ])
  const byKey = groupPods(pods)
  const podKey = new Map<string, IdleWorkload>()
  for (const w of byKey.values()) for (const pod of w.pods) podKey.set([w.cluster, w.namespace, pod].join('\u0000'), w)
  for (const m of minutes) {
    const w = podKey.get([m.cluster, m.namespace, m.pod].join('\u0000'))
    ;(w?.evidence.minutes as GpuMinute[] | undefined)?.push(minuteOf(m))
  }
  for (const h of history) {
    const w = byKey.get(keyOf(h.cluster, h.namespace, h.workload_kind, h.workload_name))
    if (w) w.evidence.history = historyOf(h, r)
  }
  for (const k of kernels) {
    const w = byKey.get(keyOf(k.cluster, k.namespace, 'Notebook', k.notebook))
    if (w) w.evidence.kernel = kernelOf(k)
  }
  for (const a of actions) {
    const w = byKey.get(keyOf(a.cluster, a.namespace, a.workload_kind, a.workload_name))
    ;(w?.evidence.actions as ActionEvidence[] | undefined)?.push({ tsMs: a.ts_ms, action: a.action, acted: Boolean(a.acted), dryRun: Boolean(a.dry_run) })
  }
  return { workloads: [...byKey.values()], warnings }
}

function groupPods(pods: readonly PodRow[]): Map<string, IdleWorkload> {
  const byKey = new Map<string, IdleWorkload>()
  for (const p of pods) {
    const key = keyOf(p.cluster, p.namespace, p.workload_kind, p.workload_name)
    const w = byKey.get(key) ?? {
      cluster: p.cluster, namespace: p.namespace, kind: p.workload_kind, name: p.workload_name, team: p.team, project: p.project, user: p.user, pods: [], nodes: [],
      evidence: { kind: p.workload_kind, startMs: p.start_ms, gpus: 0, minutes: [], actions: [] },
    }
    w.pods.push(p.pod)
    if (p.node && !w.nodes.includes(p.node)) w.nodes.push(p.node)
    w.evidence.gpus += p.gpus
    w.evidence.startMs = Math.min(w.evidence.startMs, p.start_ms)
    byKey.set(key, w)
  }
  return byKey
}

const minuteOf = (m: MinuteRow): GpuMinute => ({
  device: `${m.pod}/${m.gpu_uuid}`, minuteMs: m.minute_ms, grN: m.gr_n, grSum: m.gr_sum, grMax: m.gr_max, utilN: m.util_n, utilSum: m.util_sum, utilMax: m.util_max, fbUsedMaxBytes: m.fb_max,
})

// maxIf over no rows is 0 (1970): no active hour.
const historyOf = (h: HistoryRow, r: IdleRead): IdleHistory => ({
  fromMs: r.historyFromMs, toMs: r.lookbackFromMs, lastActiveEndMs: h.last_active_hour_ms > 0 ? h.last_active_hour_ms + HOUR_MS : undefined,
  firstSampleMs: h.first_hour_ms, sampledHours: h.sampled_hours, maxUtil: h.max_act,
})

// arrayMin of an empty array is 0: not busy now.
const kernelOf = (k: KernelRow): KernelEvidence => ({
  firstPollMs: k.first_poll_ms, latestPollMs: k.latest_poll_ms, busyNow: Boolean(k.busy_now),
  busySinceMs: k.busy_now && k.busy_since_ms > 0 ? k.busy_since_ms : undefined, lastActivityMs: k.last_activity_ms,
})

/** GPU pods whose interval overlaps [fromMs, toMs) (newest row per pod uid), optionally one team's. */
const WINDOW_PODS = `
SELECT cluster, namespace, pod, workload_kind, workload_name, team, project, user, gpus,
       toUnixTimestamp64Milli(start_ts) AS start_ms, toUnixTimestamp64Milli(end_ts) AS end_ms
FROM workload_intervals FINAL
WHERE start_ts IS NOT NULL AND gpus > 0 AND start_ts < fromUnixTimestamp64Milli({toMs:Int64})
  AND (end_ts IS NULL OR end_ts > fromUnixTimestamp64Milli({fromMs:Int64}))
  AND ({team:String} = '' OR team = {team:String})`

/** Per pod and GPU over the window, from the hourly rollup: sampled hours, mean and p95 of the hourly mean activity (profiling first), peak memory. */
const DEVICE_HOURS = `
SELECT cluster, namespace, pod, node, gpu_uuid, count() AS hours, sum(s) / sum(n) AS mean_util,
       quantileExact(0.95)(s / n) AS p95_util, max(fb) AS fb_max, max(mig) != '' AS mig
FROM (
  SELECT cluster, namespace, pod, node, gpu_uuid, ts,
         if(sum(gr_engine_active_n) > 0, sum(gr_engine_active_sum), sum(gpu_util_sum)) AS s,
         if(sum(gr_engine_active_n) > 0, sum(gr_engine_active_n), sum(gpu_util_n)) AS n,
         max(fb_used_bytes_max) AS fb, anyLast(mig_profile) AS mig
  FROM gpu_samples_1h
  WHERE ts >= toDateTime(intDiv({fromMs:Int64}, 1000), 'UTC') AND ts < toDateTime(intDiv({toMs:Int64}, 1000), 'UTC')
    AND (cluster, namespace, pod) IN (SELECT cluster, namespace, pod FROM (${WINDOW_PODS}))
  GROUP BY cluster, namespace, pod, node, gpu_uuid, ts
  HAVING n > 0)
GROUP BY cluster, namespace, pod, node, gpu_uuid
ORDER BY cluster, namespace, pod, gpu_uuid`

/** Memory of each full GPU (used + free) over the last raw samples; MIG slices are left out (their share is not a whole GPU's). */
const FB_TOTALS = `
SELECT cluster, node, gpu_uuid, max(fb_used_bytes + fb_free_bytes) AS fb_total
FROM gpu_samples
WHERE ts >= fromUnixTimestamp64Milli({fromMs:Int64}) AND ts < fromUnixTimestamp64Milli({toMs:Int64})
  AND mig_profile = '' AND fb_used_bytes IS NOT NULL AND fb_free_bytes IS NOT NULL
GROUP BY cluster, node, gpu_uuid`

interface WindowPodRow { cluster: string; namespace: string; pod: string; workload_kind: string; workload_name: string; team: string; project: string; user: string; gpus: number; start_ms: number; end_ms: number | null }
interface DeviceRow { cluster: string; namespace: string; pod: string; node: string; gpu_uuid: string; hours: number; mean_util: number; p95_util: number; fb_max: number | null; mig: boolean | number }
interface FbRow { cluster: string; node: string; gpu_uuid: string; fb_total: number }

/** A pod (all its intervals under one name) over the insights window, with its GPUs' hourly statistics. */
export interface PodWindowUsage extends Omit<PodUsage, 'gpuHours'> {
  intervals: Array<{ startMs: number; endMs: number | undefined; gpus: number }>
}

/** How far back raw samples are read for each GPU's total memory. */
const FB_TOTAL_LOOKBACK_MS = 24 * HOUR_MS

/**
 * Reads the GPU pods of [fromMs, toMs) with their per-GPU hourly statistics
 * and each GPU's memory size: three grouped queries; the memory sizes degrade
 * to a warning (no low-memory findings) when raw samples cannot be read.
 */
export async function loadPodUsage(query: QueryFn, r: { fromMs: number; toMs: number; team?: string | undefined }): Promise<{ pods: PodWindowUsage[]; warnings: string[] }> {
  const params = { fromMs: r.fromMs, toMs: r.toMs, team: r.team ?? '' }
  const warnings: string[] = []
  const [pods, devices, totals] = await Promise.all([
    query<WindowPodRow>(WINDOW_PODS, params),
    query<DeviceRow>(DEVICE_HOURS, params),
    query<FbRow>(FB_TOTALS, { fromMs: Math.max(r.fromMs, r.toMs - FB_TOTAL_LOOKBACK_MS), toMs: r.toMs }).catch((err: unknown) => {
      warnings.push(`GPU memory sizes unavailable: ${(err as Error).message}`)
      return [] as FbRow[]
    }),
  ])
  const fbTotal = new Map(totals.map((t) => [[t.cluster, t.node, t.gpu_uuid].join('\u0000'), t.fb_total]))
  const byPod = new Map<string, PodWindowUsage>()
  for (const p of pods) {
    const key = [p.cluster, p.namespace, p.pod].join('\u0000')
    const u = byPod.get(key) ?? { cluster: p.cluster, namespace: p.namespace, kind: p.workload_kind, name: p.workload_name, team: p.team, project: p.project, user: p.user, pod: p.pod, gpus: 0, intervals: [], devices: [] }
    u.gpus = Math.max(u.gpus, p.gpus)
    u.intervals.push({ startMs: p.start_ms, endMs: p.end_ms ?? undefined, gpus: p.gpus })
    byPod.set(key, u)
  }
  for (const d of devices) {
    byPod.get([d.cluster, d.namespace, d.pod].join('\u0000'))?.devices.push({
      device: `${d.pod}/${d.gpu_uuid}`, hours: d.hours, meanUtil: d.mean_util, p95Util: d.p95_util, fbUsedMaxBytes: d.fb_max,
      fbTotalBytes: d.mig ? null : (fbTotal.get([d.cluster, d.node, d.gpu_uuid].join('\u0000')) ?? null),
    })
  }
  return { pods: [...byPod.values()], warnings }
}
