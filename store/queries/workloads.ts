/**
 * Reads behind /api/v1/workloads: workloads grouped from exact pod intervals
 * (cluster + namespace + top owner kind + name), one workload's pods, its
 * utilization from the 1 m / 1 h rollups joined on cluster + namespace + pod,
 * the nodes it ran on, and the actions taken on it. Times are epoch ms
 * parameters (`Int64`); every filter is a bound parameter, '' meaning "any".
 */
import type { QueryFn } from '../../core/ports'

/** Filters and paging of the workload list; empty strings match everything. */
export interface WorkloadFilter {
  fromMs: number
  toMs: number
  nowMs: number
  cluster: string
  namespace: string
  kind: string
  team: string
  state: string
  q: string
}

// Pod-level filters shared by the list and its count. A pod counts when its
// life [start (or creation while pending), end or now) overlaps the window.
const LIST_WHERE = `
WHERE toUnixTimestamp64Milli(coalesce(start_ts, created_ts)) < {toMs:Int64}
  AND (end_ts IS NULL OR toUnixTimestamp64Milli(end_ts) > {fromMs:Int64})
  AND ({cluster:String} = '' OR cluster = {cluster:String})
  AND ({namespace:String} = '' OR namespace = {namespace:String})
  AND ({kind:String} = '' OR workload_kind = {kind:String})
  AND ({team:String} = '' OR team = {team:String})
  AND ({q:String} = '' OR positionCaseInsensitiveUTF8(workload_name, {q:String}) > 0
       OR positionCaseInsensitiveUTF8(namespace, {q:String}) > 0 OR positionCaseInsensitiveUTF8(user, {q:String}) > 0)`

// Aliases differ from column names: ClickHouse substitutes aliases everywhere, so `argMax(team, ..) AS team` would recurse.
const LIST_GROUPS = `
SELECT cluster, namespace, workload_kind AS kind, workload_name AS name,
       argMax(team, last_seen_ts) AS owner_team, argMax(project, last_seen_ts) AS owner_project, argMax(user, last_seen_ts) AS owner_user,
       count() AS pods,
       countIf(start_ts IS NOT NULL AND end_ts IS NULL) AS pods_running,
       countIf(start_ts IS NULL AND end_ts IS NULL) AS pods_pending,
       sumIf(gpus, start_ts IS NOT NULL AND end_ts IS NULL) AS gpus_allocated,
       sumIf(gpus, start_ts IS NULL AND end_ts IS NULL) AS gpus_pending,
       arrayStringConcat(arraySort(groupUniqArray(gpu_resource)), ' ') AS gpu_resources,
       min(toUnixTimestamp64Milli(created_ts)) AS first_created_ms,
       min(toUnixTimestamp64Milli(start_ts)) AS first_start_ms,
       if(countIf(end_ts IS NULL) > 0, NULL, max(toUnixTimestamp64Milli(end_ts))) AS last_end_ms,
       multiIf(pods_running > 0, 'running', pods_pending > 0, 'pending', 'finished') AS state,
       sum(if(start_ts IS NULL, 0, gpus * greatest(0,
           least(ifNull(toUnixTimestamp64Milli(end_ts), {nowMs:Int64}), {toMs:Int64}, {nowMs:Int64})
           - greatest(toUnixTimestamp64Milli(assumeNotNull(start_ts)), {fromMs:Int64})))) / 3600000 AS gpu_hours
FROM workload_intervals FINAL
${LIST_WHERE}
GROUP BY cluster, namespace, workload_kind, workload_name
HAVING {state:String} = '' OR state = {state:String}`

/** One page of workloads, most GPU-hours in the window first. */
const WORKLOAD_LIST = `${LIST_GROUPS}
ORDER BY gpu_hours DESC, cluster, namespace, kind, name
LIMIT {limit:UInt32} OFFSET {offset:UInt32}`

/** How many workloads match the filters (for paging). */
const WORKLOAD_COUNT = `SELECT count() AS n FROM (${LIST_GROUPS})`

