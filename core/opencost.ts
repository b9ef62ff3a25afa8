/**
 * OpenCost-compatible allocation (GET /allocation/compute): OpenCost's query
 * words (window, step, aggregate, accumulate, idle, shareIdle, idleByNode)
 * turned into time sets and row keys, and gpuscope's priced GPU-hours turned
 * into OpenCost's allocation sets. Money follows core/chargeback.ts: allocation
 * is charged at its nodes' rates and apportioned in whole cents, the rest of
 * the capacity cost is `__idle__` (or shared), so every set's rows add up to
 * the fleet's capacity cost for the set to the cent. Pure.
 */
import { apportionCents, costByKey, IDLE_ROW, UNATTRIBUTED_ROW, type PricedUse, type RateCardLike } from './chargeback.js'
import { InputError } from './errors.js'
import { utilFigure, type UtilRow } from './usage.js'
import { formatDuration, parseDuration, parseWindow, type TimeWindow } from './windows.js'

const MINUTE_MS = 60_000
const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
const WEEK_MS = 7 * DAY_MS

/** Interval columns an OpenCost aggregate reads (workload name and kind make OpenCost's `controller`). */
export type OcColumn = 'cluster' | 'node' | 'namespace' | 'workloadKind' | 'workloadName' | 'pod' | 'team' | 'project' | 'user'

/** One `aggregate` term: what the client wrote, the property it names, and the columns its value comes from. */
export interface AggregateTerm {
  input: string
  property: 'cluster' | 'node' | 'namespace' | 'controllerKind' | 'controller' | 'pod' | 'label' | 'annotation' | 'team' | 'owner'
  columns: OcColumn[]
  /** For label:<k> / annotation:<k>: the key as OpenCost sanitizes it (non [A-Za-z0-9_] to `_`). */
  key?: string
}

/** The label (or annotation) keys gpuscope reads into its team, project and user columns (config.collector.kubernetes.labels). */
export interface LabelColumns {
  team: readonly string[]
  project: readonly string[]
  user: readonly string[]
}

/** OpenCost's default aggregation without `container`, which gpuscope does not record (it keeps pods). */
const DEFAULT_AGGREGATE = 'cluster,node,namespace,pod'
const PLAIN: Record<string, Pick<AggregateTerm, 'property' | 'columns'>> = {
  cluster: { property: 'cluster', columns: ['cluster'] },
  node: { property: 'node', columns: ['node'] },
  namespace: { property: 'namespace', columns: ['namespace'] },
  controllerkind: { property: 'controllerKind', columns: ['workloadKind'] },
  controller: { property: 'controller', columns: ['workloadKind', 'workloadName'] },
  pod: { property: 'pod', columns: ['pod'] },
  // OpenCost's aliased-label properties that have a gpuscope column.
  team: { property: 'team', columns: ['team'] },
  owner: { property: 'owner', columns: ['user'] },
}
const SUPPORTED = 'cluster, node, namespace, controllerKind, controller, pod, team, owner, label:<key> and annotation:<key>'

/** OpenCost's label-name sanitizing (Prometheus label names): every character outside [A-Za-z0-9_] becomes `_`. */
export const sanitizeLabel = (key: string): string => key.replace(/[^A-Za-z0-9_]/g, '_')

/**
 * Parses `aggregate` (comma-separated; OpenCost's default when empty). A
 * label:<k> or annotation:<k> maps to the team, project or user column when
 * <k> (raw or sanitized) is one of the keys configured for it; any other
 * label, `container`, `service`, `all` and the rest throw InputError.
 */
export function parseAggregate(text: string | undefined, labels: LabelColumns): AggregateTerm[] {
  const raw = (text ?? '').trim() === '' ? DEFAULT_AGGREGATE : (text as string)
  const terms: AggregateTerm[] = []
  for (const part of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const plain = PLAIN[part.toLowerCase()]
    const labelled = /^(label|annotation):(.+)$/.exec(part)
    if (plain) terms.push({ input: part, ...plain })
    else if (labelled) terms.push(labelTerm(part, labelled[1] as 'label' | 'annotation', labelled[2]!.trim(), labels))
    else throw new InputError(`Invalid 'aggregate' parameter: '${part}' is not supported: gpuscope aggregates by ${SUPPORTED}`)
  }
  return terms
}

