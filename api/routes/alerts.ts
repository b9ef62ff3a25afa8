import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import type { Router } from 'express'
import { z } from 'zod'
import { loadAuditLog } from '../../alerts/audit'
import { burstStates, recentBurstRows } from '../../alerts/burst/status'
import type { BurstPoolConfig } from '../../config/alerts'
import { burstAudit, type AuditStep } from '../../core/burstAudit'
import { costByKey, isCloudProvider } from '../../core/chargeback'
import { buildSeries, usageGrid } from '../../core/usage'
import { parseDuration, parseWindow } from '../../core/windows'
import { capacityCost } from '../../store/queries/fleet'
import { allocationBuckets, capacityBuckets, utilBuckets, type UsageSpec } from '../../store/queries/usage'
import { teamScope } from '../auth'
import { ForbiddenError } from '../authErrors'
import { otherTeam } from '../authMiddleware'
import { actionsData, burstAuditData, burstData } from '../schemas/alerts'
import { defineRoute, type RouteDeps, type Table } from '../route'

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000

/** A duration query parameter (`30m`, `6h`, `7d`) of at most 30 days. */
const window = z.string().superRefine((text, ctx) => {
  try {
    if (parseDuration(text) > 30 * DAY_MS) ctx.addIssue({ code: 'custom', message: 'must be at most 30d' })
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
  }
})

const burstQuery = z.strictObject({
  window: window.optional().describe('decisions of this window ending now (default 24h, at most 30d)'),
  cluster: z.string().min(1).optional(),
  pool: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).optional().describe('most recent decisions returned (default 100)'),
})

const burstAuditQuery = z.strictObject({
  period: z.string().default('30d').describe('30d, FROM,TO (RFC 3339), 2026-Q3, 2026-09 (default 30d)'),
})

const actionsQuery = z.strictObject({
  window: window.optional().describe('rows of this window ending now (default 24h, at most 30d)'),
  action: z.string().min(1).optional().describe('warn, remind, stop, digest, burst-scale-out, burst-scale-in, burst-hold'),
  cluster: z.string().min(1).optional(),
  namespace: z.string().min(1).optional(),
  name: z.string().min(1).optional().describe('workload (or team, or pool) name'),
  team: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(5_000).optional().describe('most recent rows returned (default 500)'),
})

/** A pool's policy as the API shows it: no adapter URL, key or secret. */
function poolSummary(p: BurstPoolConfig) {
  const { targets, ...policy } = p
  return { ...policy, targets: targets.map(({ adapter, ...t }) => ({ ...t, adapter: adapter.type })) }
}

function registerBurst(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  defineRoute(router, registry, {
    path: '/api/v1/burst',
    summary: 'Cloud burst: each pool\'s policy, whether it is bursting, its latest decision with reasons, and recent decisions',
    tag: 'alerts',
    query: burstQuery,
    response: burstData,
    csv: true,
    handler: async ({ query, nowMs }) => {
      const cfg = deps.config.alerts
      const fromMs = nowMs - parseDuration(query.window ?? '24h')
      const [states, rows] = await Promise.all([
        burstStates(deps.query),
        recentBurstRows(deps.query, { fromMs, limit: query.limit ?? 100, cluster: query.cluster, pool: query.pool }),
      ])
      const pools = cfg.burst.pools
        .filter((p) => (!query.cluster || p.cluster === query.cluster) && (!query.pool || p.pool === query.pool))
        .map((p) => {
          const state = states.find((s) => s.cluster === p.cluster && s.pool === p.pool)
          const latest = rows.find((r) => r.cluster === p.cluster && r.pool === p.pool)
          return { cluster: p.cluster, pool: p.pool, bursting: state?.active ?? false, burstingSinceMs: state?.active ? state.sinceMs : null, latestDecision: latest ?? null, policy: poolSummary(p) }
        })
      const table: Table = {
        columns: ['ts', 'cluster', 'pool', 'action', 'decision', 'dryRun', 'acted', 'reason'],
        rows: rows.map((r) => ({ ts: new Date(r.tsMs).toISOString(), cluster: r.cluster, pool: r.pool, action: r.action, decision: r.decision, dryRun: r.dryRun, acted: r.acted, reason: r.reason })),
      }
      const warnings = cfg.burst.enabled ? [] : ['the burst controller is off (alerts.burst.enabled): no new decisions are made']
      return { data: { enabled: cfg.enabled && cfg.burst.enabled, dryRun: cfg.dryRun || cfg.burst.dryRun, window: { fromMs, toMs: nowMs }, pools, decisions: rows }, warnings, table }
    },
  }, deps.now)
}