/** Every pod interval of one workload, newest row per pod, oldest pod first; one more than the cap to detect truncation. */
const WORKLOAD_PODS = `
SELECT pod_uid, pod, node, gpus, gpu_resource, team, project, user, phase, images,
       toUnixTimestamp64Milli(created_ts) AS created_ms, toUnixTimestamp64Milli(start_ts) AS start_ms,
       toUnixTimestamp64Milli(end_ts) AS end_ms, toUnixTimestamp64Milli(last_seen_ts) AS last_seen_ms
FROM workload_intervals FINAL
WHERE cluster = {cluster:String} AND namespace = {namespace:String} AND workload_kind = {kind:String} AND workload_name = {name:String}
ORDER BY created_ts, pod_uid
LIMIT {limit:UInt32}`

/** Per step bucket: utilization sums and counts, max GPU memory and power, over the workload's pods' GPUs. */
const seriesSql = (table: 'gpu_samples_1m' | 'gpu_samples_1h') => `
SELECT intDiv(toUnixTimestamp(ts), {stepS:UInt32}) * {stepS:UInt32} * 1000 AS bucket_ms,
       sum(gr_engine_active_sum) AS gr_sum, sum(gr_engine_active_n) AS gr_n,
       sum(gpu_util_sum) AS gu_sum, sum(gpu_util_n) AS gu_n,
       max(fb_used_bytes_max) AS fb_max, sum(power_watts_sum) AS pw_sum, sum(power_watts_n) AS pw_n
FROM ${table}
WHERE cluster = {cluster:String} AND namespace = {namespace:String} AND pod IN {pods:Array(String)}
  AND ts >= toDateTime(intDiv({fromMs:Int64}, 1000), 'UTC') AND ts < toDateTime(intDiv({toMs:Int64}, 1000), 'UTC')
GROUP BY bucket_ms
ORDER BY bucket_ms`
const SERIES_1M = seriesSql('gpu_samples_1m')
const SERIES_1H = seriesSql('gpu_samples_1h')

/** The latest state of the given nodes (GPU model, pool, provider). */
const NODES = `
SELECT node, argMax(gpu_model, ts) AS gpu_model, argMax(pool, ts) AS node_pool, argMax(provider, ts) AS node_provider
FROM node_state
WHERE cluster = {cluster:String} AND node IN {nodes:Array(String)}
GROUP BY node
ORDER BY node`

/** The audit rows about one workload, newest first. */
const ACTIONS = `
SELECT toUnixTimestamp64Milli(ts) AS ts_ms, id, action, decision, dry_run, acted, reason, evidence, actor
FROM actions FINAL
WHERE cluster = {cluster:String} AND namespace = {namespace:String} AND workload_kind = {kind:String} AND workload_name = {name:String}
ORDER BY ts DESC, id
LIMIT {limit:UInt32}`

/** A workload's key: where it runs and its top owner. */
export interface WorkloadKey {
  cluster: string
  namespace: string
  kind: string
  name: string
}

/** One row of the workload list (GPU-hours within the window; times epoch ms, null when unknown or still open). */
export interface WorkloadRow extends WorkloadKey {
  team: string
  project: string
  user: string
  pods: number
  podsRunning: number
  podsPending: number
  gpusAllocated: number
  gpusPending: number
  gpuResources: string[]
  firstCreatedMs: number
  firstStartMs: number | null
  lastEndMs: number | null
  state: 'running' | 'pending' | 'finished'
  gpuHours: number
}

interface ListRow {
  cluster: string
  namespace: string
  kind: string
  name: string
  owner_team: string
  owner_project: string
  owner_user: string
  pods: number
  pods_running: number
  pods_pending: number
  gpus_allocated: number
  gpus_pending: number
  gpu_resources: string
  first_created_ms: number
  first_start_ms: number | null
  last_end_ms: number | null
  state: WorkloadRow['state']
  gpu_hours: number
}

const listParams = (f: WorkloadFilter) => ({ ...f })

/** One page of the workload list and the total number of matching workloads. */
export async function listWorkloads(query: QueryFn, filter: WorkloadFilter, limit: number, offset: number): Promise<{ rows: WorkloadRow[]; total: number }> {
  const params = listParams(filter)
  const [rows, count] = await Promise.all([query<ListRow>(WORKLOAD_LIST, { ...params, limit, offset }), query<{ n: number }>(WORKLOAD_COUNT, params)])
  return { rows: rows.map(toWorkloadRow), total: count[0]?.n ?? 0 }
}

