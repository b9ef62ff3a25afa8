import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import type { Router } from 'express'
import { z } from 'zod'
import { chargeback, chargeInputs, costByKey, splitRow, type ChargeRow, type CostTotal, type IdleSharePolicy } from '../../core/chargeback'
import { InputError } from '../../core/errors'
import { applyChargeBasis, splitOnBasis, type BasisPolicy, type LedgerRow } from '../../core/ledger'
import {
  buildSeries, capacityApplies, CAPACITY_KEYS, GROUP_KEYS, monthlyAllocation, parseFilterValues, parseGroupBy, parsePeriod, recentMonths, topWaste, usageGrid,
  type BucketGrid, type Filters, type GroupKey, type UsageSeries,
} from '../../core/usage'
import { formatDuration, parseDuration, parseWindow, type TimeWindow } from '../../core/windows'
import { allocationCost, capacityCost, fleetAt, lastHour } from '../../store/queries/fleet'
import { allocationBuckets, capacityBuckets, rollupFor, usedByKey, utilBuckets, type UsageSpec } from '../../store/queries/usage'
import { teamScope, type Principal } from '../auth'
import { chargebackData, summaryData, usageData } from '../schemas/usage'
import { chargebackQuery, summaryQuery, usageQuery } from '../schemas/usageQuery'
import { memo } from '../memo'
import { defineRoute, type RouteDeps, type Table } from '../route'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
/** Steps tried, finest first, when /usage is asked without one. */
const AUTO_STEPS_MS = [60_000, 5 * 60_000, 15 * 60_000, HOUR_MS, 6 * HOUR_MS, DAY_MS, 7 * DAY_MS]
const AUTO_STEP_POINTS = 500
/** Keys with many values: /usage counts the groups before it reads utilization for them. */
const WIDE_KEYS: readonly GroupKey[] = ['node', 'user', 'workload']

/** Registers /usage, /summary, /chargeback. */
export function registerUsageRoutes(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  const summaries = memo<Awaited<ReturnType<typeof summary>>>(deps.config.analytics.summaryCacheMs)
  const chargeQuery = chargebackQuery(deps.config.analytics.chargeBasis)
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
    query: chargeQuery,
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

/** The step asked for (a whole number of minutes, so a rollup tiles it, and no longer than the window), or the finest that gives at most 500 points. */
function parseStep(text: string | undefined, windowText: string, window: TimeWindow): number {
  const spanMs = window.toMs - window.fromMs
  if (text === undefined) return AUTO_STEPS_MS.find((s) => spanMs / s <= AUTO_STEP_POINTS) ?? 30 * DAY_MS
  let stepMs: number
  try {
    stepMs = parseDuration(text)
  } catch (err) {
    if (err instanceof InputError) throw new InputError(err.message.replace(/^bad duration/, 'bad step'), { cause: err })
    throw err
  }
  if (!rollupFor(stepMs)) throw new InputError(`bad step '${text}': it must be a whole number of minutes (utilization is read from 1-minute and 1-hour rollups)`)
  // A longer step would make one bucket that starts before the window and is mostly outside it.
  if (stepMs > spanMs) {
    throw new InputError(`bad step '${text}': it is longer than the window '${windowText}' (${formatDuration(spanMs)}): use a step of at most ${formatDuration(spanMs)}`)
  }
  return stepMs
}

/** GET /usage: capacity, allocation, pending demand and utilization per group and step. */
async function usage(deps: RouteDeps, q: z.infer<typeof usageQuery>, principal: Principal, nowMs: number) {
  const cfg = deps.config.analytics
  const window = parseWindow(q.window, nowMs)
  const stepMs = parseStep(q.step, q.window, window)
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
async function charge(deps: RouteDeps, q: z.infer<ReturnType<typeof chargebackQuery>>, principal: Principal, nowMs: number) {
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
    usedByKey(deps.query, upTo, nowMs, fleetBy, {}),
  ])
  const costs = costByKey(allocUses, cfg.rateCard)
  const capacity = costByKey(capUses, cfg.rateCard).get('') ?? { gpuHours: 0, costUsd: 0, defaultRateGpuHours: 0, unpricedCloudGpuHours: 0 }
  const fleet = chargeback(chargeInputs(costs, used), { capacityGpuHours: capacity.gpuHours, capacityCostUsd: capacity.costUsd }, policy)
  const basis: BasisPolicy = { basis: q.basis ?? cfg.chargeBasis, idleSurchargeUsdPerGpuHour: q.idleSurcharge ?? cfg.idleSurchargeUsdPerGpuHour }
  const ledger = applyChargeBasis(fleet.rows, basis)
  const warnings = period.toMs > nowMs ? [`the period is not over: charged up to now (${new Date(nowMs).toISOString()})`] : []
  let rows = ledger
  const rowsCents = ledger.reduce((n, r) => n + r.costCents, 0)
  let reconciliation: { reconciled: boolean; policy?: IdleSharePolicy } & Record<string, unknown> = { scope: 'fleet', ...fleet.reconciliation, reconciled: fleet.reconciliation.reconciled && rowsCents === Math.round(fleet.reconciliation.fleetCostUsd * 100) }
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
  return { data, warnings, table: chargeTable(data, rows), headers: chargeHeaders(reconciliation.reconciled, warnings) }
}

