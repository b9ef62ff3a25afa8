/**
 * /api/v1/workloads: the workload list, the 360 view of one workload, and its
 * pod logs. A workload is the pods that share cluster, namespace and top owner
 * (kind + name); its id is `base64url(UTF-8 "cluster/namespace/kind/name")`
 * without padding, so it is URL-safe, stable and decodable (Kubernetes names
 * hold no `/`; a name that did would still round-trip, as the name is last).
 */
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import type { Router } from 'express'
import { z } from 'zod'
import { createLogReader, type LogReader } from '../../collector/logs/index'
import { InputError, NotFoundError } from '../../core/errors'
import { allocationSeries, gpuHours, peakConcurrent, type AllocationPoint, type GpuInterval } from '../../core/intervals'
import { parseDuration, parseWindow, type TimeWindow } from '../../core/windows'
import * as store from '../../store/queries/workloads'
import { teamScope, type Principal } from '../auth'
import { ForbiddenError } from '../authErrors'
import { otherTeam } from '../authMiddleware'
import { assessRunning, withDcgmMetric } from './idle'
import { workloadDetailData, workloadListData, workloadLogsData } from '../schemas/workloads'
import { defineRoute, type RouteDeps, type RouteResult } from '../route'

const TAG = 'workloads'
/** Pods read for one workload's 360 view; more are reported as a warning. */
const MAX_PODS = 1_000
const MAX_ACTIONS = 200
/** Points of an automatic series step. */
const TARGET_POINTS = 500
const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS
const DAY_MS = 24 * HOUR_MS
const NICE_STEPS_MS = [1, 2, 5, 10, 15, 30].map((m) => m * MINUTE_MS).concat([1, 2, 3, 6, 12, 24].map((h) => h * HOUR_MS))
const MAX_ID_CHARS = 1_024
const KIND = /^[A-Za-z][A-Za-z0-9]*$/

/** Pods named in the unknown-images warning; more are counted. */
const MAX_NAMED_PODS = 5

/** Warning: these pods' rows were stored before gpuscope collected images (migration 0005), so their images are unknown. */
export function unknownImages(pods: readonly string[], total: number): string {
  const named = pods.slice(0, MAX_NAMED_PODS).join(', ') + (pods.length > MAX_NAMED_PODS ? `, and ${pods.length - MAX_NAMED_PODS} more` : '')
  return `container images are unknown for ${pods.length} of ${total} pod${total === 1 ? '' : 's'} (${named}): recorded before gpuscope collected images (store migration 0005)`
}
/** Warning: no DCGM sample joined the workload's pods, so utilization is unknown (never 0). */
export const NO_SAMPLES = "no GPU samples are mapped to this workload's pods (dcgm-exporter maps GPUs to pods only with its Kubernetes mapping enabled): utilization is unknown"

const text = z.string().max(256)
const listQuery = z.strictObject({
  window: z.string().default('7d'),
  team: text.optional(),
  kind: text.optional(),
  cluster: text.optional(),
  namespace: text.optional(),
  q: text.optional(),
  state: z.enum(['running', 'pending', 'finished']).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
})
const detailQuery = z.strictObject({ window: z.string().optional(), step: z.string().optional() })
const logsQuery = z.strictObject({
  from: z.string().optional(),
  to: z.string().optional(),
  q: z.string().max(1_000).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  cursor: z.string().optional(),
  order: z.enum(['asc', 'desc']).default('desc'),
})
const idParams = z.object({ id: z.string().describe('workload id from GET /api/v1/workloads: base64url (no padding) of UTF-8 cluster/namespace/kind/name') })

/** The URL-safe id of a workload: base64url of `cluster/namespace/kind/name`. */
export function workloadId(key: store.WorkloadKey): string {
  return Buffer.from(`${key.cluster}/${key.namespace}/${key.kind}/${key.name}`, 'utf8').toString('base64url')
}

