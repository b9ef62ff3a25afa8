/**
 * OpenCost's allocation sets from gpuscope's priced GPU-hours. Money follows
 * core/chargeback.ts: allocation is charged at its nodes' rates and
 * apportioned in whole cents, the rest of the capacity cost is `__idle__` (or
 * shared), so every set's rows add up to the fleet's capacity cost for the set
 * to the cent. Pure.
 */
import { apportionCents, costByKey, IDLE_ROW, UNATTRIBUTED_ROW, type PricedUse, type RateCardLike } from './chargeback.js'
import type { AggregateTerm, OcColumn } from './opencost.js'
import type { SetPlan } from './opencostPlan.js'
import { sampledGpuMsOf, utilFigure, type UtilRow } from './usage.js'
import type { TimeWindow } from './windows.js'

const HOUR_MS = 3_600_000

/** Allocated GPU-milliseconds of one group, on one idle scope (cluster, or cluster and node), in one bucket, at one price. */
export interface OcAllocUse {
  group: string[]
  cluster: string
  /** The node when idle is kept by node, else ''. */
  scopeNode: string
  bucketMs: number
  gpuMs: number
  gpuModel: string
  pool: string
  provider: string
  cloudUsdPerGpuHour: number | null
  firstMs: number
  lastMs: number
  /** Whether any request was a fraction of a GPU (MIG slice or shared GPU). */
  shared: boolean
}

/** Capacity GPU-milliseconds of one idle scope in one bucket at one price. */
export type OcCapacityUse = Omit<OcAllocUse, 'group' | 'firstMs' | 'lastMs' | 'shared'>

/** How idle capacity is shown: its own rows (idle), shared into the rows (shareIdle, weighted by cost or even), per cluster or per node. */
export interface IdleOptions {
  include: boolean
  share: boolean
  split: 'weighted' | 'even'
  byNode: boolean
}

/** One OpenCost allocation of a set: money in whole cents, utilization where sampled. */
export interface OcRow {
  name: string
  /** The group's column values (columnsOf order); [] for idle rows. */
  group: string[]
  idle: boolean
  properties: Record<string, unknown>
  startMs: number
  endMs: number
  gpuHours: number
  costCents: number
  /** The part of costCents that is shared idle cost (OpenCost's gpuCostIdle). */
  idleCents: number
  /** Allocated GPU-hours × utilization over the buckets with samples; null when no bucket has one. */
  usedGpuHours: number | null
  utilUnknownGpuHours: number
  shared: boolean | null
}

/** One set: its window and rows (sorted by name, idle rows last). */
export interface OcSet extends TimeWindow {
  rows: OcRow[]
}

/** The store's reads for a plan. */
export interface OcInputs {
  allocation: readonly OcAllocUse[]
  capacity: readonly OcCapacityUse[]
  util: readonly UtilRow[]
}

interface GroupAcc {
  group: string[]
  gpuMs: number
  usd: number
  byScope: Map<string, { usd: number; gpuMs: number }>
  firstMs: number
  lastMs: number
  shared: boolean
  usedGpuHours: number
  unknownGpuHours: number
  known: boolean
}

interface ScopeAcc {
  cluster: string
  node: string
  capUsd: number
  capGpuMs: number
  allocUsd: number
  allocGpuMs: number
}

const key = (v: readonly unknown[]): string => JSON.stringify(v)
const cents = (usd: number) => Math.round(usd * 100)

function setIndex(sets: readonly TimeWindow[], fromMs: number, bucketMs: number): number {
  const t = Math.max(bucketMs, fromMs)
  let lo = 0
  let hi = sets.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const s = sets[mid]!
    if (t < s.fromMs) hi = mid - 1
    else if (t >= s.toMs) lo = mid + 1
    else return mid
  }
  return -1
}

/** Prices every use with the rate card (or its cloud price) and returns its cost in USD, keyed like the input. */
function priced<T extends Omit<PricedUse, 'key'>>(uses: readonly T[], card: RateCardLike): number[] {
  const costs = costByKey(uses.map((u, i) => ({ ...u, key: String(i) })), card)
  return uses.map((_, i) => costs.get(String(i))?.costUsd ?? 0)
}

/**
 * Builds every set's rows: groups named from the aggregate terms, charged at
 * their allocation's cost, and the unallocated capacity cost of each idle
 * scope as `__idle__` or shared into the groups of that scope. A set's rows
 * (idle included, not shared) sum to its capacity cost to the cent.
 */
