/**
 * Demand series from the store: hourly demand (allocation + pending demand,
 * DESIGN.md, Definitions) and capacity for one series, named by a selector
 * such as `cluster=helios-earth`, `pool=vcXYZ`, `gpuModel=V100,team=vision`
 * or `fleet`. Values are time-weighted mean GPUs per UTC hour from exact
 * intervals; only whole hours before now are read, and hours before the
 * store first saw the fleet are left out (unknown, not zero).
 */
import { InputError, NotFoundError } from '../core/errors'
import type { QueryFn } from '../core/ports'
import { allocationHourly, capacityHourly, firstSeenMs, pendingHourly, seriesKeys, type BucketRow, type DemandFilter } from '../store/queries/demand'
import { HOUR_MS, type HourlySeries } from './series'

/** Keys a selector may filter on. */
export const SERIES_KEYS = ['cluster', 'pool', 'gpuModel', 'team'] as const

/** One selector key. */
export type SeriesKey = (typeof SERIES_KEYS)[number]

/** A parsed selector: the values per key (AND across keys, OR within one key). */
export type Selector = Partial<Record<SeriesKey, string[]>>

/** Hourly demand and capacity of one series. */
export interface DemandSeries {
  selector: string
  startMs: number
  allocated: number[]
  pending: number[]
  /** allocated + pending, the series forecasting predicts. */
  demand: number[]
  /** Capacity per hour; null for a series that selects a team (capacity belongs to nodes, not teams). */
  capacity: number[] | null
  warnings: string[]
}

const FILTER_FIELD: Record<SeriesKey, keyof DemandFilter> = { cluster: 'clusters', pool: 'pools', gpuModel: 'gpuModels', team: 'teams' }

/** Parses `key=value[,key=value...]` (a repeated key means either value) or `fleet`; InputError names the bad part. */
export function parseSelector(text: string): Selector {
  const trimmed = text.trim()
  if (trimmed === '' || trimmed === 'fleet') return {}
  const out: Selector = {}
  for (const part of trimmed.split(',')) {
    const m = /^\s*([A-Za-z]+)\s*=\s*(.+?)\s*$/.exec(part)
    if (!m) throw new InputError(`bad series '${text}': '${part}' is not key=value; expected e.g. cluster=helios-earth or cluster=a,team=b, or fleet`)
    const key = m[1] as SeriesKey
    if (!SERIES_KEYS.includes(key)) throw new InputError(`bad series '${text}': unknown key '${m[1]}'; keys are ${SERIES_KEYS.join(', ')}`)
    out[key] = [...(out[key] ?? []), m[2]!]
  }
  return out
}

/** The canonical text of a selector (keys in SERIES_KEYS order). */
export function formatSelector(sel: Selector): string {
  const parts = SERIES_KEYS.flatMap((k) => (sel[k] ?? []).map((v) => `${k}=${v}`))
  return parts.length === 0 ? 'fleet' : parts.join(',')
}

/** The store filter of a parsed selector. */
export const toFilter = (sel: Selector): DemandFilter => {
  const f: DemandFilter = { clusters: [], pools: [], gpuModels: [], teams: [] }
  for (const k of SERIES_KEYS) f[FILTER_FIELD[k]] = sel[k] ?? []
  return f
}

/** The hour grid of a read: from the later of the first sighting and `fromMs` (rounded up), to the last whole hour before min(toMs, now). */
export function hourGrid(fromMs: number, toMs: number, nowMs: number, firstMs: number | undefined): { fromMs: number; toMs: number } | undefined {
  if (firstMs === undefined) return undefined
  const from = Math.ceil(Math.max(fromMs, firstMs) / HOUR_MS) * HOUR_MS
  const to = Math.floor(Math.min(toMs, nowMs) / HOUR_MS) * HOUR_MS
  return to > from ? { fromMs: from, toMs: to } : undefined
}

/** Mean GPUs per hour of a grid from bucket sums; a bucket the store did not return held 0 GPUs. */
export function hourlyMeans(rows: readonly BucketRow[], grid: { fromMs: number; toMs: number }): number[] {
  const n = (grid.toMs - grid.fromMs) / HOUR_MS
  const out = new Array<number>(n).fill(0)
  for (const r of rows) {
    const i = (r.bucketMs - grid.fromMs) / HOUR_MS
    if (i >= 0 && i < n) out[i] = r.gpuMs / HOUR_MS
  }
  return out
}