/** Decodes a workload id; anything that is not an id this API issued is a 404 naming the expected form. */
export function parseWorkloadId(id: string): store.WorkloadKey {
  const shown = id.length > 64 ? `${id.slice(0, 64)}...` : id
  const malformed = new NotFoundError(`malformed workload id '${shown}': use an id from GET /api/v1/workloads (base64url of cluster/namespace/kind/name)`)
  if (id.length > MAX_ID_CHARS || !/^[A-Za-z0-9_-]+$/.test(id)) throw malformed
  const decoded = Buffer.from(id, 'base64url').toString('utf8')
  // Only the canonical encoding is accepted, so one workload has exactly one id.
  if (Buffer.from(decoded, 'utf8').toString('base64url') !== id || /[\u0000-\u001f]/.test(decoded)) throw malformed
  const [cluster = '', namespace = '', kind = '', ...rest] = decoded.split('/')
  const name = rest.join('/')
  if (!cluster || !namespace || !KIND.test(kind) || !name) throw malformed
  return { cluster, namespace, kind, name }
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())
const describeKey = (k: store.WorkloadKey) => `${k.kind} '${k.name}' in namespace '${k.namespace}' of cluster '${k.cluster}'`

/** The team filter a request may use: its own team for a team token (403 for another), else what it asked for. */
function scopedTeam(principal: Principal, asked: string | undefined): string {
  const own = teamScope(principal)
  if (own === undefined) return asked ?? ''
  if (asked !== undefined && asked !== '' && asked !== own) throw new ForbiddenError(otherTeam(own, asked))
  return own
}

const LIST_COLUMNS = ['id', 'cluster', 'namespace', 'kind', 'name', 'team', 'project', 'user', 'state', 'pods', 'podsRunning', 'podsPending', 'gpusAllocated', 'gpusPending', 'gpuResources', 'firstCreated', 'firstStart', 'lastEnd', 'gpuHours']

async function listHandler(deps: RouteDeps, query: z.infer<typeof listQuery>, principal: Principal, nowMs: number): Promise<RouteResult> {
  const window = parseWindow(query.window, nowMs)
  const filter: store.WorkloadFilter = {
    ...window,
    nowMs,
    cluster: query.cluster ?? '',
    namespace: query.namespace ?? '',
    kind: query.kind ?? '',
    team: scopedTeam(principal, query.team),
    state: query.state ?? '',
    q: query.q ?? '',
  }
  const { rows, total } = await store.listWorkloads(deps.query, filter, query.limit, query.offset)
  const workloads = rows.map((r) => ({
    id: workloadId(r),
    cluster: r.cluster,
    namespace: r.namespace,
    kind: r.kind,
    name: r.name,
    team: r.team,
    project: r.project,
    user: r.user,
    state: r.state,
    pods: r.pods,
    podsRunning: r.podsRunning,
    podsPending: r.podsPending,
    gpusAllocated: r.gpusAllocated,
    gpusPending: r.gpusPending,
    gpuResources: r.gpuResources,
    firstCreated: iso(r.firstCreatedMs),
    firstStart: iso(r.firstStartMs),
    lastEnd: iso(r.lastEndMs),
    gpuHours: r.gpuHours,
  }))
  const page = { total, limit: query.limit, offset: query.offset, next: query.offset + rows.length < total ? query.offset + rows.length : null }
  const data = { window: { from: iso(window.fromMs), to: iso(window.toMs) }, ...page, workloads }
  const table = { columns: LIST_COLUMNS, rows: workloads.map((w) => ({ ...w, gpuResources: w.gpuResources.join(' ') })) }
  return { data, table }
}

interface Loaded {
  key: store.WorkloadKey
  pods: store.PodRow[]
  team: string
  warnings: string[]
}

/** Reads a workload's pods by id: 404 when malformed or unknown, 403 when a team token asks for another team's. */
async function loadWorkload(deps: RouteDeps, id: string, principal: Principal): Promise<Loaded> {
  const key = parseWorkloadId(id)
  const pods = await store.workloadPods(deps.query, key, MAX_PODS + 1)
  if (pods.length === 0) throw new NotFoundError(`no workload ${describeKey(key)}`)
  const warnings: string[] = []
  if (pods.length > MAX_PODS) {
    pods.length = MAX_PODS
    warnings.push(`only the first ${MAX_PODS} pods are shown`)
  }
  const newest = pods.reduce((a, b) => (b.lastSeenMs > a.lastSeenMs ? b : a))
  const own = teamScope(principal)
  // Another team's workload answers as a missing one does, so a team token cannot probe which names exist.
  if (own !== undefined && newest.team !== own) throw new NotFoundError(`no workload ${describeKey(key)}`)
  return { key, pods, team: newest.team, warnings }
}