export function allocationSets(plan: SetPlan, terms: readonly AggregateTerm[], columns: readonly OcColumn[], inputs: OcInputs, idle: IdleOptions, card: RateCardLike, nowMs: number): { sets: OcSet[]; warnings: string[] } {
  const groups = plan.sets.map(() => new Map<string, GroupAcc>())
  const scopes = plan.sets.map(() => new Map<string, ScopeAcc>())
  const scopeOf = (i: number, cluster: string, node: string) => {
    const k = key([cluster, node])
    return scopes[i]!.get(k) ?? scopes[i]!.set(k, { cluster, node, capUsd: 0, capGpuMs: 0, allocUsd: 0, allocGpuMs: 0 }).get(k)!
  }
  const allocGpuMsByBucket = new Map<string, number>()
  const allocUsd = priced(inputs.allocation, card)
  inputs.allocation.forEach((u, n) => {
    const i = setIndex(plan.sets, plan.window.fromMs, u.bucketMs)
    if (i < 0) return
    const gk = key(u.group)
    const g = groups[i]!.get(gk) ?? groups[i]!.set(gk, { group: u.group, gpuMs: 0, usd: 0, byScope: new Map(), firstMs: Infinity, lastMs: -Infinity, shared: false, usedGpuHours: 0, unknownGpuHours: 0, known: false }).get(gk)!
    const sk = key([u.cluster, u.scopeNode])
    const part = g.byScope.get(sk) ?? g.byScope.set(sk, { usd: 0, gpuMs: 0 }).get(sk)!
    const usd = allocUsd[n]!
    g.gpuMs += u.gpuMs
    g.usd += usd
    part.usd += usd
    part.gpuMs += u.gpuMs
    g.firstMs = Math.min(g.firstMs, u.firstMs)
    g.lastMs = Math.max(g.lastMs, u.lastMs)
    g.shared ||= u.shared
    const scope = scopeOf(i, u.cluster, u.scopeNode)
    scope.allocUsd += usd
    scope.allocGpuMs += u.gpuMs
    const bk = key([gk, u.bucketMs])
    allocGpuMsByBucket.set(bk, (allocGpuMsByBucket.get(bk) ?? 0) + u.gpuMs)
  })
  const capUsd = priced(inputs.capacity, card)
  inputs.capacity.forEach((u, n) => {
    const i = setIndex(plan.sets, plan.window.fromMs, u.bucketMs)
    if (i < 0) return
    const scope = scopeOf(i, u.cluster, u.scopeNode)
    scope.capUsd += capUsd[n]!
    scope.capGpuMs += u.gpuMs
  })
  addUtilization(plan, groups, allocGpuMsByBucket, inputs.util)
  const warnings = new Set<string>()
  const sets = plan.sets.map((w, i) => ({ ...w, rows: setRows(w, terms, columns, [...groups[i]!.values()], [...scopes[i]!.values()], idle, nowMs, warnings) }))
  return { sets, warnings: [...warnings] }
}

/** Used and unknown GPU-hours per group and set: each bucket's sampled allocation × its utilization, the rest unknown (as /usage counts it). */
function addUtilization(plan: SetPlan, groups: Array<Map<string, GroupAcc>>, allocGpuMs: Map<string, number>, util: readonly UtilRow[]): void {
  const utilBy = new Map(util.map((r) => [key([key(r.group), r.bucketMs]), r]))
  for (const [bk, gpuMs] of allocGpuMs) {
    const [gk, bucketMs] = JSON.parse(bk) as [string, number]
    const g = groups[setIndex(plan.sets, plan.window.fromMs, bucketMs)]?.get(gk)
    if (!g) continue
    const row = utilBy.get(bk)
    const figure = utilFigure(row)
    const sampledGpuMs = figure.utilRatio === null ? 0 : sampledGpuMsOf(gpuMs, row)
    g.unknownGpuHours += (gpuMs - sampledGpuMs) / HOUR_MS
    if (sampledGpuMs > 0) {
      g.usedGpuHours += (sampledGpuMs / HOUR_MS) * (figure.utilRatio as number)
      g.known = true
    }
  }
}

/** A group's row name (OpenCost joins the terms' values with `/`; an empty value is `__unallocated__`) and its properties. */
function nameOf(terms: readonly AggregateTerm[], columns: readonly OcColumn[], group: readonly string[]): { name: string; properties: Record<string, unknown> } {
  const value = (c: OcColumn) => group[columns.indexOf(c)] ?? ''
  const names: string[] = []
  const properties: Record<string, unknown> = {}
  const labels: Record<string, string> = {}
  for (const t of terms) {
    const v = value(t.columns[t.columns.length - 1]!)
    if (t.property === 'controller') {
      const kind = value('workloadKind')
      names.push(v === '' ? UNATTRIBUTED_ROW : kind === '' ? v : `${kind}:${v}`)
      if (v !== '') Object.assign(properties, { controller: v, ...(kind !== '' ? { controllerKind: kind } : {}) })
      continue
    }
    names.push(v === '' ? UNATTRIBUTED_ROW : v)
    if (v === '') continue
    if (t.property === 'label' || t.property === 'annotation') labels[t.key!] = v
    else if (t.property === 'team' || t.property === 'owner') labels[t.property] = v
    else properties[t.property] = v
  }
  if (Object.keys(labels).length > 0) properties.labels = labels
  return { name: names.join('/'), properties }
}