function labelTerm(input: string, property: 'label' | 'annotation', key: string, labels: LabelColumns): AggregateTerm {
  const wanted = sanitizeLabel(key)
  for (const column of ['team', 'project', 'user'] as const) {
    if (labels[column].some((k) => k === key || sanitizeLabel(k) === wanted)) return { input, property, columns: [column], key: wanted }
  }
  const known = [...labels.team, ...labels.project, ...labels.user].map((k) => `${property}:${k}`).join(', ')
  throw new InputError(
    `Invalid 'aggregate' parameter: ${property} '${key}' is not supported: gpuscope keeps only the team, project and user labels (${known}; sanitized forms accepted)`,
  )
}

/** The columns to group by for the terms, in order, each once; `team` first when a team-scoped caller needs its rows picked out. */
export function columnsOf(terms: readonly AggregateTerm[], withTeam: boolean): OcColumn[] {
  return [...new Set<OcColumn>([...(withTeam ? (['team'] as const) : []), ...terms.flatMap((t) => t.columns)])]
}

/** OpenCost's boolean query values (Go strconv.ParseBool); `fallback` when absent. */
export function parseBool(name: string, text: string | undefined, fallback: boolean): boolean {
  if (text === undefined || text === '') return fallback
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false
  throw new InputError(`Invalid '${name}' parameter: '${text}' is not a boolean (true or false)`)
}

/** How sets are accumulated: none (one per step), all (one), or one per UTC calendar hour, day, week (from Sunday), month or quarter. */
export type Accumulate = 'none' | 'all' | 'hour' | 'day' | 'week' | 'month' | 'quarter'
const PERIODS = ['hour', 'day', 'week', 'month', 'quarter'] as const

/** Reads `accumulate` (a boolean or a period) and `accumulateBy` (a period, all or none, which wins). */
export function parseAccumulate(accumulate: string | undefined, accumulateBy: string | undefined): Accumulate {
  const period = (name: string, text: string): Accumulate | undefined => {
    const t = text.trim().toLowerCase()
    if (t === 'all' || t === 'none' || (PERIODS as readonly string[]).includes(t)) return t as Accumulate
    if (name === 'accumulate') return parseBool(name, text.trim(), false) ? 'all' : 'none'
    throw new InputError(`Invalid 'accumulateBy' parameter: '${text}': expected all, none, ${PERIODS.join(', ')}`)
  }
  if (accumulateBy !== undefined && accumulateBy.trim() !== '') return period('accumulateBy', accumulateBy)!
  if (accumulate === undefined || accumulate.trim() === '') return 'none'
  try {
    return period('accumulate', accumulate)!
  } catch {
    throw new InputError(`Invalid 'accumulate' parameter: '${accumulate}': expected true, false, all, ${PERIODS.join(', ')}`)
  }
}

/** Reads `step`: a duration (1h, 1d, 90m, 1h30m) or hour, day, week; it must be a whole number of minutes (utilization comes from minute rollups). */
export function parseStep(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined
  const named: Record<string, number> = { hour: HOUR_MS, day: DAY_MS, week: WEEK_MS }
  const t = text.trim().toLowerCase()
  let ms = named[t]
  if (ms === undefined) {
    if (t === 'month' || t === 'quarter') throw new InputError(`Invalid step parameter: '${text}': use accumulate=${t} for calendar ${t}s`)
    try {
      ms = parseDuration(t)
    } catch (err) {
      throw new InputError(`Invalid step parameter: '${text}': expected a duration like 1h, 1d or 90m, or hour, day, week`, { cause: err })
    }
  }
  if (ms % MINUTE_MS !== 0) throw new InputError(`Invalid step parameter: '${text}': it must be a whole number of minutes`)
  return ms
}

