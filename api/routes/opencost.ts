/**
 * OpenCost-compatible allocation API: GET /allocation/compute and
 * /allocation/compute/summary answer OpenCost's query parameters in OpenCost's
 * response shape (`{code, status, data}`), so tools built for OpenCost can read
 * gpuscope's GPU costs. Only GPU fields carry values; see docs/opencost.md.
 */
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import type { Request, Response, Router } from 'express'
import { z } from 'zod'
import { GpuscopeError, InputError } from '../../core/errors'
import { columnsOf, parseAggregate, parseBool } from '../../core/opencost'
import { parseAccumulate, parseOpenCostWindow, parseStep, planSets, type SetPlan } from '../../core/opencostPlan'
import { allocationSets, type IdleOptions, type OcRow, type OcSet } from '../../core/opencostSets'
import { ocAllocation, ocCapacity, ocUtil, type OcSpec } from '../../store/queries/opencost'
import { principalOf, teamScope } from '../auth'
import { statusOf } from '../errorHandler'
import { errorResponses, toCsv, type RouteDeps, type Table } from '../route'
import { ocAllocationAnswer, ocError, ocSummaryAnswer, SUMMARY_ZEROS, ZERO_FIELDS } from '../schemas/opencost'

const text = (what: string) => z.string().optional().describe(what)

/** OpenCost's query parameters; the last group is accepted and ignored because it does not change GPU figures. */
const allocationQuery = z.strictObject({
  window: z.string().describe('today, yesterday, week, lastweek, month, lastmonth, 24h, 7d, 7d offset 1d, unix-second or RFC 3339 pair FROM,TO'),
  step: text('duration of one set (1h, 1d, hour, day, week); default: the whole window'),
  aggregate: text('comma-separated: cluster, node, namespace, controllerKind, controller, pod, team, owner, label:<k>, annotation:<k> (k: a configured team/project/user key)'),
  accumulate: text('true/false, or hour, day, week, month, quarter (UTC calendar sets)'),
  accumulateBy: text('all, none, hour, day, week, month, quarter; wins over accumulate'),
  idle: text('include idle (unallocated capacity) cost as __idle__; default true'),
  includeIdle: text("OpenCost's name for idle"),
  shareIdle: text('share idle cost into the rows of its cluster (or node with idleByNode); default false'),
  shareSplit: text('weighted (by cost, default) or even'),
  idleByNode: text('keep idle per node instead of per cluster; default false'),
  format: text('json (default) or csv'),
  resolution: text('accepted and ignored: gpuscope reads exact pod intervals'),
  includeProportionalAssetResourceCosts: text('accepted and ignored'),
  includeAggregatedMetadata: text('accepted and ignored'),
  includeSharedCostBreakdown: text('accepted and ignored'),
  sharelb: text('accepted and ignored (load balancer cost is 0)'),
})
type AllocationQuery = z.infer<typeof allocationQuery>

const IGNORED = ['resolution', 'includeProportionalAssetResourceCosts', 'includeAggregatedMetadata', 'includeSharedCostBreakdown', 'sharelb'] as const

/** Registers /allocation/compute and /allocation/compute/summary (at the root path, under the API's auth). */
export function registerOpenCostRoutes(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  for (const [path, summary, shape] of [
    ['/allocation/compute', 'OpenCost-compatible allocation sets (GPU fields; other resources are 0)', 'full'],
    ['/allocation/compute/summary', 'OpenCost-compatible summary allocation sets (GPU fields; other resources are 0)', 'summary'],
  ] as const) {
    registry.registerPath({
      method: 'get', path, summary, tags: ['opencost'], request: { query: allocationQuery },
      responses: {
        ...errorResponses({ 401: 'missing or unknown bearer token (gpuscope error envelope, from the auth middleware)', 403: 'the token may not see this (gpuscope error envelope)' }),
        200: {
          description: "OpenCost's envelope {code: 200, status: 'success', data}; text/csv with format=csv",
          content: { 'application/json': { schema: shape === 'full' ? ocAllocationAnswer : ocSummaryAnswer }, 'text/csv': { schema: z.string() } },
        },
        400: { description: "bad input, in OpenCost's error shape {code: 400, status: 'error', data: null, message}", content: { 'application/json': { schema: ocError } } },
        404: { description: "no such object, in OpenCost's error shape", content: { 'application/json': { schema: ocError } } },
        500: { description: "internal error, in OpenCost's error shape", content: { 'application/json': { schema: ocError } } },
        503: { description: "a source did not answer, in OpenCost's error shape", content: { 'application/json': { schema: ocError } } },
      },
    })
    router.get(path, async (req: Request, res: Response) => {
      try {
        await answer(deps, req, res, shape)
      } catch (err) {
        sendError(deps, req, res, err)
      }
    })
  }
}

