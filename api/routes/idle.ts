import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import type { Router } from 'express'
import { z } from 'zod'
import type { IdleConfig } from '../../config/idle'
import { activityFloor, dcgmMetricName, evalEndOf, isNotebook, utilizationSeries, windowFor, type GpuMinute, type IdlePolicy } from '../../core/idle'
import { assessIdle, IDLE_ACTIONS, IDLE_CLASS, type IdleAssessment } from '../../core/idleMachine'
import { evidenceSummary, findInsights, subjectOf, type Finding, type InsightsPolicy } from '../../core/insights'
import { gpuHours } from '../../core/intervals'
import type { QueryFn } from '../../core/ports'
import { parseDuration } from '../../core/windows'
import { loadIdleEvidence, loadPodUsage, type IdleWorkload } from '../../store/queries/idle'
import { teamScope, type Principal } from '../auth'
import { ForbiddenError } from '../authErrors'
import { otherTeam } from '../authMiddleware'
import { idleData, insightsData } from '../schemas/idle'
import { defineRoute, type RouteDeps, type Table } from '../route'

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS
const DAY_MS = 24 * HOUR_MS
/** The hourly history behind "idle since" reaches this far before the minute lookback. */
const HISTORY_MS = 30 * DAY_MS
/** Evidence-series steps, finest first; the first giving at most MAX_POINTS points is used. */
const SERIES_STEPS_MS = [1, 2, 5, 10, 15, 30, 60].map((m) => m * MINUTE_MS)
const MAX_POINTS = 120

/** Filter values of /idle `state`: the machine's steps and the verdicts stuck and hung. */
export const IDLE_STATE_FILTERS = ['unknown', 'active', 'suspect', 'idle', 'stuck', 'hung', 'warned', 'stopped'] as const

/** A duration query parameter (`30m`, `6h`, `7d`) no longer than `maxMs`. */
const duration = (maxMs: number, maxText: string) =>
  z.string().superRefine((text, ctx) => {
    try {
      if (parseDuration(text) > maxMs) ctx.addIssue({ code: 'custom', message: `must be at most ${maxText}` })
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message })
    }
  })

/** Filter values that name a verdict rather than a step of the machine. */
const VERDICT_FILTERS: ReadonlySet<string> = new Set(['stuck', 'hung'])

const stateList = z.string().superRefine((text, ctx) => {
  for (const s of text.split(',')) {
    if (!(IDLE_STATE_FILTERS as readonly string[]).includes(s)) ctx.addIssue({ code: 'custom', message: `unknown state '${s}': expected one of ${IDLE_STATE_FILTERS.join(', ')}` })
  }
})

const idleQuery = z.strictObject({
  window: duration(DAY_MS, '24h').optional().describe('evidence window ending now (default 6h, at most 24h); verdicts use the per-kind idle windows from config'),
  kind: z.string().min(1).optional().describe('workload kind, e.g. Notebook or Job (case-insensitive)'),
  team: z.string().min(1).optional(),
  state: stateList.optional().describe(`comma-separated: ${IDLE_STATE_FILTERS.join(', ')} (stuck and hung match verdicts)`),
  // An empty value is a bad number (z.coerce.number alone reads '' as 0).
  minGpus: z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? Number.NaN : v), z.coerce.number().min(0)).optional().describe('only workloads holding at least this many GPUs (MIG slices count as fractions)'),
})

const insightsQuery = z.strictObject({
  window: duration(30 * DAY_MS, '30d').optional().describe('window ending now (default 7d, at most 30d)'),
  team: z.string().min(1).optional(),
})

/** The idle policy in config without the insight thresholds. */
export function idlePolicyOf(config: IdleConfig): IdlePolicy {
  const { insights: _insights, ...policy } = config
  return policy
}

/** The team a request may see: its token's team, or the `team` parameter; a team token asking for another team is refused (403, as the auth middleware does). */
function scopedTeam(principal: Principal, team: string | undefined): string | undefined {
  const scope = teamScope(principal)
  if (scope !== undefined && team !== undefined && team !== scope) throw new ForbiddenError(otherTeam(scope, team))
  return scope ?? team
}