const dayStart = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS
const monthStart = (ms: number, add = 0) => {
  const d = new Date(ms)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + add, 1)
}
const WINDOW_FORMS =
  'expected today, yesterday, week, lastweek, month, lastmonth, a duration like 30m, 24h, 7d or 2w (optionally "7d offset 1d"), ' +
  'a pair of unix seconds "1586822400,1586908800" or of RFC 3339 times, or a gpuscope month (2026-09), quarter (2026-Q3) or day'

/**
 * Parses an OpenCost `window` in UTC: named windows (today, yesterday, week
 * and lastweek from Sunday, month, lastmonth); `<n><m|h|d|w>` rounded forward
 * as OpenCost does (24h ends at the next whole hour, 7d at the next UTC
 * midnight); `<n><unit> offset <n><unit>`; unix-second or RFC 3339 pairs; and
 * gpuscope's calendar forms. The end may lie after now: data stops at now.
 */
export function parseOpenCostWindow(input: string | undefined, nowMs: number): TimeWindow {
  const text = (input ?? '').trim()
  const fail = (why?: string) => new InputError(`Invalid 'window' parameter: '${input ?? ''}'${why ? `: ${why}` : ''}; ${WINDOW_FORMS}`)
  if (text === '') throw new InputError(`Invalid 'window' parameter: window is required; ${WINDOW_FORMS}`)
  const today = dayStart(nowMs)
  const sunday = today - new Date(nowMs).getUTCDay() * DAY_MS
  const named: Record<string, TimeWindow> = {
    today: { fromMs: today, toMs: today + DAY_MS },
    yesterday: { fromMs: today - DAY_MS, toMs: today },
    week: { fromMs: sunday, toMs: nowMs },
    lastweek: { fromMs: sunday - WEEK_MS, toMs: sunday },
    month: { fromMs: monthStart(nowMs), toMs: nowMs },
    lastmonth: { fromMs: monthStart(nowMs, -1), toMs: monthStart(nowMs) },
  }
  if (named[text]) return named[text]!
  const units: Record<string, number> = { m: MINUTE_MS, h: HOUR_MS, d: DAY_MS, w: WEEK_MS }
  const dur = /^(\d+)([mhdw])$/.exec(text)
  if (dur) {
    const n = Number(dur[1])
    if (n <= 0) throw fail('the duration must be longer than 0')
    if (dur[2] === 'w') return { fromMs: dayStart(nowMs - n * WEEK_MS) + DAY_MS, toMs: today + DAY_MS }
    const unit = units[dur[2]!]!
    const toMs = Math.floor(nowMs / unit) * unit + unit
    return { fromMs: toMs - n * unit, toMs }
  }
  const offset = /^(\d+)([mhdw]) offset (\d+)([mhdw])$/.exec(text)
  if (offset) {
    const toMs = nowMs - Number(offset[3]) * units[offset[4]!]!
    const fromMs = toMs - Number(offset[1]) * units[offset[2]!]!
    if (fromMs >= toMs) throw fail('the duration must be longer than 0')
    return { fromMs, toMs }
  }
  // A dash pair of short numbers is a gpuscope calendar form (2026-06), not unix seconds.
  const unix = /^(\d+),(\d+)$/.exec(text) ?? /^(\d{5,})-(\d{5,})$/.exec(text)
  if (unix) {
    const [fromMs, toMs] = [Number(unix[1]) * 1000, Number(unix[2]) * 1000]
    if (fromMs >= toMs) throw fail('the start must be before the end')
    return { fromMs, toMs }
  }
  try {
    return parseWindow(text, nowMs)
  } catch (err) {
    const why = err instanceof InputError ? /^bad window '[^']*': (.*?)(; expected .*)?$/.exec(err.message)?.[1] : undefined
    throw fail(why && !why.startsWith('expected') ? why : undefined)
  }
}

/** The time sets of a query and the bucket grid the store sums by: every set boundary inside the window lies on a grid boundary. */
export interface SetPlan {
  window: TimeWindow
  /** Each set's window as OpenCost reports it (the last may end after now); sets that start at or after now are left out. */
  sets: TimeWindow[]
  grid: { originMs: number; stepMs: number }
  /** The step between sets in ms (the window's span when there is one set). */
  stepMs: number
}

