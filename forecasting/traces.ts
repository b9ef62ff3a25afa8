/**
 * Demand series straight from public traces, for backtests that need no
 * store (bench, docs/benchmarks.md, model tests): the Helios per-minute VC
 * sequences resampled hourly exactly as DESIGN.md's bar was measured.
 */
import type { HeliosMinute } from '../collector/replay/traces/helios'
import { InputError } from '../core/errors'
import { HOUR_MS, type HourlySeries } from './series'

const MINUTE_MS = 60_000

/**
 * Hourly demand of the Helios VCs (optionally only some): running + pending
 * GPUs summed over VCs, each minute holding until the next, averaged per UTC
 * hour. Every hour must have all 60 minutes of every VC; a gap is an error.
 */
export function heliosHourlyDemand(minutes: readonly HeliosMinute[], vcs?: readonly string[]): HourlySeries {
  const keep = vcs ? new Set(vcs) : undefined
  const rows = keep ? minutes.filter((m) => keep.has(m.vc)) : minutes
  if (rows.length === 0) throw new InputError(`no Helios minutes${vcs ? ` for VC(s) ${vcs.join(', ')}` : ''}`)
  const vcCount = new Set(rows.map((m) => m.vc)).size
  let firstMs = Number.POSITIVE_INFINITY
  let lastMs = Number.NEGATIVE_INFINITY
  for (const m of rows) {
    firstMs = Math.min(firstMs, m.tsMs)
    lastMs = Math.max(lastMs, m.tsMs)
  }
  const startMs = Math.ceil(firstMs / HOUR_MS) * HOUR_MS
  const hours = Math.floor((lastMs + MINUTE_MS - startMs) / HOUR_MS)
  const sum = new Array<number>(hours).fill(0)
  const count = new Array<number>(hours).fill(0)
  for (const m of rows) {
    const i = Math.floor((m.tsMs - startMs) / HOUR_MS)
    if (i < 0 || i >= hours) continue
    sum[i]! += m.runningGpus + m.pendingGpus
    count[i]! += 1
  }
  const short = count.findIndex((c) => c !== 60 * vcCount)
  if (short >= 0) throw new InputError(`Helios hour ${new Date(startMs + short * HOUR_MS).toISOString()} has ${count[short]} VC-minutes, expected ${60 * vcCount}`)
  return { startMs, values: sum.map((s) => s / 60) }
}
