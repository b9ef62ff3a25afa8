/**
 * Demand series straight from public traces, for backtests that need no
 * store (bench, docs/benchmarks.md, model tests): the Helios per-minute VC
 * sequences resampled hourly exactly as DESIGN.md's bar was measured.
 */
import { podGpus, type AlibabaPod } from '../collector/replay/traces/alibaba'
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

/**
 * Hourly demand rebuilt from the Alibaba PAI v2023 pod intervals, read as the
 * replay reads the snapshot (collector/replay/sim/fromAlibaba.ts, docs/replay.md):
 * a pod's phase is its state at the trace's last instant S, so a pod recorded
 * Running runs from its scheduled time through S (its deletion time is not
 * used), a Pending one waits from creation through S, and a Succeeded or
 * Failed one waits from creation to its scheduled time and runs from then to
 * its deletion (through S when it has none). Each GPU pod adds its GPUs
 * (num_gpu × gpu_milli / 1000), exactly per second of overlap with each hour.
 * Trace times are seconds from the trace start, which has no published date:
 * the series starts at the epoch (1970-01-01) plus the first pod's creation hour.
 */
export function alibabaHourlyDemand(pods: readonly AlibabaPod[]): HourlySeries {
  const gpuPods = pods.filter((p) => podGpus(p) > 0)
  if (gpuPods.length === 0) throw new InputError('no GPU pods in the Alibaba trace')
  let firstS = Number.POSITIVE_INFINITY
  let endS = 0
  for (const p of gpuPods) {
    firstS = Math.min(firstS, p.creationS)
    endS = Math.max(endS, p.creationS, p.scheduledS ?? 0, p.deletionS ?? 0)
  }
  const startH = Math.floor(firstS / 3600)
  const hours = Math.floor(endS / 3600) - startH
  if (hours < 1) throw new InputError('the Alibaba trace spans less than one whole hour')
  const gpuSeconds = new Float64Array(hours)
  const add = (fromS: number, toS: number, gpus: number) => {
    for (let h = Math.max(0, Math.floor(fromS / 3600) - startH); h < hours; h++) {
      const lo = Math.max(fromS, (startH + h) * 3600)
      const hi = Math.min(toS, (startH + h + 1) * 3600)
      if (hi <= lo) break
      gpuSeconds[h]! += gpus * (hi - lo)
    }
  }
  for (const p of gpuPods) {
    const gpus = podGpus(p)
    const scheduled = p.phase === 'Pending' ? undefined : p.scheduledS
    const end = p.phase === 'Running' || p.phase === 'Pending' ? endS : (p.deletionS ?? endS)
    add(p.creationS, scheduled === undefined ? end : Math.min(scheduled, end), gpus)
    if (scheduled !== undefined) add(scheduled, end, gpus)
  }
  return { startMs: startH * HOUR_MS, values: Array.from(gpuSeconds, (s) => s / 3600) }
}