async function answer(deps: RouteDeps, req: Request, res: Response, shape: 'full' | 'summary'): Promise<void> {
  const q = parse(req.query)
  const nowMs = deps.now()
  const warnings: string[] = []
  const team = teamScope(principalOf(res))
  const window = parseOpenCostWindow(q.window, nowMs)
  const accumulate = parseAccumulate(q.accumulate, q.accumulateBy)
  const plan = planSets(window, parseStep(q.step), accumulate, nowMs, deps.config.analytics.maxPoints)
  const terms = parseAggregate(q.aggregate, deps.config.collector.kubernetes.labels)
  const idle = idleOptions(q, warnings)
  const columns = columnsOf(terms, team !== undefined)
  const spec: OcSpec = { fromMs: window.fromMs, toMs: window.toMs, nowMs, grid: plan.grid, columns, byNode: idle.byNode }
  const [allocation, capacity, util] = plan.sets.length === 0 ? [[], [], []] : await Promise.all([ocAllocation(deps.query, spec), ocCapacity(deps.query, spec), ocUtil(deps.query, spec)])
  const built = allocationSets(plan, terms, columns, { allocation, capacity, util }, idle, deps.config.analytics.rateCard, nowMs)
  let sets = built.sets
  warnings.push(...built.warnings)
  if (team !== undefined) {
    // Other teams' rows and the fleet's idle capacity stay out of a team's answer; shared idle stays in its rows.
    sets = sets.map((s) => ({ ...s, rows: s.rows.filter((r) => !r.idle && r.group[0] === team) }))
    warnings.push(`scoped to team '${team}': only the team's allocations are listed, without __idle__`)
  }
  if (window.toMs > nowMs) warnings.push(`the window ends after now: figures stop at ${iso(nowMs)}`)
  if (plan.sets.length === 0) warnings.push('the window starts after now: there are no sets yet')
  const ignored = IGNORED.filter((k) => q[k] !== undefined)
  if (ignored.length > 0) warnings.push(`ignored: ${ignored.join(', ')} (no effect on GPU figures)`)
  if (q.format === 'csv') {
    res.type('text/csv').send(toCsv(csvTable(sets)))
    return
  }
  const data = shape === 'full' ? sets.map((s) => Object.fromEntries(s.rows.map((r) => [r.name, allocationJson(s, r)]))) : summaryJson(plan, sets)
  res.json({ code: 200, status: 'success', data, ...(warnings.length > 0 ? { warning: warnings.join('; '), warnings } : {}) })
}

function parse(raw: unknown): AllocationQuery {
  const parsed = allocationQuery.safeParse(raw ?? {})
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      if (i.code === 'unrecognized_keys') return `unsupported parameter(s) ${i.keys.map((k) => `'${k}'`).join(', ')}`
      return `${i.path.join('.') || 'query'}: ${i.path[0] === 'window' && i.code === 'invalid_type' ? 'window is required' : i.message}`
    })
    throw new InputError(`Invalid query: ${problems.join('; ')}`)
  }
  if (parsed.data.format !== undefined && !['json', 'csv'].includes(parsed.data.format)) throw new InputError(`Invalid 'format' parameter: '${parsed.data.format}': expected json or csv`)
  return parsed.data
}

function idleOptions(q: AllocationQuery, warnings: string[]): IdleOptions {
  const idle = parseBool('idle', q.idle, true)
  const includeIdle = parseBool('includeIdle', q.includeIdle, idle)
  if (q.idle !== undefined && q.includeIdle !== undefined && idle !== includeIdle) throw new InputError("Invalid 'idle' parameter: idle and includeIdle disagree")
  const share = parseBool('shareIdle', q.shareIdle, false)
  const split = q.shareSplit ?? 'weighted'
  if (split !== 'weighted' && split !== 'even') throw new InputError(`Invalid 'shareSplit' parameter: '${split}': expected weighted or even`)
  if (share && !includeIdle) warnings.push('shareIdle=true has no effect with idle=false: idle cost is left out')
  return { include: includeIdle, share: share && includeIdle, split, byNode: parseBool('idleByNode', q.idleByNode, false) }
}

/** OpenCost's error shape; only typed errors speak to clients, the rest are logged and answered 'internal error'. */
function sendError(deps: RouteDeps, req: Request, res: Response, err: unknown): void {
  const code = statusOf(err)
  const message = err instanceof GpuscopeError || code === 400 ? (err as Error).message : 'internal error'
  if (code >= 500) deps.logger.error({ err: err instanceof Error ? err.message : String(err), path: req.path, status: code }, 'request failed')
  res.status(code).json({ code, status: 'error', data: null, message })
}

/** RFC 3339 in seconds, as Go's time.RFC3339 prints it. */
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z')
/** OpenCost rounds response floats to 5 decimals. */
const r5 = (x: number) => Math.round(x * 1e5) / 1e5

