/**
 * Reads behind the policy what-if (alerts/whatif/run.ts): the recorded GPU
 * pods of a window grouped into workloads, node capacity history, and — per
 * time chunk, so memory stays bounded by a chunk — GPU-minutes from the
 * 1-minute rollup and notebook kernel polls, each keyed by workload. Read
 * only: nothing here writes, and the actions table is only counted.
 * Minutes join pods on cluster + namespace + pod from the pod's own start
 * minute (as store/queries/idle.ts does), in JS, so the rollup scan stays
 * one grouped query per chunk.
 */
import type { GpuMinute } from '../../core/idle'
import type { QueryFn } from '../../core/ports'
import { whatifKey, type KernelPoll, type NodeCapacityRow, type WhatifWorkload } from '../../core/whatif'

const MINUTE_MS = 60_000

/** GPU pods created before toMs and not ended by fromMs (running or pending in the window), newest row per pod uid, with their node's latest pool. */
const WINDOW_PODS = `
WITH nodes AS (SELECT cluster, node, argMax(pool, ts) AS pool FROM node_state GROUP BY cluster, node)
SELECT i.cluster AS cluster, i.namespace AS namespace, i.pod AS pod, i.workload_kind AS workload_kind, i.workload_name AS workload_name,
       i.team AS team, i.project AS project, i.user AS user, i.node AS node, n.pool AS pool, i.gpus AS gpus,
       toUnixTimestamp64Milli(i.created_ts) AS created_ms, toUnixTimestamp64Milli(i.start_ts) AS start_ms, toUnixTimestamp64Milli(i.end_ts) AS end_ms
FROM workload_intervals AS i FINAL
LEFT JOIN nodes AS n ON n.cluster = i.cluster AND n.node = i.node
WHERE i.gpus > 0 AND i.created_ts < fromUnixTimestamp64Milli({toMs:Int64})
  AND (i.end_ts IS NULL OR i.end_ts > fromUnixTimestamp64Milli({fromMs:Int64}))
  AND (empty({clusters:Array(String)}) OR i.cluster IN {clusters:Array(String)})`

/** Each node's state at fromMs (its newest row before) and every change in [fromMs, toMs): schedulable GPUs (0 unless Ready and schedulable). */
const NODE_ROWS = `
SELECT cluster, node, argMax(pool, ts) AS pool, toUnixTimestamp64Milli(max(ts)) AS ts_ms, argMax(if(ready AND schedulable, allocatable_gpus, 0), ts) AS gpus
FROM node_state
WHERE ts < fromUnixTimestamp64Milli({fromMs:Int64}) AND (empty({clusters:Array(String)}) OR cluster IN {clusters:Array(String)})
GROUP BY cluster, node
UNION ALL
SELECT cluster, node, pool, toUnixTimestamp64Milli(ts) AS ts_ms, if(ready AND schedulable, allocatable_gpus, 0) AS gpus
FROM node_state
WHERE ts >= fromUnixTimestamp64Milli({fromMs:Int64}) AND ts < fromUnixTimestamp64Milli({toMs:Int64})
  AND (empty({clusters:Array(String)}) OR cluster IN {clusters:Array(String)})`

/** Per pod, GPU and minute of [fromMs, toMs): both activity fields' sum / count / max and peak memory (store/queries/idle.ts GPU_MINUTES without the running-pods join). */
const CHUNK_MINUTES = `
SELECT cluster, namespace, pod, gpu_uuid, toInt64(toUnixTimestamp(ts)) * 1000 AS minute_ms,
       sum(gr_engine_active_sum) AS gr_sum, sum(gr_engine_active_n) AS gr_n, max(gr_engine_active_max) AS gr_max,
       sum(gpu_util_sum) AS util_sum, sum(gpu_util_n) AS util_n, max(gpu_util_max) AS util_max, max(fb_used_bytes_max) AS fb_max
FROM gpu_samples_1m
WHERE ts >= toDateTime(intDiv({fromMs:Int64}, 1000), 'UTC') AND ts < toDateTime(intDiv({toMs:Int64}, 1000), 'UTC') AND pod != ''
  AND (empty({clusters:Array(String)}) OR cluster IN {clusters:Array(String)})
GROUP BY cluster, namespace, pod, gpu_uuid, minute_ms`