function registerBurstAudit(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  defineRoute(router, registry, {
    path: '/api/v1/burst/audit',
    summary: 'Cloud GPU-hours and cost spent while on-prem GPUs sat allocated but idle, and what reclaiming them first would have saved',
    tag: 'alerts',
    query: burstAuditQuery,
    response: burstAuditData,
    csv: true,
    handler: async ({ query, principal, nowMs }) => {
      if (teamScope(principal) !== undefined) throw new ForbiddenError('the burst audit covers the whole fleet: it needs a fleet-wide token')
      const period = parseWindow(query.period, nowMs)
      const upTo = { fromMs: period.fromMs, toMs: Math.min(period.toMs, nowMs) }
      const grid = usageGrid(upTo, HOUR_MS, deps.config.analytics.maxPoints)
      const capSpec: UsageSpec = { grid, nowMs, groupBy: ['cluster', 'provider'], filters: {} }
      const workSpec: UsageSpec = { grid, nowMs, groupBy: ['cluster', 'provider', 'workload'], filters: {} }
      const [capacity, { allocation }, util, capUses] = await Promise.all([
        capacityBuckets(deps.query, capSpec), allocationBuckets(deps.query, workSpec), utilBuckets(deps.query, workSpec), capacityCost(deps.query, { ...upTo, nowMs }),
      ])
      const steps = new Map<string, AuditStep>()
      const at = (cluster: string, tsMs: number): AuditStep => {
        const key = `${cluster} ${tsMs}`
        return steps.get(key) ?? steps.set(key, { tsMs, cluster, cloudGpus: 0, onpremIdleGpus: 0, onpremUnknownGpus: 0 }).get(key)!
      }
      for (const s of buildSeries(capSpec.groupBy, grid, nowMs, { capacity, allocation: [], pending: [], util: [] }).series) {
        if (!isCloudProvider(s.group.provider ?? '')) continue
        for (const p of s.points) at(s.group.cluster ?? '', Date.parse(p.ts)).cloudGpus += p.capacityGpus ?? 0
      }
      const utilBelow = deps.config.idle.utilBelow
      for (const s of buildSeries(workSpec.groupBy, grid, nowMs, { capacity: null, allocation, pending: [], util }).series) {
        if (isCloudProvider(s.group.provider ?? '')) continue
        for (const p of s.points) {
          if (p.allocatedGpus <= 0) continue
          const step = at(s.group.cluster ?? '', Date.parse(p.ts))
          if (p.utilRatio === null) step.onpremUnknownGpus += p.allocatedGpus
          else if (p.utilRatio < utilBelow) step.onpremIdleGpus += p.allocatedGpus
        }
      }
      const cloudCost = costByKey(capUses.filter((u) => isCloudProvider(u.provider)), deps.config.analytics.rateCard).get('')?.costUsd ?? 0
      const ordered = [...steps.values()].sort((x, y) => x.tsMs - y.tsMs || (x.cluster < y.cluster ? -1 : 1))
      const audit = burstAudit(ordered, HOUR_MS, cloudCost)
      const warnings: string[] = []
      if (audit.totals.onpremUtilUnknownGpuHours > 0) {
        warnings.push(`${audit.totals.onpremUtilUnknownGpuHours.toFixed(1)} on-prem allocated GPU-hours had no utilization sample: counted as unknown, not idle`)
      }
      const table: Table = {
        columns: ['ts', 'cluster', 'cloudGpus', 'onpremIdleGpus', 'onpremUnknownGpus', 'reclaimableGpus'],
        rows: ordered.map((x) => ({ ts: new Date(x.tsMs).toISOString(), cluster: x.cluster, cloudGpus: x.cloudGpus, onpremIdleGpus: x.onpremIdleGpus, onpremUnknownGpus: x.onpremUnknownGpus, reclaimableGpus: Math.min(x.cloudGpus, x.onpremIdleGpus) })),
      }
      const data = {
        period: { input: query.period, from: new Date(upTo.fromMs).toISOString(), to: new Date(upTo.toMs).toISOString() },
        idleRule: { utilBelow, stepMs: HOUR_MS },
        ...audit,
        steps: table.rows,
      }
      return { data, warnings, table }
    },
  }, deps.now)
}

function registerActions(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  defineRoute(router, registry, {
    path: '/api/v1/actions',
    summary: 'The audit log: every alert, reminder, digest, stop and burst decision, acted or not, with its evidence',
    tag: 'alerts',
    query: actionsQuery,
    response: actionsData,
    csv: true,
    handler: async ({ query, principal, nowMs }) => {
      const scope = teamScope(principal)
      if (scope !== undefined && query.team !== undefined && query.team !== scope) throw new ForbiddenError(otherTeam(scope, query.team))
      const rows = await loadAuditLog(deps.query, {
        fromMs: nowMs - parseDuration(query.window ?? '24h'), toMs: nowMs, limit: query.limit ?? 500,
        action: query.action, cluster: query.cluster, namespace: query.namespace, name: query.name, team: scope ?? query.team,
      })
      const table: Table = {
        columns: ['ts', 'id', 'action', 'cluster', 'namespace', 'kind', 'name', 'decision', 'dryRun', 'acted', 'reason', 'actor'],
        rows: rows.map((r) => ({
          ts: new Date(r.tsMs).toISOString(), id: r.id, action: r.action, cluster: r.cluster, namespace: r.namespace, kind: r.workloadKind, name: r.workloadName,
          decision: r.decision, dryRun: r.dryRun, acted: r.acted, reason: r.reason, actor: r.actor,
        })),
      }
      return { data: { actions: rows }, table }
    },
  }, deps.now)
}

/** Registers /burst and the actions audit routes. */
export function registerAlertRoutes(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  registerBurstAudit(router, registry, deps)
  registerBurst(router, registry, deps)
  registerActions(router, registry, deps)
}
