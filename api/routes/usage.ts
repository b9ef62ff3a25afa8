import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import type { Router } from 'express'
import { z } from 'zod'
import { chargeback, costByKey, splitRow, UNATTRIBUTED_ROW, type ChargeInput, type ChargeRow, type CostTotal, type IdleSharePolicy } from '../../core/chargeback'
import { InputError } from '../../core/errors'
import { applyChargeBasis, CHARGE_BASES, splitOnBasis, type BasisPolicy, type LedgerRow } from '../../core/ledger'
import {
  buildSeries, capacityApplies, CAPACITY_KEYS, GROUP_KEYS, monthlyAllocation, parseFilterValues, parseGroupBy, parsePeriod, recentMonths, topWaste, usageGrid,
  type BucketGrid, type Filters, type GroupKey, type UsageSeries,
} from '../../core/usage'
import { formatDuration, parseDuration, parseWindow, type TimeWindow } from '../../core/windows'
import { allocationCost, capacityCost, fleetAt, lastHour } from '../../store/queries/fleet'
import { allocationBuckets, capacityBuckets, rollupFor, utilBuckets, type UsageSpec } from '../../store/queries/usage'
import { teamScope, type Principal } from '../auth'
import { chargebackData, summaryData, usageData } from '../schemas/usage'
import { memo } from '../memo'
import { defineRoute, type RouteDeps, type Table } from '../route'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
/** Steps tried, finest first, when /usage is asked without one. */
const AUTO_STEPS_MS = [60_000, 5 * 60_000, 15 * 60_000, HOUR_MS, 6 * HOUR_MS, DAY_MS, 7 * DAY_MS]
const AUTO_STEP_POINTS = 500
const CHARGE_KEYS = ['team', 'project', 'user', 'namespace'] as const
/** Keys with many values: /usage counts the groups before it reads utilization for them. */
const WIDE_KEYS: readonly GroupKey[] = ['node', 'user', 'workload']

const filterShape = Object.fromEntries(
  GROUP_KEYS.map((k) => [k, z.string().optional().describe(`only rows whose ${k} is one of these comma-separated values`)]),
) as Record<GroupKey, z.ZodOptional<z.ZodString>>

const usageQuery = z.strictObject({
  window: z.string().default('24h').describe('24h, 7d, FROM,TO (RFC 3339), 2026-Q3, 2026-09 or 2026-09-14'),
  step: z.string().optional().describe('bucket size, a whole number of minutes (1m, 1h, 1d); default: the finest giving at most 500 points'),
  groupBy: z.string().optional().describe(`comma-separated keys: ${GROUP_KEYS.join(', ')}`),
  ...filterShape,
})

const summaryQuery = z.strictObject({})

const chargebackQuery = z.strictObject({
  period: z.string().optional().describe('a month (2026-09), a quarter (2026-Q3) or a window (30d, FROM,TO); default: this month so far'),
  by: z.enum(CHARGE_KEYS).default('team'),
  idleShare: z.enum(['none', 'proportional', 'even']).optional().describe('overrides analytics.idleShare'),
  basis: z.enum(CHARGE_BASES).optional().describe('what owners pay for: allocated, effective (allocation x utilization) or hybrid; overrides analytics.chargeBasis'),
  idleSurcharge: z.coerce.number().min(-1_000).max(1_000).optional().describe('hybrid: $ per idle-while-allocated GPU-hour (negative = credit); overrides analytics.idleSurchargeUsdPerGpuHour'),
})

/** Registers /usage, /summary, /chargeback. */
export function registerUsageRoutes(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  const summaries = memo<Awaited<ReturnType<typeof summary>>>(deps.config.analytics.summaryCacheMs)
  defineRoute(router, registry, {
    path: '/api/v1/usage',
    summary: 'Capacity, allocation, pending demand and utilization per group and step',
    tag: 'usage',
    query: usageQuery,
    response: usageData,
    csv: true,
    handler: async ({ query, principal, nowMs }) => usage(deps, query, principal, nowMs),
  }, deps.now)
  defineRoute(router, registry, {
    path: '/api/v1/summary',
    summary: 'The fleet now: capacity, allocated, utilized, pending and idle GPUs; monthly allocation ratio; top wasting teams',
    tag: 'usage',
    query: summaryQuery,
    response: summaryData,
    handler: async ({ principal, nowMs }) => summaries(teamScope(principal) ?? '', nowMs, () => summary(deps, principal, nowMs)),
  }, deps.now)
  defineRoute(router, registry, {
    path: '/api/v1/chargeback',
    summary: 'GPU-hours and cost per team, project, user or namespace for a period, reconciled to the fleet cost to the cent',
    tag: 'usage',
    query: chargebackQuery,
    response: chargebackData,
    csv: true,
    handler: async ({ query, principal, nowMs }) => charge(deps, query, principal, nowMs),
  }, deps.now)
}