/** The series step: the one asked for (whole minutes), else the smallest nice step giving at most TARGET_POINTS points. */
function seriesSpec(window: TimeWindow, step: string | undefined): store.SeriesSpec {
  const spanMs = window.toMs - window.fromMs
  let stepMs: number
  if (step !== undefined) {
    stepMs = parseDuration(step)
    if (stepMs % MINUTE_MS !== 0) throw new InputError(`bad step '${step}': the series is read from 1-minute rollups, so the step must be whole minutes`)
  } else {
    const want = spanMs / TARGET_POINTS
    stepMs = NICE_STEPS_MS.find((s) => s >= want) ?? Math.ceil(want / DAY_MS) * DAY_MS
  }
  // Hourly rollups once a step spans whole hours and the window is long: far fewer rows, same sums.
  const rollup = stepMs % HOUR_MS === 0 && spanMs > 2 * DAY_MS ? '1h' : '1m'
  return { rollup, stepMs, ...window }
}

const toInterval = (p: store.PodRow): GpuInterval => ({ startMs: p.startMs ?? undefined, endMs: p.endMs ?? undefined, gpus: p.gpus })

/** The window the 360 view covers: the one asked for, else the workload's life from its first pod's creation to its end (or now). */
function lifeWindow(pods: readonly store.PodRow[], asked: string | undefined, nowMs: number): TimeWindow {
  if (asked !== undefined) return parseWindow(asked, nowMs)
  const fromMs = Math.min(...pods.map((p) => p.createdMs))
  const open = pods.some((p) => p.endMs === null)
  const toMs = open ? nowMs : Math.max(...pods.map((p) => p.endMs ?? 0))
  return { fromMs: Math.floor(fromMs / MINUTE_MS) * MINUTE_MS, toMs: Math.max(toMs, fromMs + MINUTE_MS) }
}

function stateOf(pods: readonly store.PodRow[]): 'running' | 'pending' | 'finished' {
  if (pods.some((p) => p.endMs === null && p.startMs !== null)) return 'running'
  return pods.some((p) => p.endMs === null) ? 'pending' : 'finished'
}

/** The series points: allocation from exact intervals, utilization / memory / power from the rollup bucket of the same start (null when unsampled). */
function seriesPoints(allocation: readonly AllocationPoint[], buckets: readonly store.SampleBucket[]) {
  const byTs = new Map(buckets.map((b) => [b.tsMs, b]))
  return allocation.map((a) => {
    const one = byTs.has(a.tsMs) ? [byTs.get(a.tsMs) as store.SampleBucket] : []
    const u = store.utilizationOf(one)
    return { time: iso(a.tsMs), allocatedGpus: a.gpus, utilRatio: u.utilRatio, utilMetric: u.metric, fbUsedBytesMax: store.fbUsedBytesMax(one), powerWattsPerGpu: store.powerWattsPerGpu(one) }
  })
}

/** The idle core's verdict on a running workload (as /api/v1/idle gives it); null when it holds no GPUs now or the evidence cannot be read. */
async function idleVerdict(deps: RouteDeps, key: store.WorkloadKey, team: string, nowMs: number, warnings: string[]) {
  try {
    const { assessed, warnings: partial } = await assessRunning(deps.query, deps.config.idle, nowMs, { kind: key.kind, ...(team ? { team } : {}) })
    warnings.push(...partial)
    const mine = assessed.find(({ workload: w }) => w.cluster === key.cluster && w.namespace === key.namespace && w.kind === key.kind && w.name === key.name)
    if (!mine) return null
    const { kernel, nextAction, ...a } = mine.assessment
    return { ...withDcgmMetric(a), idleSinceMs: a.idleSinceMs ?? null, lastGpuActivityMs: a.lastGpuActivityMs ?? null, warnedAtMs: a.warnedAtMs ?? null, stoppedAtMs: a.stoppedAtMs ?? null, kernel: kernel ?? null, nextAction: nextAction ?? null }
  } catch (err) {
    warnings.push(`idle verdict unavailable: ${(err as Error).message}`)
    return null
  }
}