function toWorkloadRow(r: ListRow): WorkloadRow {
  return {
    cluster: r.cluster,
    namespace: r.namespace,
    kind: r.kind,
    name: r.name,
    team: r.owner_team,
    project: r.owner_project,
    user: r.owner_user,
    pods: Number(r.pods),
    podsRunning: Number(r.pods_running),
    podsPending: Number(r.pods_pending),
    gpusAllocated: r.gpus_allocated,
    gpusPending: r.gpus_pending,
    gpuResources: r.gpu_resources === '' ? [] : r.gpu_resources.split(' '),
    firstCreatedMs: Number(r.first_created_ms),
    firstStartMs: r.first_start_ms === null ? null : Number(r.first_start_ms),
    lastEndMs: r.last_end_ms === null ? null : Number(r.last_end_ms),
    state: r.state,
    gpuHours: r.gpu_hours,
  }
}

/** One pod of a workload: its node, GPUs and life (epoch ms; null while pending or still running). */
export interface PodRow {
  podUid: string
  pod: string
  node: string
  gpus: number
  gpuResource: string
  team: string
  project: string
  user: string
  phase: string
  /** Container images in spec order; [] when unknown (a row stored before migration 0005 collected them). */
  images: string[]
  createdMs: number
  startMs: number | null
  endMs: number | null
  lastSeenMs: number
}

interface RawPod {
  pod_uid: string
  pod: string
  node: string
  gpus: number
  gpu_resource: string
  team: string
  project: string
  user: string
  phase: string
  images: string[]
  created_ms: number
  start_ms: number | null
  end_ms: number | null
  last_seen_ms: number
}

/** Up to `limit` pods of the workload, oldest first; an empty answer means the workload is unknown. */
export async function workloadPods(query: QueryFn, key: WorkloadKey, limit: number): Promise<PodRow[]> {
  const rows = await query<RawPod>(WORKLOAD_PODS, { ...key, limit })
  return rows.map((r) => ({
    podUid: r.pod_uid,
    pod: r.pod,
    node: r.node,
    gpus: r.gpus,
    gpuResource: r.gpu_resource,
    team: r.team,
    project: r.project,
    user: r.user,
    phase: r.phase,
    images: r.images,
    createdMs: Number(r.created_ms),
    startMs: r.start_ms === null ? null : Number(r.start_ms),
    endMs: r.end_ms === null ? null : Number(r.end_ms),
    lastSeenMs: Number(r.last_seen_ms),
  }))
}

/** Rollup sums of one step bucket; a metric whose count is 0 is unknown in that bucket, never 0. */
export interface SampleBucket {
  tsMs: number
  grEngineActiveSum: number
  grEngineActiveN: number
  gpuUtilSum: number
  gpuUtilN: number
  fbUsedBytesMax: number | null
  powerWattsSum: number
  powerWattsN: number
}

interface RawBucket {
  bucket_ms: number
  gr_sum: number
  gr_n: number
  gu_sum: number
  gu_n: number
  fb_max: number | null
  pw_sum: number
  pw_n: number
}

/** Which rollup a series reads and its bucket width. */
export interface SeriesSpec {
  rollup: '1m' | '1h'
  stepMs: number
  fromMs: number
  toMs: number
}

/** Rollup buckets of the pods' GPUs within the window, at the spec's step (a multiple of the rollup's resolution). */
export async function sampleBuckets(query: QueryFn, key: WorkloadKey, pods: readonly string[], spec: SeriesSpec): Promise<SampleBucket[]> {
  if (pods.length === 0) return []
  const sql = spec.rollup === '1m' ? SERIES_1M : SERIES_1H
  const rows = await query<RawBucket>(sql, { cluster: key.cluster, namespace: key.namespace, pods, stepS: spec.stepMs / 1000, fromMs: spec.fromMs, toMs: spec.toMs })
  return rows.map((r) => ({
    tsMs: Number(r.bucket_ms),
    grEngineActiveSum: r.gr_sum,
    grEngineActiveN: Number(r.gr_n),
    gpuUtilSum: r.gu_sum,
    gpuUtilN: Number(r.gu_n),
    fbUsedBytesMax: r.fb_max === null ? null : Number(r.fb_max),
    powerWattsSum: r.pw_sum,
    powerWattsN: Number(r.pw_n),
  }))
}