/** The filters a request asked for, confined to the principal's team (a request for another team is narrowed, with a warning). */
function scopedFilters(raw: Partial<Record<GroupKey, string | undefined>>, principal: Principal, warnings: string[]): Filters {
  const filters: Filters = {}
  for (const key of GROUP_KEYS) {
    const text = raw[key]
    if (text !== undefined) filters[key] = parseFilterValues(key, text)
  }
  const team = teamScope(principal)
  if (team !== undefined) {
    const asked = filters.team
    if (asked && asked.some((t) => t !== team)) warnings.push(`this token sees only team '${team}': the team filter '${asked.join(',')}' was narrowed to it`)
    filters.team = [team]
  }
  return filters
}

/** The step asked for (a whole number of minutes, so a rollup tiles it), or the finest that gives at most 500 points. */
function parseStep(text: string | undefined, window: TimeWindow): number {
  if (text === undefined) {
    const spanMs = window.toMs - window.fromMs
    return AUTO_STEPS_MS.find((s) => spanMs / s <= AUTO_STEP_POINTS) ?? 30 * DAY_MS
  }
  let stepMs: number
  try {
    stepMs = parseDuration(text)
  } catch (err) {
    if (err instanceof InputError) throw new InputError(err.message.replace(/^bad duration/, 'bad step'), { cause: err })
    throw err
  }
  if (!rollupFor(stepMs)) throw new InputError(`bad step '${text}': it must be a whole number of minutes (utilization is read from 1-minute and 1-hour rollups)`)
  return stepMs
}

/** GET /usage: capacity, allocation, pending demand and utilization per group and step. */
async function usage(deps: RouteDeps, q: z.infer<typeof usageQuery>, principal: Principal, nowMs: number) {
  const cfg = deps.config.analytics
  const window = parseWindow(q.window, nowMs)
  const stepMs = parseStep(q.step, window)
  const grid = usageGrid(window, stepMs, cfg.maxPoints)
  const groupBy = parseGroupBy(q.groupBy)
  const warnings: string[] = []
  const filters = scopedFilters(q, principal, warnings)
  const spec: UsageSpec = { grid, nowMs, groupBy, filters }
  const withCapacity = capacityApplies(groupBy, filters)
  if (!withCapacity) {
    warnings.push(`capacity is null: it belongs to nodes (${CAPACITY_KEYS.join(', ')}), not to a namespace, team, project, user or workload`)
  }
  // Keys with many values (node, user, workload) could make the answer too big: count groups before reading utilization.
  const wide = groupBy.some((k) => WIDE_KEYS.includes(k))
  const utilRead = wide ? undefined : utilBuckets(deps.query, spec)
  // Marked handled now, so a failure while the other reads are awaited is not an unhandled rejection; awaited below.
  utilRead?.catch(() => undefined)
  const [capacity, { allocation, pending }] = await Promise.all([
    withCapacity ? capacityBuckets(deps.query, spec) : Promise.resolve(null),
    allocationBuckets(deps.query, spec),
  ])
  const groups = new Set([...(capacity ?? []), ...allocation, ...pending].map((r) => JSON.stringify(r.group))).size
  const steps = Math.ceil((Math.min(window.toMs, nowMs) - grid.originMs) / stepMs)
  if (groups * steps > cfg.maxSeriesPoints) {
    throw new InputError(
      `the answer would have ${groups} groups x ${steps} steps = ${groups * steps} points, more than the limit of ${cfg.maxSeriesPoints}: ` +
        'filter, group by fewer keys, or use a larger step',
    )
  }
  const util = await (utilRead ?? utilBuckets(deps.query, spec))
  const built = buildSeries(groupBy, grid, nowMs, { capacity, allocation, pending, util })
  warnings.push(...built.warnings)
  const data = {
    window: isoWindow(window),
    step: formatDuration(stepMs),
    utilResolution: rollupFor(stepMs)?.name,
    groupBy,
    filters,
    series: built.series,
  }
  return { data, warnings, table: usageTable(groupBy, built.series) }
}