/** Kernel polls of (fromMs, toMs] by the Kubeflow culler's rule: a poll is busy when some kernel is not idle (store/queries/idle.ts KERNELS). */
const CHUNK_POLLS = `
SELECT cluster, namespace, notebook, toUnixTimestamp64Milli(ts) AS ts_ms,
       countIf(kernel_id != '' AND execution_state != 'idle') > 0 AS busy, toUnixTimestamp64Milli(max(last_activity_ts)) AS last_activity_ms
FROM notebook_activity
WHERE ts > fromUnixTimestamp64Milli({fromMs:Int64}) AND ts <= fromUnixTimestamp64Milli({toMs:Int64})
  AND (empty({clusters:Array(String)}) OR cluster IN {clusters:Array(String)})
GROUP BY cluster, namespace, notebook, ts`

/** What the real enforcer and burst controller recorded in the window, counted. */
const RECORDED_ACTIONS = `
SELECT action, acted, dry_run, count() AS n
FROM actions FINAL
WHERE ts >= fromUnixTimestamp64Milli({fromMs:Int64}) AND ts < fromUnixTimestamp64Milli({toMs:Int64})
  AND action IN {actions:Array(String)} AND (empty({clusters:Array(String)}) OR cluster IN {clusters:Array(String)})
GROUP BY action, acted, dry_run
ORDER BY action, acted, dry_run`

interface PodRow { cluster: string; namespace: string; pod: string; workload_kind: string; workload_name: string; team: string; project: string; user: string; node: string; pool: string | null; gpus: number; created_ms: number; start_ms: number | null; end_ms: number | null }
interface MinuteRow { cluster: string; namespace: string; pod: string; gpu_uuid: string; minute_ms: number; gr_sum: number; gr_n: number; gr_max: number | null; util_sum: number; util_n: number; util_max: number | null; fb_max: number | null }
interface PollRow { cluster: string; namespace: string; notebook: string; ts_ms: number; busy: boolean | number; last_activity_ms: number | null }

/** The span and clusters read (empty = every cluster). */
export interface WhatifSpan {
  fromMs: number
  toMs: number
  clusters: readonly string[]
}

const num = (v: unknown): number => Number(v)
const optNum = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v))
const optNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))

/** The GPU pods of the window grouped by cluster, namespace, kind and name. */
export async function loadWhatifWorkloads(query: QueryFn, span: WhatifSpan): Promise<WhatifWorkload[]> {
  const rows = await query<PodRow>(WINDOW_PODS, { fromMs: span.fromMs, toMs: span.toMs, clusters: [...span.clusters] })
  const byKey = new Map<string, WhatifWorkload>()
  for (const r of rows) {
    const w: WhatifWorkload = { cluster: r.cluster, namespace: r.namespace, kind: r.workload_kind, name: r.workload_name, team: r.team, project: r.project, user: r.user, pods: [] }
    const key = whatifKey(w)
    const into = byKey.get(key) ?? (byKey.set(key, w), w)
    into.pods.push({ pod: r.pod, node: r.node, pool: r.pool ?? '', gpus: num(r.gpus), createdMs: num(r.created_ms), startMs: optNum(r.start_ms), endMs: optNum(r.end_ms) })
  }
  return [...byKey.values()]
}

/** Node capacity rows: each node's state at fromMs, then its changes in the window. */
export async function loadWhatifNodes(query: QueryFn, span: WhatifSpan): Promise<NodeCapacityRow[]> {
  const rows = await query<{ cluster: string; node: string; pool: string; ts_ms: number; gpus: number }>(NODE_ROWS, { fromMs: span.fromMs, toMs: span.toMs, clusters: [...span.clusters] })
  return rows.map((r) => ({ tsMs: num(r.ts_ms), cluster: r.cluster, node: r.node, pool: r.pool, gpus: num(r.gpus) }))
}