/** A team-scoped caller's rows: its team row, or that row split by the asked key (summing to it to the cent). */
async function teamRows(deps: RouteDeps, team: string, by: GroupKey, span: { fromMs: number; toMs: number; nowMs: number }, upTo: TimeWindow, fleetRows: ChargeRow[], ledger: LedgerRow[], policy: IdleSharePolicy, basis: BasisPolicy) {
  const parent = fleetRows.find((r) => r.key === team)
  const onBasis = ledger.find((r) => r.key === team)
  const total = onBasis?.costCents ?? 0
  let rows: LedgerRow[] = onBasis ? [onBasis] : []
  if (by !== 'team' && parent && onBasis) {
    const filters: Filters = { team: [team] }
    const [uses, used] = await Promise.all([allocationCost(deps.query, { ...span, by, filters }), usedByKey(deps.query, upTo, span.nowMs, by, filters)])
    rows = splitOnBasis(onBasis, splitRow(parent, chargeInputs(costByKey(uses, deps.config.analytics.rateCard), used), policy), basis)
  }
  const rowsCents = rows.reduce((n, r) => n + r.costCents, 0)
  return {
    rows,
    reconciliation: { scope: `team '${team}'`, reconciled: rowsCents === total, teamCostUsd: total / 100, rowsCostUsd: rowsCents / 100, differenceCents: rowsCents - total, policy },
  }
}

/** The key of the CSV's last row: the sum of the rows, which reconciles to the fleet's cost (a team's cost for a team token). */
const TOTAL_ROW = '__total__'

const CHARGE_HOURS = ['allocatedGpuHours', 'usedGpuHours', 'idleGpuHours', 'utilUnknownGpuHours'] as const
const CHARGE_MONEY = ['allocatedCostUsd', 'idleShareCostUsd', 'idleAllocatedCostUsd', 'basisAdjustmentUsd', 'costUsd'] as const
/** What a chargeback was computed for, repeated on every CSV row so a file stands on its own. */
type ChargeTerms = { period: { from: string; to: string }; by: string; idleShare: string; chargeBasis: string; idleSurchargeUsdPerGpuHour: number }

/**
 * The chargeback as CSV for finance: the period and the terms (idle share,
 * basis, surcharge) on every row, GPU-hours, money with two decimals and in
 * whole cents, then the `__total__` row. effectiveGpuHours is left out: on
 * every row it equals usedGpuHours, whatever the basis.
 */
function chargeTable(terms: ChargeTerms, rows: readonly LedgerRow[]): Table {
  const { period, by, idleShare, chargeBasis, idleSurchargeUsdPerGpuHour } = terms
  const common = { from: period.from, to: period.to, idleShare, chargeBasis, idleSurchargeUsdPerGpuHour }
  const line = (r: LedgerRow) => ({
    ...common,
    [by]: r.key,
    ...Object.fromEntries(CHARGE_HOURS.map((c) => [c, r[c]])),
    ...Object.fromEntries(CHARGE_MONEY.map((c) => [c, r[c].toFixed(2)])),
    costCents: r.costCents,
  })
  return {
    columns: [...Object.keys(common), by, ...CHARGE_HOURS, ...CHARGE_MONEY, 'costCents'],
    rows: [...rows.map(line), { ...common, [by]: TOTAL_ROW, ...totals(rows) }],
  }
}

/**
 * The rows summed, money in whole cents, so costCents is the fleet's cost
 * (a team's for a team token) when the rows reconcile. Idle GPU-hours and
 * idle-while-allocated cost stay blank: `__idle__` counts unallocated
 * capacity and `__idle_allocated__` repeats the owners' idle, so their sum
 * means nothing.
 */
function totals(rows: readonly LedgerRow[]): Record<string, unknown> {
  const sum = (f: (r: LedgerRow) => number) => rows.reduce((n, r) => n + f(r), 0)
  const usd = (c: (typeof CHARGE_MONEY)[number]) => (sum((r) => Math.round(r[c] * 100)) / 100).toFixed(2)
  const used = rows.filter((r) => r.usedGpuHours !== null)
  const costCents = sum((r) => r.costCents)
  return {
    allocatedGpuHours: sum((r) => r.allocatedGpuHours),
    usedGpuHours: used.length > 0 ? used.reduce((n, r) => n + (r.usedGpuHours ?? 0), 0) : null,
    idleGpuHours: null,
    utilUnknownGpuHours: sum((r) => r.utilUnknownGpuHours),
    allocatedCostUsd: usd('allocatedCostUsd'),
    idleShareCostUsd: usd('idleShareCostUsd'),
    idleAllocatedCostUsd: null,
    basisAdjustmentUsd: usd('basisAdjustmentUsd'),
    costUsd: (costCents / 100).toFixed(2),
    costCents,
  }
}

/** A header value in ASCII: JSON with every non-ASCII character escaped (JSON already escapes newlines and other controls). */
const asciiJson = (value: unknown): string => JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

/** Response headers that carry what a CSV body cannot: whether the rows reconcile, and the warnings as a JSON array. */
export function chargeHeaders(reconciled: boolean, warnings: readonly string[]): Record<string, string> {
  return { 'X-Gpuscope-Reconciled': String(reconciled), 'X-Gpuscope-Warnings': asciiJson(warnings) }
}