const USAGE_COLUMNS = [
  'ts', 'capacityGpus', 'allocatedGpus', 'pendingGpus', 'allocationRatio', 'utilRatio', 'utilizedGpus', 'utilMetric', 'utilSamples',
  'utilSamplesGrEngineActive', 'allocatedGpuHours', 'usedGpuHours',
] as const

/** One CSV row per group per step. */
function usageTable(groupBy: readonly GroupKey[], series: readonly UsageSeries[]): Table {
  const rows = series.flatMap((s) => s.points.map((p) => ({ ...s.group, ...Object.fromEntries(USAGE_COLUMNS.map((c) => [c, p[c]])) })))
  return { columns: [...groupBy, ...USAGE_COLUMNS], rows }
}

const isoWindow = (w: TimeWindow) => ({ from: new Date(w.fromMs).toISOString(), to: new Date(w.toMs).toISOString() })

/** GET /summary: the fleet now, the monthly allocation ratio and the top wasting teams (a team token sees its team's figures). */
async function summary(deps: RouteDeps, principal: Principal, nowMs: number) {
  const cfg = deps.config
  const team = teamScope(principal)
  const filters: Filters = team !== undefined ? { team: [team] } : {}
  const warnings: string[] = team !== undefined ? [`scoped to team '${team}': allocated, utilized, pending, idle and waste are the team's; capacity is the fleet's`] : []
  const months = recentMonths(nowMs, 6)
  const monthGrid: BucketGrid = { fromMs: months[0]!.fromMs, toMs: nowMs, stepMs: DAY_MS, originMs: months[0]!.fromMs }
  const wasteWindow = { fromMs: nowMs - 30 * DAY_MS, toMs: nowMs }
  const wasteSpec: UsageSpec = { grid: usageGrid(wasteWindow, DAY_MS, cfg.analytics.maxPoints), nowMs, groupBy: ['team'], filters }
  const [at, hour, monthCap, monthAlloc, wasteAlloc, wasteUtil] = await Promise.all([
    fleetAt(deps.query, nowMs, filters),
    lastHour(deps.query, nowMs, cfg.idle.utilBelow, filters),
    capacityBuckets(deps.query, { grid: monthGrid, nowMs, groupBy: [], filters: {} }),
    allocationBuckets(deps.query, { grid: monthGrid, nowMs, groupBy: [], filters }),
    allocationBuckets(deps.query, wasteSpec),
    utilBuckets(deps.query, wasteSpec),
  ])
  const waste = buildSeries(['team'], wasteSpec.grid, nowMs, { capacity: null, allocation: wasteAlloc.allocation, pending: [], util: wasteUtil })
  const known = hour.knownGpus > 0
  if (hour.unknownGpus > 0) {
    warnings.push(`${hour.unknownWorkloads} workloads holding ${hour.unknownGpus} GPUs had no GPU sample in the last hour: their utilization and idleness are unknown, not 0`)
  }
  const data = {
    at: new Date(nowMs).toISOString(),
    capacityGpus: at.capacityGpus,
    allocatedGpus: at.allocatedGpus,
    pendingGpus: at.pendingGpus,
    allocationRatio: at.capacityGpus > 0 ? at.allocatedGpus / at.capacityGpus : null,
    utilizedGpus: known ? hour.utilizedGpus : null,
    utilRatio: known ? hour.utilizedGpus / hour.knownGpus : null,
    utilMetric: !known ? null : hour.gpuUtilPods === 0 ? 'GR_ENGINE_ACTIVE' : hour.grEngineActivePods === 0 ? 'GPU_UTIL' : 'mixed',
    idleGpus: known ? hour.idleGpus : null,
    idleWorkloads: known ? hour.idleWorkloads : null,
    utilUnknownGpus: hour.unknownGpus,
    utilUnknownWorkloads: hour.unknownWorkloads,
    idleRule: { utilBelow: cfg.idle.utilBelow, windowMs: HOUR_MS },
    monthly: monthlyAllocation(months, monthCap, monthAlloc.allocation),
    wasteWindow: isoWindow(wasteWindow),
    topWastingTeams: topWaste(waste.series, cfg.analytics.topWastingTeams).map(({ group, ...rest }) => ({ team: group.team ?? '', ...rest })),
  }
  return { data, warnings }
}