/** Step of the evidence series: the finest that keeps it at MAX_POINTS points or fewer. */
const seriesStep = (windowMs: number): number => SERIES_STEPS_MS.find((s) => windowMs / s <= MAX_POINTS) ?? HOUR_MS

/** The longest idle window of any kind (the minute lookback must cover it). */
const longestWindow = (p: IdlePolicy): number => Math.max(p.notebookWindowMs, p.jobWindowMs, ...Object.values(p.windowsByKindMs))

/** One running workload and its idle assessment. */
export interface AssessedWorkload {
  workload: IdleWorkload
  assessment: IdleAssessment
}

/** The evidence window /idle uses by default, and the minute lookback of every assessment (whatever window is displayed). */
export const DEFAULT_IDLE_WINDOW_MS = 6 * HOUR_MS

const floorHour = (ms: number): number => Math.floor(ms / HOUR_MS) * HOUR_MS

/** Start of the minute lookback of every assessment at evalEndMs: 6 h or the longest idle window, plus staleness, hour-aligned. */
export const lookbackFromOf = (policy: IdlePolicy, evalEndMs: number): number =>
  floorHour(evalEndMs - Math.max(DEFAULT_IDLE_WINDOW_MS, longestWindow(policy)) - policy.stalenessMs)

/**
 * Reads and assesses the running GPU workloads (optionally one team's and
 * kind's) at nowMs: the minute lookback covers 6 h and the longest idle
 * window (plus staleness), hour-aligned so the hourly history ends where it
 * begins, and never depends on a displayed window, so idle since and waste
 * are the same for every caller. The one place /idle, /insights and other
 * callers (workload 360 view, fleet gauges) should get verdicts from.
 */
export async function assessRunning(query: QueryFn, idle: IdleConfig, nowMs: number, filter: { team?: string | undefined; kind?: string | undefined } = {}) {
  const policy = idlePolicyOf(idle)
  const evalEndMs = evalEndOf(nowMs)
  const lookbackFromMs = lookbackFromOf(policy, evalEndMs)
  const load = await loadIdleEvidence(query, {
    nowMs, lookbackFromMs, historyFromMs: lookbackFromMs - HISTORY_MS, team: filter.team, kind: filter.kind,
    utilBelow: activityFloor(policy.utilBelow), actions: Object.values(IDLE_ACTIONS),
  })
  const assessed: AssessedWorkload[] = load.workloads.map((workload) => ({ workload, assessment: assessIdle(workload.evidence, policy, { nowMs, lookbackFromMs }) }))
  return { policy, evalEndMs, lookbackFromMs, assessed, warnings: load.warnings }
}

/**
 * An assessment as the API shows it: the metric named by its DCGM field
 * (DCGM_FI_PROF_GR_ENGINE_ACTIVE, DCGM_FI_DEV_GPU_UTIL, mixed or none), as the
 * workload 360 view names it too; the core keeps its short names.
 */
export function withDcgmMetric<A extends { metric: IdleAssessment['metric'] }>(a: A): Omit<A, 'metric'> & { metric: ReturnType<typeof dcgmMetricName> } {
  return { ...a, metric: dcgmMetricName(a.metric) }
}

/** One workload in the /idle answer; `minutes` are the ones the series is drawn from (they may reach before the assessment's lookback). */
function idleRow({ workload: w, assessment: a }: AssessedWorkload, minutes: readonly GpuMinute[], fromMs: number, toMs: number, stepMs: number) {
  return {
    cluster: w.cluster, namespace: w.namespace, kind: w.kind, name: w.name,
    owner: { team: w.team, project: w.project, user: w.user },
    pods: w.pods, nodes: w.nodes, gpus: w.evidence.gpus, startMs: w.evidence.startMs,
    state: a.state, verdict: a.verdict, idleSinceMs: a.idleSinceMs ?? null, idleSinceExact: a.idleSinceExact, wastedGpuHours: a.wastedGpuHours,
    warnedAtMs: a.warnedAtMs ?? null, stoppedAtMs: a.stoppedAtMs ?? null, nextAction: a.nextAction ?? null,
    evidence: {
      windowMs: a.windowMs, metric: dcgmMetricName(a.metric), coverageRatio: a.coverageRatio, maxUtilRatio: a.maxUtilRatio, lastGpuActivityMs: a.lastGpuActivityMs ?? null,
      fbUsedMaxBytes: a.fbUsedMaxBytes, kernel: a.kernel ?? null, series: utilizationSeries(minutes, fromMs, toMs, stepMs),
    },
    signals: a.signals,
  }
}