/** Finds the workload of a pod at a time: pods are indexed by cluster, namespace and name, each with its span. */
export class PodIndex {
  private readonly byPod = new Map<string, Array<{ key: string; fromMs: number; endMs: number }>>()

  constructor(workloads: readonly WhatifWorkload[]) {
    for (const w of workloads) {
      const key = whatifKey(w)
      for (const p of w.pods) {
        if (p.startMs === undefined) continue
        const id = [w.cluster, w.namespace, p.pod].join('\u0000')
        const list = this.byPod.get(id) ?? []
        list.push({ key, fromMs: Math.floor(p.startMs / MINUTE_MS) * MINUTE_MS, endMs: p.endMs ?? Infinity })
        this.byPod.set(id, list)
      }
    }
  }

  /** The workload key of the pod running at tMs (from its start minute), or undefined. */
  keyAt(cluster: string, namespace: string, pod: string, tMs: number): string | undefined {
    return this.byPod.get([cluster, namespace, pod].join('\u0000'))?.find((s) => s.fromMs <= tMs && tMs < s.endMs)?.key
  }
}

/** GPU-minutes of [fromMs, toMs) of the indexed pods, keyed by workload; device = pod/GPU uuid as the live evidence names it. */
export async function loadWhatifMinutes(query: QueryFn, span: WhatifSpan, index: PodIndex): Promise<Array<{ key: string; minute: GpuMinute }>> {
  const rows = await query<MinuteRow>(CHUNK_MINUTES, { fromMs: span.fromMs, toMs: span.toMs, clusters: [...span.clusters] })
  const out: Array<{ key: string; minute: GpuMinute }> = []
  for (const m of rows) {
    const minuteMs = num(m.minute_ms)
    const key = index.keyAt(m.cluster, m.namespace, m.pod, minuteMs)
    if (key === undefined) continue
    out.push({
      key,
      minute: {
        device: `${m.pod}/${m.gpu_uuid}`, minuteMs, grN: num(m.gr_n), grSum: num(m.gr_sum), grMax: optNull(m.gr_max),
        utilN: num(m.util_n), utilSum: num(m.util_sum), utilMax: optNull(m.util_max), fbUsedMaxBytes: optNull(m.fb_max),
      },
    })
  }
  return out
}

/** Notebook kernel polls of (fromMs, toMs], keyed by workload (kind Notebook). */
export async function loadWhatifPolls(query: QueryFn, span: WhatifSpan): Promise<Array<{ key: string; poll: KernelPoll }>> {
  const rows = await query<PollRow>(CHUNK_POLLS, { fromMs: span.fromMs, toMs: span.toMs, clusters: [...span.clusters] })
  return rows.map((r) => ({
    key: whatifKey({ cluster: r.cluster, namespace: r.namespace, kind: 'Notebook', name: r.notebook }),
    poll: { tsMs: num(r.ts_ms), busy: Boolean(Number(r.busy)), lastActivityMs: r.last_activity_ms === null || num(r.last_activity_ms) <= 0 ? undefined : num(r.last_activity_ms) },
  }))
}

/** One count of recorded audit rows. */
export interface RecordedActionCount {
  action: string
  acted: boolean
  dryRun: boolean
  count: number
}

/** Counts of the warn / stop / burst rows the live enforcer and burst controller recorded in the window. */
export async function recordedActionCounts(query: QueryFn, span: WhatifSpan, actions: readonly string[]): Promise<RecordedActionCount[]> {
  const rows = await query<{ action: string; acted: boolean | number; dry_run: boolean | number; n: number }>(RECORDED_ACTIONS, { fromMs: span.fromMs, toMs: span.toMs, clusters: [...span.clusters], actions: [...actions] })
  return rows.map((r) => ({ action: r.action, acted: Boolean(Number(r.acted)), dryRun: Boolean(Number(r.dry_run)), count: num(r.n) }))
}