const GRID_STEPS = [DAY_MS, HOUR_MS, 30 * MINUTE_MS, 15 * MINUTE_MS, 10 * MINUTE_MS, 5 * MINUTE_MS, MINUTE_MS]

function nextBoundary(period: (typeof PERIODS)[number], t: number): number {
  if (period === 'hour') return Math.floor(t / HOUR_MS) * HOUR_MS + HOUR_MS
  if (period === 'day') return dayStart(t) + DAY_MS
  if (period === 'week') return dayStart(t) + (7 - new Date(t).getUTCDay()) * DAY_MS
  if (period === 'month') return monthStart(t, 1)
  const d = new Date(t)
  return Date.UTC(d.getUTCFullYear(), Math.floor(d.getUTCMonth() / 3) * 3 + 3, 1)
}

/**
 * Splits the window into sets: one per step from the window's start (the
 * last cut at the window's end), one for the whole window (accumulate all, or
 * no step), or one per UTC calendar period cut to the window. Throws
 * InputError when the grid would need more than `maxBuckets` buckets.
 */
export function planSets(window: TimeWindow, stepMs: number | undefined, accumulate: Accumulate, nowMs: number, maxBuckets: number): SetPlan {
  const span = window.toMs - window.fromMs
  const sets: TimeWindow[] = []
  let grid: SetPlan['grid']
  let step = span
  if (accumulate !== 'none' && accumulate !== 'all') {
    for (let t = window.fromMs; t < window.toMs; ) {
      const next = Math.min(nextBoundary(accumulate, t), window.toMs)
      sets.push({ fromMs: t, toMs: next })
      t = next
    }
    const g = accumulate === 'hour' ? HOUR_MS : DAY_MS
    grid = { originMs: Math.floor(window.fromMs / g) * g, stepMs: g }
    step = { hour: HOUR_MS, day: DAY_MS, week: WEEK_MS, month: 30 * DAY_MS, quarter: 91 * DAY_MS }[accumulate]
  } else if (accumulate === 'none' && stepMs !== undefined && stepMs < span) {
    for (let t = window.fromMs; t < window.toMs; t += stepMs) sets.push({ fromMs: t, toMs: Math.min(t + stepMs, window.toMs) })
    grid = { originMs: window.fromMs, stepMs: GRID_STEPS.find((g) => stepMs % g === 0) ?? MINUTE_MS }
    step = stepMs
  } else {
    // One set: daily buckets for long windows and hourly for short ones, as /chargeback reads utilization.
    sets.push({ ...window })
    const g = span >= 2 * DAY_MS ? DAY_MS : HOUR_MS
    grid = { originMs: Math.floor(window.fromMs / g) * g, stepMs: g }
  }
  const buckets = Math.ceil((Math.min(window.toMs, nowMs) - grid.originMs) / grid.stepMs)
  if (buckets > maxBuckets) {
    throw new InputError(`Invalid step parameter: the window needs ${buckets} buckets of ${formatDuration(grid.stepMs)}, more than ${maxBuckets}: use a larger step or a shorter window`)
  }
  return { window, sets: sets.filter((s) => s.fromMs < nowMs), grid, stepMs: step }
}

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

/** Used and unknown GPU-hours per group and set: each bucket's allocation × its utilization, unknown where the bucket has no sample. */
function addUtilization(plan: SetPlan, groups: Array<Map<string, GroupAcc>>, allocGpuMs: Map<string, number>, util: readonly UtilRow[]): void {
  const utilBy = new Map(util.map((r) => [key([key(r.group), r.bucketMs]), r]))
  for (const [bk, gpuMs] of allocGpuMs) {
    const [gk, bucketMs] = JSON.parse(bk) as [string, number]
    const g = groups[setIndex(plan.sets, plan.window.fromMs, bucketMs)]?.get(gk)
    if (!g) continue
    const figure = utilFigure(utilBy.get(bk))
    if (figure.utilRatio === null) g.unknownGpuHours += gpuMs / HOUR_MS
    else {
      g.usedGpuHours += (gpuMs / HOUR_MS) * figure.utilRatio
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