function podsOf(pods: readonly store.PodRow[]) {
  return pods.map((p) => ({
    uid: p.podUid, name: p.pod, node: p.node || null, phase: p.phase, gpus: p.gpus, gpuResource: p.gpuResource, images: p.images.length > 0 ? p.images : null,
    created: iso(p.createdMs), start: iso(p.startMs), end: iso(p.endMs), lastSeen: iso(p.lastSeenMs),
  }))
}

/**
 * The workload's container images: distinct, oldest pod first and each pod's in
 * spec order; null when no pod's images are known. Pods stored without images
 * (before migration 0005) are named in a warning.
 */
function imagesOf(pods: readonly store.PodRow[], warnings: string[]): string[] | null {
  const unknown = pods.filter((p) => p.images.length === 0).map((p) => p.pod)
  if (unknown.length > 0) warnings.push(unknownImages(unknown, pods.length))
  const images = [...new Set(pods.flatMap((p) => p.images))]
  return images.length > 0 ? images : null
}

function resourcesOf(pods: readonly store.PodRow[], intervals: readonly GpuInterval[], window: TimeWindow, nowMs: number) {
  const open = (started: boolean) => pods.filter((p) => p.endMs === null && (p.startMs !== null) === started).reduce((s, p) => s + p.gpus, 0)
  return {
    gpuResources: [...new Set(pods.map((p) => p.gpuResource).filter((r) => r !== ''))].sort(),
    gpusAllocated: open(true),
    gpusPending: open(false),
    peakGpus: peakConcurrent(intervals, window, nowMs),
  }
}

/** Start, end and state of the workload from its pods (end null while any pod is open). */
function lifeOf(pods: readonly store.PodRow[]) {
  const starts = pods.flatMap((p) => (p.startMs === null ? [] : [p.startMs]))
  const open = pods.some((p) => p.endMs === null)
  return {
    state: stateOf(pods),
    created: iso(Math.min(...pods.map((p) => p.createdMs))),
    start: starts.length ? iso(Math.min(...starts)) : null,
    end: open ? null : iso(Math.max(...pods.map((p) => p.endMs ?? 0))),
  }
}

const POD_COLUMNS = ['uid', 'name', 'node', 'phase', 'gpus', 'gpuResource', 'created', 'start', 'end', 'lastSeen']

async function detailHandler(deps: RouteDeps, id: string, query: z.infer<typeof detailQuery>, principal: Principal, nowMs: number): Promise<RouteResult> {
  const { key, pods, team, warnings } = await loadWorkload(deps, id, principal)
  const window = lifeWindow(pods, query.window, nowMs)
  const spec = seriesSpec(window, query.step)
  const intervals = pods.map(toInterval)
  const nodes = [...new Set(pods.map((p) => p.node).filter((n) => n !== ''))]
  const life = lifeOf(pods)
  const [buckets, nodeInfo, actions, idle] = await Promise.all([
    store.sampleBuckets(deps.query, key, [...new Set(pods.map((p) => p.pod))], spec),
    store.nodeInfo(deps.query, key.cluster, nodes),
    store.workloadActions(deps.query, key, MAX_ACTIONS),
    life.state === 'running' ? idleVerdict(deps, key, team, nowMs, warnings) : Promise.resolve(null),
  ])
  const util = store.utilizationOf(buckets)
  if (util.metric === null) warnings.push(NO_SAMPLES)
  const images = imagesOf(pods, warnings)
  const newest = pods.reduce((a, b) => (b.lastSeenMs > a.lastSeenMs ? b : a))
  const podsOut = podsOf(pods)
  const data = {
    id,
    ...key,
    owner: { team: newest.team, project: newest.project, user: newest.user },
    ...life,
    images,
    resources: resourcesOf(pods, intervals, window, nowMs),
    nodes: nodes.map((n) => ({ node: n, ...omitNode(nodeInfo.find((i) => i.node === n)) })),
    pods: podsOut,
    window: { from: iso(window.fromMs), to: iso(window.toMs) },
    gpuHours: gpuHours(intervals, window, nowMs),
    utilization: { ...util, fbUsedBytesMax: store.fbUsedBytesMax(buckets), powerWattsPerGpu: store.powerWattsPerGpu(buckets) },
    series: { stepMs: spec.stepMs, rollup: spec.rollup, points: seriesPoints(allocationSeries(intervals, window, spec.stepMs, nowMs), buckets) },
    idle,
    actions: actions.map(({ tsMs, ...a }) => ({ time: iso(tsMs), ...a })),
  }
  return { data, warnings, table: { columns: POD_COLUMNS, rows: podsOut } }
}