type IdleRow = ReturnType<typeof idleRow>

const iso = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '' : new Date(ms).toISOString())

/** The /idle CSV: one line per workload, the evidence in its own columns, signals as `name=value` pairs. */
function idleTable(rows: readonly IdleRow[]): Table {
  return {
    columns: ['cluster', 'namespace', 'kind', 'name', 'team', 'project', 'user', 'gpus', 'state', 'verdict', 'idleSince', 'idleSinceExact', 'wastedGpuHours', 'metric', 'maxUtilRatio', 'coverageRatio', 'fbUsedMaxBytes', 'lastGpuActivity', 'lastKernelActivity', 'nextAction', 'signals'],
    rows: rows.map((r) => ({
      cluster: r.cluster, namespace: r.namespace, kind: r.kind, name: r.name, ...r.owner, gpus: r.gpus, state: r.state, verdict: r.verdict,
      idleSince: iso(r.idleSinceMs), idleSinceExact: r.idleSinceExact, wastedGpuHours: r.wastedGpuHours, metric: r.evidence.metric,
      maxUtilRatio: r.evidence.maxUtilRatio ?? '', coverageRatio: r.evidence.coverageRatio ?? '', fbUsedMaxBytes: r.evidence.fbUsedMaxBytes ?? '',
      lastGpuActivity: iso(r.evidence.lastGpuActivityMs), lastKernelActivity: iso(r.evidence.kernel?.lastActivityMs),
      nextAction: r.nextAction ? `${r.nextAction.action} at ${iso(r.nextAction.atMs)}` : '',
      signals: r.signals.map((s) => `${s.name}=${s.value}`).join('; '),
    })),
  }
}

/**
 * The GPU minutes by workload for the evidence series of a window starting at
 * fromMs, when it reaches before the assessments' lookback (windows longer
 * than 6 h): one more read from the window's start; undefined otherwise (the
 * assessments' own minutes cover it).
 */
async function longSeriesMinutes(query: QueryFn, idle: IdleConfig, nowMs: number, fromMs: number, filter: { team?: string | undefined; kind?: string | undefined }) {
  const policy = idlePolicyOf(idle)
  if (fromMs >= lookbackFromOf(policy, evalEndOf(nowMs))) return undefined
  const lookbackFromMs = floorHour(fromMs)
  const load = await loadIdleEvidence(query, { nowMs, lookbackFromMs, historyFromMs: lookbackFromMs, ...filter, utilBelow: activityFloor(policy.utilBelow), actions: Object.values(IDLE_ACTIONS) })
  return new Map(load.workloads.map((w) => [subjectOf(w), w.evidence.minutes]))
}

const byWaste = ({ workload: v, assessment: a }: AssessedWorkload, { workload: w, assessment: b }: AssessedWorkload): number =>
  b.wastedGpuHours - a.wastedGpuHours || w.evidence.gpus - v.evidence.gpus || `${v.cluster}/${v.namespace}/${v.name}`.localeCompare(`${w.cluster}/${w.namespace}/${w.name}`)