/** Used and unknown GPU-hours per key, from daily (hourly for short periods) allocation × utilization. */
async function usedByKey(deps: RouteDeps, period: TimeWindow, nowMs: number, by: GroupKey, filters: Filters): Promise<Map<string, UsageSeries['totals']>> {
  const stepMs = period.toMs - period.fromMs >= 2 * DAY_MS ? DAY_MS : HOUR_MS
  const spec: UsageSpec = { grid: usageGrid(period, stepMs, Number.MAX_SAFE_INTEGER), nowMs, groupBy: [by], filters }
  const [{ allocation }, util] = await Promise.all([allocationBuckets(deps.query, spec), utilBuckets(deps.query, spec)])
  const { series } = buildSeries([by], spec.grid, nowMs, { capacity: null, allocation, pending: [], util })
  return new Map(series.map((s) => [s.group[by] ?? '', s.totals]))
}

/** Chargeback rows from priced allocation and used GPU-hours; allocation with no value for the key is `__unallocated__`. */
function chargeInputs(costs: Map<string, CostTotal>, used: Map<string, UsageSeries['totals']>): ChargeInput[] {
  return [...costs].map(([key, c]) => ({
    key: key === '' ? UNATTRIBUTED_ROW : key,
    allocatedGpuHours: c.gpuHours,
    allocatedCostUsd: c.costUsd,
    usedGpuHours: used.get(key)?.usedGpuHours ?? null,
    utilUnknownGpuHours: used.get(key)?.utilUnknownGpuHours ?? c.gpuHours,
  }))
}

/** What the fleet's cost rests on that the operator may want to fix: GPU-hours at the default rate, cloud nodes with no price. */
function rateWarnings(capacity: CostTotal, defaultRate: number): string[] {
  const out: string[] = []
  if (capacity.unpricedCloudGpuHours > 0) {
    out.push(`${capacity.unpricedCloudGpuHours.toFixed(2)} GPU-hours on cloud nodes had no price in the prices table: charged from the rate card`)
  }
  if (capacity.defaultRateGpuHours > 0) {
    out.push(`${capacity.defaultRateGpuHours.toFixed(2)} GPU-hours matched no rate card line: charged at the default $${defaultRate}/GPU-hour (set analytics.rateCard)`)
  }
  return out
}