function omitNode(info: store.NodeInfo | undefined): { gpuModel: string | null; pool: string | null; provider: string | null } {
  return { gpuModel: info?.gpuModel || null, pool: info?.pool || null, provider: info?.provider || null }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** A log range bound: an RFC 3339 time, or a duration meaning that long before now. */
export function parseInstant(name: string, value: string, nowMs: number): number {
  if (/^\d+(ms|[smhdw])/.test(value)) return nowMs - parseDuration(value)
  const ms = RFC3339.test(value) ? Date.parse(value.replace(/(\.\d{3})\d+/, '$1')) : Number.NaN
  if (Number.isNaN(ms)) throw new InputError(`bad ${name} '${value}': expected an RFC 3339 time like 2026-07-01T00:00:00Z or a duration before now like 1h`)
  return ms
}

async function logsHandler(deps: RouteDeps, reader: LogReader, id: string, query: z.infer<typeof logsQuery>, principal: Principal, nowMs: number): Promise<RouteResult> {
  const { key, pods, warnings } = await loadWorkload(deps, id, principal)
  const fromMs = query.from !== undefined ? parseInstant('from', query.from, nowMs) : Math.min(...pods.map((p) => p.createdMs))
  const toMs = query.to !== undefined ? parseInstant('to', query.to, nowMs) : nowMs
  if (fromMs >= toMs) throw new InputError(`bad range: from (${iso(fromMs)}) must be before to (${iso(toMs)})`)
  const page = await reader({ cluster: key.cluster, namespace: key.namespace, pods: [...new Set(pods.map((p) => p.pod))], fromMs, toMs, q: query.q ?? '', limit: query.limit, order: query.order, cursor: query.cursor })
  const lines = page.lines.map((l) => ({ time: iso(l.tsMs), pod: l.pod, container: l.container, message: l.message }))
  const data = { source: page.source, from: iso(fromMs), to: iso(toMs), lines, nextCursor: page.nextCursor }
  return { data, warnings: [...warnings, ...page.warnings], table: { columns: ['time', 'pod', 'container', 'message'], rows: lines } }
}

/** Registers /workloads, /workloads/:id, /workloads/:id/logs. */
export function registerWorkloadRoutes(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  const reader = createLogReader(deps.config.elasticsearch, deps.config.collector.kubernetes.clusters)
  defineRoute(router, registry, {
    path: '/api/v1/workloads',
    summary: 'Workloads (pods grouped by cluster, namespace and top owner) active in a window: owner, state, pods, GPUs, GPU-hours in the window; paged, most GPU-hours first.',
    tag: TAG,
    query: listQuery,
    response: workloadListData,
    csv: true,
    handler: ({ query, principal, nowMs }) => listHandler(deps, query, principal, nowMs),
  }, deps.now)
  defineRoute(router, registry, {
    path: '/api/v1/workloads/:id',
    summary: '360 view of one workload: owner, container images, pods and nodes, GPUs, allocation and utilization series, GPU memory, power, idle verdict, actions. The id is base64url of cluster/namespace/kind/name.',
    tag: TAG,
    query: detailQuery,
    response: workloadDetailData,
    csv: true,
    params: idParams,
    handler: ({ query, params, principal, nowMs }) => detailHandler(deps, params.id ?? '', query, principal, nowMs),
  }, deps.now)
  defineRoute(router, registry, {
    path: '/api/v1/workloads/:id/logs',
    summary: "Searches the workload's pod logs (Elasticsearch when configured, else the Kubernetes pod log API) in a time range; paged with an opaque cursor.",
    tag: TAG,
    query: logsQuery,
    response: workloadLogsData,
    csv: true,
    params: idParams,
    handler: ({ query, params, principal, nowMs }) => logsHandler(deps, reader, params.id ?? '', query, principal, nowMs),
  }, deps.now)
}