/** Averages of one row over its running time: GPUs requested, GPUs' worth used (null when never sampled), efficiency. */
function averages(r: OcRow) {
  const hours = (r.endMs - r.startMs) / 3_600_000
  const request = hours > 0 ? r.gpuHours / hours : 0
  const knownGpuHours = r.gpuHours - r.utilUnknownGpuHours
  const efficiency = r.usedGpuHours === null || knownGpuHours <= 0 ? null : r.usedGpuHours / knownGpuHours
  return { minutes: hours * 60, request, usage: efficiency === null ? null : efficiency * request, efficiency }
}

const zeros = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, 0]))

/** One OpenCost Allocation: GPU fields from gpuscope, the other resources 0, and gpuscope's used/unknown GPU-hours beside them. */
function allocationJson(s: OcSet, r: OcRow) {
  const a = averages(r)
  const nullable = (x: number | null) => (x === null ? null : r5(x))
  return {
    name: r.name,
    properties: r.properties,
    window: { start: iso(s.fromMs), end: iso(s.toMs) },
    start: iso(r.startMs),
    end: iso(r.endMs),
    minutes: r5(a.minutes),
    ...zeros(ZERO_FIELDS),
    gpuCount: r5(a.request),
    gpuHours: r5(r.gpuHours),
    gpuCost: r.costCents / 100,
    gpuCostAdjustment: 0,
    gpuCostIdle: r.idleCents / 100,
    gpuEfficiency: r.idle ? 0 : nullable(a.efficiency),
    pvs: null,
    totalCost: r.costCents / 100,
    totalEfficiency: r.idle ? 0 : nullable(a.efficiency),
    lbAllocations: null,
    gpuAllocation: r.idle ? null : { isGPUShared: r.shared, gpuUsageAverage: nullable(a.usage), gpuRequestAverage: r5(a.request) },
    gpuscope: { usedGpuHours: nullable(r.usedGpuHours), utilUnknownGpuHours: r5(r.utilUnknownGpuHours) },
  }
}


/** OpenCost's SummaryAllocationSetRange: step in nanoseconds (Go's time.Duration), sets of allocations by name, the window. */
function summaryJson(plan: SetPlan, sets: readonly OcSet[]) {
  return {
    step: plan.stepMs * 1e6,
    sets: sets.map((s) => ({
      allocations: Object.fromEntries(s.rows.map((r) => {
        const a = averages(r)
        return [r.name, {
          name: r.name, start: iso(r.startMs), end: iso(r.endMs), ...zeros(SUMMARY_ZEROS),
          gpuRequestAverage: r.idle ? 0 : r5(a.request), gpuUsageAverage: r.idle ? 0 : a.usage === null ? null : r5(a.usage),
          gpuCost: r.costCents / 100, gpuCostIdle: r.idleCents / 100, gpuHours: r5(r.gpuHours),
          totalEfficiency: r.idle ? 0 : a.efficiency === null ? null : r5(a.efficiency), totalCost: r.costCents / 100,
        }]
      })),
      window: { start: iso(s.fromMs), end: iso(s.toMs) },
    })),
    window: { start: iso(plan.window.fromMs), end: iso(plan.window.toMs) },
  }
}

const CSV_COLUMNS = [
  'windowStart', 'windowEnd', 'name', 'start', 'end', 'minutes', 'gpuCount', 'gpuHours', 'gpuRequestAverage', 'gpuUsageAverage', 'gpuEfficiency',
  'gpuCost', 'gpuCostIdle', 'gpuCostAdjustment', 'cpuCost', 'ramCost', 'pvCost', 'networkCost', 'loadBalancerCost', 'sharedCost', 'externalCost', 'totalCost',
]

/** One CSV row per allocation per set; money with two decimals; unknown utilization is an empty cell. */
function csvTable(sets: readonly OcSet[]): Table {
  const rows = sets.flatMap((s) => s.rows.map((r) => {
    const j = allocationJson(s, r)
    return {
      windowStart: j.window.start, windowEnd: j.window.end, name: r.name, start: j.start, end: j.end, minutes: j.minutes, gpuCount: j.gpuCount, gpuHours: j.gpuHours,
      gpuRequestAverage: j.gpuAllocation?.gpuRequestAverage ?? 0, gpuUsageAverage: j.gpuAllocation ? j.gpuAllocation.gpuUsageAverage : 0, gpuEfficiency: j.gpuEfficiency,
      gpuCost: j.gpuCost.toFixed(2), gpuCostIdle: j.gpuCostIdle.toFixed(2), gpuCostAdjustment: '0.00', cpuCost: '0.00', ramCost: '0.00', pvCost: '0.00',
      networkCost: '0.00', loadBalancerCost: '0.00', sharedCost: '0.00', externalCost: '0.00', totalCost: j.totalCost.toFixed(2),
    }
  }))
  return { columns: CSV_COLUMNS, rows }
}