function registerIdle(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  defineRoute(router, registry, {
    path: '/api/v1/idle',
    summary: 'Idle, stuck and hung GPU workloads: state machine step, idle since, wasted GPU-hours, evidence and signals',
    tag: 'idle',
    query: idleQuery,
    response: idleData,
    csv: true,
    handler: async ({ query, principal, nowMs }) => {
      const team = scopedTeam(principal, query.team)
      const windowMs = query.window === undefined ? DEFAULT_IDLE_WINDOW_MS : parseDuration(query.window)
      const filter = { team, kind: query.kind }
      const [{ policy, evalEndMs, assessed, warnings }, longSeries] = await Promise.all([
        assessRunning(deps.query, deps.config.idle, nowMs, filter),
        longSeriesMinutes(deps.query, deps.config.idle, nowMs, evalEndOf(nowMs) - windowMs, filter),
      ])
      const states = query.state?.split(',')
      const kept = assessed
        .filter(({ workload: w, assessment: a }) => w.evidence.gpus >= (query.minGpus ?? 0) && (!states || states.some((s) => (VERDICT_FILTERS.has(s) ? a.verdict === s : a.state === s))))
        .sort(byWaste)
      const stepMs = seriesStep(windowMs)
      const rows = kept.map((x) => idleRow(x, longSeries?.get(subjectOf(x.workload)) ?? x.workload.evidence.minutes, evalEndMs - windowMs, evalEndMs, stepMs))
      const byState: Record<string, number> = {}
      for (const { assessment: a } of kept) byState[a.state] = (byState[a.state] ?? 0) + 1
      const idle = kept.filter(({ assessment: a }) => IDLE_CLASS.has(a.verdict))
      return {
        data: {
          window: { fromMs: evalEndMs - windowMs, toMs: evalEndMs, stepMs },
          policy: { ...policy, windowsMs: { Notebook: windowFor('Notebook', policy), default: policy.jobWindowMs, ...policy.windowsByKindMs } },
          totals: {
            workloads: kept.length, gpus: kept.reduce((n, x) => n + x.workload.evidence.gpus, 0), byState,
            idleGpus: idle.reduce((n, x) => n + x.workload.evidence.gpus, 0), wastedGpuHours: idle.reduce((n, x) => n + x.assessment.wastedGpuHours, 0),
          },
          workloads: rows,
        },
        warnings,
        table: idleTable(rows),
      }
    },
  }, deps.now)
}

/** The /insights CSV: one line per finding. */
function insightsTable(findings: readonly Finding[]): Table {
  return {
    columns: ['type', 'team', 'subject', 'impactGpuHours', 'message', 'suggestion', 'evidence'],
    rows: findings.map((f) => ({ type: f.type, team: f.team, subject: f.subject, impactGpuHours: f.impactGpuHours, message: f.message, suggestion: f.suggestion, evidence: evidenceSummary(f) })),
  }
}

function registerInsights(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  defineRoute(router, registry, {
    path: '/api/v1/insights',
    summary: 'Findings with evidence: low-efficiency teams, right-size suggestions, low GPU memory, notebooks to cull',
    tag: 'idle',
    query: insightsQuery,
    response: insightsData,
    csv: true,
    handler: async ({ query, principal, nowMs }) => {
      const team = scopedTeam(principal, query.team)
      const window = { fromMs: nowMs - parseDuration(query.window ?? '7d'), toMs: nowMs }
      const [usage, idle] = await Promise.all([
        loadPodUsage(deps.query, { ...window, team }),
        assessRunning(deps.query, deps.config.idle, nowMs, { team }),
      ])
      const policy: InsightsPolicy = { ...deps.config.idle.insights, utilBelow: deps.config.idle.utilBelow }
      const pods = usage.pods.map(({ intervals, ...p }) => ({ ...p, gpuHours: gpuHours(intervals, window, nowMs) }))
      const activeNow = new Set(idle.assessed.filter(({ assessment: a }) => a.verdict === 'active').map(({ workload: w }) => subjectOf(w)))
      const notebooks = idle.assessed.filter(({ workload: w }) => isNotebook(w.kind)).map(({ workload: w, assessment: a }) => ({
        cluster: w.cluster, namespace: w.namespace, kind: w.kind, name: w.name, team: w.team, project: w.project, user: w.user,
        gpus: w.evidence.gpus, verdict: a.verdict, state: a.state, idleSinceMs: a.idleSinceMs, wastedGpuHours: a.wastedGpuHours, lastKernelActivityMs: a.kernel?.lastActivityMs ?? null,
      }))
      const findings = findInsights({ windowFromMs: window.fromMs, pods, notebooks, activeNow }, policy, idle.evalEndMs)
      const counts: Record<string, number> = {}
      for (const f of findings) counts[f.type] = (counts[f.type] ?? 0) + 1
      return { data: { window, policy, counts, findings }, warnings: [...usage.warnings, ...idle.warnings], table: insightsTable(findings) }
    },
  }, deps.now)
}

/** Registers /idle, /insights. */
export function registerIdleRoutes(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  registerIdle(router, registry, deps)
  registerInsights(router, registry, deps)
}