/** A node a workload ran on, as last recorded. */
export interface NodeInfo {
  node: string
  gpuModel: string
  pool: string
  provider: string
}

/** The latest recorded GPU model, pool and provider of the nodes (nodes never recorded are left out). */
export async function nodeInfo(query: QueryFn, cluster: string, nodes: readonly string[]): Promise<NodeInfo[]> {
  if (nodes.length === 0) return []
  const rows = await query<{ node: string; gpu_model: string; node_pool: string; node_provider: string }>(NODES, { cluster, nodes })
  return rows.map((r) => ({ node: r.node, gpuModel: r.gpu_model, pool: r.node_pool, provider: r.node_provider }))
}

/** One audit row about a workload; evidence is parsed JSON (the raw text when it is not JSON). */
export interface ActionRow {
  tsMs: number
  id: string
  action: string
  decision: string
  dryRun: boolean
  acted: boolean
  reason: string
  evidence: unknown
  actor: string
}

/** The newest `limit` actions taken on (or decided about) the workload. */
export async function workloadActions(query: QueryFn, key: WorkloadKey, limit: number): Promise<ActionRow[]> {
  const rows = await query<{ ts_ms: number; id: string; action: string; decision: string; dry_run: boolean; acted: boolean; reason: string; evidence: string; actor: string }>(
    ACTIONS,
    { ...key, limit },
  )
  return rows.map((r) => ({
    tsMs: Number(r.ts_ms),
    id: r.id,
    action: r.action,
    decision: r.decision,
    dryRun: Boolean(r.dry_run),
    acted: Boolean(r.acted),
    reason: r.reason,
    evidence: parseJson(r.evidence),
    actor: r.actor,
  }))
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** DCGM field names reported as the metric behind a utilization number. */
export const GR_ENGINE_ACTIVE = 'DCGM_FI_PROF_GR_ENGINE_ACTIVE'
/** Fallback when profiling metrics are not scraped; stored as a 0..1 ratio (the exporter's percent / 100). */
export const GPU_UTIL = 'DCGM_FI_DEV_GPU_UTIL'

/** A utilization ratio and the DCGM metric it came from; both null when no sample had either metric (unknown, not 0). */
export interface Utilization {
  utilRatio: number | null
  metric: typeof GR_ENGINE_ACTIVE | typeof GPU_UTIL | null
}

/** Mean utilization of the summed buckets: GR_ENGINE_ACTIVE where profiling samples exist, else GPU_UTIL (DESIGN.md, Definitions). */
export function utilizationOf(buckets: readonly SampleBucket[]): Utilization {
  let grSum = 0
  let grN = 0
  let guSum = 0
  let guN = 0
  for (const b of buckets) {
    grSum += b.grEngineActiveSum
    grN += b.grEngineActiveN
    guSum += b.gpuUtilSum
    guN += b.gpuUtilN
  }
  if (grN > 0) return { utilRatio: grSum / grN, metric: GR_ENGINE_ACTIVE }
  if (guN > 0) return { utilRatio: guSum / guN, metric: GPU_UTIL }
  return { utilRatio: null, metric: null }
}

/** Mean power per GPU over the buckets, null when no sample reported power. */
export function powerWattsPerGpu(buckets: readonly SampleBucket[]): number | null {
  let sum = 0
  let n = 0
  for (const b of buckets) {
    sum += b.powerWattsSum
    n += b.powerWattsN
  }
  return n > 0 ? sum / n : null
}

/** Largest GPU memory used in any bucket, null when no sample reported it. */
export function fbUsedBytesMax(buckets: readonly SampleBucket[]): number | null {
  let max: number | null = null
  for (const b of buckets) if (b.fbUsedBytesMax !== null && (max === null || b.fbUsedBytesMax > max)) max = b.fbUsedBytesMax
  return max
}