/** Splits cents among weights (negative totals mirrored), by largest remainder; the rows sum to the total exactly. */
function split(total: number, weights: readonly number[]): number[] {
  const w = weights.map((x) => Math.max(0, x))
  return total >= 0 ? apportionCents(total, w) : apportionCents(-total, w).map((c) => -c)
}

function setRows(w: TimeWindow, terms: readonly AggregateTerm[], columns: readonly OcColumn[], accs: GroupAcc[], scopeList: ScopeAcc[], idle: IdleOptions, nowMs: number, warnings: Set<string>): OcRow[] {
  accs.sort((a, b) => (key(a.group) < key(b.group) ? -1 : 1))
  scopeList.sort((a, b) => (key([a.cluster, a.node]) < key([b.cluster, b.node]) ? -1 : 1))
  const totalCents = cents(scopeList.reduce((n, s) => n + s.capUsd, 0))
  const allocatedCents = cents(accs.reduce((n, g) => n + g.usd, 0))
  const allocated = apportionCents(allocatedCents, accs.map((g) => g.usd))
  const scopeIdle = split(totalCents - allocatedCents, scopeList.map((s) => s.capUsd - s.allocUsd))
  const shares = accs.map(() => 0)
  const leftover = scopeList.map((_, j) => (idle.include ? scopeIdle[j]! : 0))
  if (idle.include && idle.share) {
    scopeList.forEach((s, j) => {
      const sk = key([s.cluster, s.node])
      const members = accs.map((g, gi) => ({ gi, part: g.byScope.get(sk) })).filter((m) => m.part && m.part.gpuMs > 0)
      const weights = members.map((m) => (idle.split === 'even' ? 1 : m.part!.usd))
      if (members.length === 0 || weights.every((x) => x <= 0)) {
        if (scopeIdle[j] !== 0) warnings.add(`idle cost of ${s.node === '' ? `cluster '${s.cluster}'` : `node '${s.node}'`} has no allocation to be shared with: it stays in ${IDLE_ROW}`)
        return
      }
      split(scopeIdle[j]!, weights).forEach((c, m) => (shares[members[m]!.gi]! += c))
      leftover[j] = 0
    })
  }
  const rows: OcRow[] = accs.map((g, gi) => ({
    ...nameOf(terms, columns, g.group),
    group: g.group,
    idle: false,
    startMs: g.firstMs,
    endMs: g.lastMs,
    gpuHours: g.gpuMs / HOUR_MS,
    costCents: allocated[gi]! + shares[gi]!,
    idleCents: shares[gi]!,
    usedGpuHours: g.known ? g.usedGpuHours : null,
    utilUnknownGpuHours: g.unknownGpuHours,
    shared: g.shared,
  }))
  rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  if (idle.include) rows.push(...idleRows(w, scopeList, leftover, idle, nowMs))
  return rows
}

/** The `__idle__` rows: one for the fleet (idle kept by cluster), or one per node (idleByNode), named `<cluster>/<node>/__idle__`. */
function idleRows(w: TimeWindow, scopeList: ScopeAcc[], leftover: number[], idle: IdleOptions, nowMs: number): OcRow[] {
  const base = { group: [], idle: true, startMs: w.fromMs, endMs: Math.min(w.toMs, nowMs), usedGpuHours: null, utilUnknownGpuHours: 0, shared: null, idleCents: 0 }
  const hours = (s: ScopeAcc) => (s.capGpuMs - s.allocGpuMs) / HOUR_MS
  if (!idle.byNode) {
    const kept = scopeList.filter((_, j) => !idle.share || leftover[j] !== 0)
    if (idle.share && kept.length === 0) return []
    const clusters = [...new Set(kept.map((s) => s.cluster))]
    return [{
      ...base, name: IDLE_ROW, properties: clusters.length === 1 ? { cluster: clusters[0] } : {},
      gpuHours: kept.reduce((n, s) => n + hours(s), 0), costCents: leftover.reduce((n, c) => n + c, 0),
    }]
  }
  return scopeList.flatMap((s, j) => {
    if (leftover[j] === 0 && (idle.share || hours(s) === 0)) return []
    return [{ ...base, name: `${s.cluster}/${s.node}/${IDLE_ROW}`, properties: { cluster: s.cluster, node: s.node }, gpuHours: hours(s), costCents: leftover[j]! }]
  })
}