/**
 * Loads one series for [fromMs, toMs) up to now; throws NotFoundError when
 * the store has no whole hour of it, InputError for a bad selector.
 */
export async function loadDemand(query: QueryFn, selector: string, window: { fromMs: number; toMs: number }, nowMs: number): Promise<DemandSeries> {
  const sel = parseSelector(selector)
  await assertKnown(query, sel)
  const filter = toFilter(sel)
  const firstMs = await firstSeenMs(query, filter.clusters)
  const grid = hourGrid(window.fromMs, window.toMs, nowMs, firstMs)
  if (!grid) throw new NotFoundError(`no data for series '${formatSelector(sel)}' in ${isoRange(window)}: ${heldText(hourGrid(firstMs ?? 0, nowMs, nowMs, firstMs))}`)
  const span = { ...grid, nowMs, stepMs: HOUR_MS }
  const withTeam = filter.teams.length > 0
  const [alloc, pend, cap] = await Promise.all([
    allocationHourly(query, filter, span),
    pendingHourly(query, filter, span),
    withTeam ? Promise.resolve(undefined) : capacityHourly(query, filter, span),
  ])
  const allocated = hourlyMeans(alloc, grid)
  const pending = hourlyMeans(pend, grid)
  const warnings: string[] = []
  if (filter.pools.length > 0 || filter.gpuModels.length > 0) {
    warnings.push('pods never bound to a node have no pool or GPU model: their pending demand is in the cluster and team series, not in this one')
  }
  if (withTeam) warnings.push('capacity belongs to nodes, not teams: no capacity for a team series')
  return {
    selector: formatSelector(sel),
    startMs: grid.fromMs,
    allocated,
    pending,
    demand: allocated.map((a, i) => a + pending[i]!),
    capacity: cap ? hourlyMeans(cap, grid) : null,
    warnings,
  }
}

/**
 * The whole hours of a series the store holds (from the first hour after it
 * first saw the series' clusters to the last whole hour before now, the span
 * loadDemand reads); undefined when there is not one.
 */
export async function storeHours(query: QueryFn, selector: string, nowMs: number): Promise<{ fromMs: number; toMs: number } | undefined> {
  const firstMs = await firstSeenMs(query, toFilter(parseSelector(selector)).clusters)
  return hourGrid(firstMs ?? 0, nowMs, nowMs, firstMs)
}

const isoRange = (w: { fromMs: number; toMs: number }) => `${new Date(w.fromMs).toISOString()} to ${new Date(w.toMs).toISOString()}`

/** What the store holds of a series (`what`: how to call it), in words, for a no-data message. */
export const heldText = (held: { fromMs: number; toMs: number } | undefined, what = 'it'): string =>
  held ? `the store holds ${what} from ${isoRange(held)}` : `the store holds no whole hour of ${what} yet`

/** Throws NotFoundError naming a selector value the store has never seen (a typo must not read as zero demand). */
async function assertKnown(query: QueryFn, sel: Selector): Promise<void> {
  if (Object.keys(sel).length === 0) return
  const known = await seriesKeys(query)
  for (const key of SERIES_KEYS) {
    for (const value of sel[key] ?? []) {
      if (known.some((k) => k.key === key && k.value === value)) continue
      const some = known.filter((k) => k.key === key).map((k) => k.value)
      throw new NotFoundError(`no ${key} '${value}' in the store${some.length > 0 ? `; known: ${some.slice(0, 10).join(', ')}${some.length > 10 ? ', ...' : ''}` : ''}`)
    }
  }
}

/** The demand of a loaded series as the forecasting shape. */
export const demandSeries = (d: DemandSeries): HourlySeries => ({ startMs: d.startMs, values: d.demand })

/** Every selector the store can answer with one key (`cluster=a`, `team=b`, ...), for listings and reports. */
export async function listSelectors(query: QueryFn): Promise<string[]> {
  return (await seriesKeys(query)).map((r) => `${r.key}=${r.value}`)
}