/** GET /chargeback: GPU-hours and cost per key for a period, reconciled to the fleet's capacity cost to the cent. */
async function charge(deps: RouteDeps, q: z.infer<typeof chargebackQuery>, principal: Principal, nowMs: number) {
  const cfg = deps.config.analytics
  const period = parsePeriod(q.period, nowMs)
  if (period.fromMs >= nowMs) throw new InputError(`period '${q.period}' starts after now: there is nothing to charge yet`)
  const upTo: TimeWindow = { fromMs: period.fromMs, toMs: Math.min(period.toMs, nowMs) }
  const policy: IdleSharePolicy = q.idleShare ?? cfg.idleShare
  const team = teamScope(principal)
  const fleetBy: GroupKey = team !== undefined ? 'team' : q.by
  const span = { fromMs: upTo.fromMs, toMs: upTo.toMs, nowMs }
  const [allocUses, capUses, used] = await Promise.all([
    allocationCost(deps.query, { ...span, by: fleetBy, filters: {} }),
    capacityCost(deps.query, span),
    usedByKey(deps, upTo, nowMs, fleetBy, {}),
  ])
  const costs = costByKey(allocUses, cfg.rateCard)
  const capacity = costByKey(capUses, cfg.rateCard).get('') ?? { gpuHours: 0, costUsd: 0, defaultRateGpuHours: 0, unpricedCloudGpuHours: 0 }
  const fleet = chargeback(chargeInputs(costs, used), { capacityGpuHours: capacity.gpuHours, capacityCostUsd: capacity.costUsd }, policy)
  const basis: BasisPolicy = { basis: q.basis ?? cfg.chargeBasis, idleSurchargeUsdPerGpuHour: q.idleSurcharge ?? cfg.idleSurchargeUsdPerGpuHour }
  if (basis.basis !== 'hybrid' && q.idleSurcharge !== undefined) throw new InputError(`idleSurcharge applies to basis=hybrid only (basis is ${basis.basis})`)
  const ledger = applyChargeBasis(fleet.rows, basis)
  const warnings = period.toMs > nowMs ? [`the period is not over: charged up to now (${new Date(nowMs).toISOString()})`] : []
  let rows = ledger
  const rowsCents = ledger.reduce((n, r) => n + r.costCents, 0)
  let reconciliation: Record<string, unknown> = { scope: 'fleet', ...fleet.reconciliation, reconciled: fleet.reconciliation.reconciled && rowsCents === Math.round(fleet.reconciliation.fleetCostUsd * 100) }
  if (team === undefined) {
    warnings.push(...rateWarnings(capacity, cfg.rateCard.defaultUsdPerGpuHour), ...fleet.warnings)
  } else {
    // Fleet-wide figures (other teams, the fleet's size and cost) stay out of a team's answer.
    const scoped = await teamRows(deps, team, q.by, span, upTo, fleet.rows, ledger, policy, basis)
    rows = scoped.rows
    reconciliation = scoped.reconciliation
    warnings.push(`scoped to team '${team}': the rows are the team's share of the fleet's cost`)
  }
  const data = { period: { input: q.period ?? null, ...isoWindow(upTo) }, by: q.by, idleShare: reconciliation.policy ?? policy, chargeBasis: basis.basis, idleSurchargeUsdPerGpuHour: basis.idleSurchargeUsdPerGpuHour, rows, reconciliation }
  return { data, warnings, table: chargeTable(q.by, rows) }
}

/** A team-scoped caller's rows: its team row, or that row split by the asked key (summing to it to the cent). */
async function teamRows(deps: RouteDeps, team: string, by: GroupKey, span: { fromMs: number; toMs: number; nowMs: number }, upTo: TimeWindow, fleetRows: ChargeRow[], ledger: LedgerRow[], policy: IdleSharePolicy, basis: BasisPolicy) {
  const parent = fleetRows.find((r) => r.key === team)
  const onBasis = ledger.find((r) => r.key === team)
  const total = onBasis?.costCents ?? 0
  let rows: LedgerRow[] = onBasis ? [onBasis] : []
  if (by !== 'team' && parent && onBasis) {
    const filters: Filters = { team: [team] }
    const [uses, used] = await Promise.all([allocationCost(deps.query, { ...span, by, filters }), usedByKey(deps, upTo, span.nowMs, by, filters)])
    rows = splitOnBasis(onBasis, splitRow(parent, chargeInputs(costByKey(uses, deps.config.analytics.rateCard), used), policy), basis)
  }
  const rowsCents = rows.reduce((n, r) => n + r.costCents, 0)
  return {
    rows,
    reconciliation: { scope: `team '${team}'`, reconciled: rowsCents === total, teamCostUsd: total / 100, rowsCostUsd: rowsCents / 100, differenceCents: rowsCents - total, policy },
  }
}

const CHARGE_COLUMNS = [
  'allocatedGpuHours', 'effectiveGpuHours', 'idleGpuHours', 'utilUnknownGpuHours', 'allocatedCostUsd', 'idleShareCostUsd', 'idleAllocatedCostUsd', 'basisAdjustmentUsd', 'costUsd',
] as const

/** One CSV row per chargeback row, money with two decimals for finance. */
function chargeTable(by: string, rows: readonly LedgerRow[]): Table {
  const money = new Set<string>(['allocatedCostUsd', 'idleShareCostUsd', 'idleAllocatedCostUsd', 'basisAdjustmentUsd', 'costUsd'])
  return {
    columns: [by, ...CHARGE_COLUMNS],
    rows: rows.map((r) => ({ [by]: r.key, ...Object.fromEntries(CHARGE_COLUMNS.map((c) => [c, money.has(c) ? (r[c] as number).toFixed(2) : r[c]])) })),
  }
}
