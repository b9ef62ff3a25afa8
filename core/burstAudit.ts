/**
 * The burst audit: what cloud capacity cost while on-prem GPUs sat
 * allocated-but-idle, and what reclaiming those GPUs first would have saved.
 * Per cluster and step: cloud GPUs (capacity of cloud-provider nodes: paid
 * for whether busy or not), on-prem GPUs held by idle workloads (utilization
 * known and below the idle threshold for the step), and on-prem GPUs whose
 * utilization is unknown (never counted as idle). Reclaimable GPU-hours in a
 * step are min(cloud, on-prem idle): the cloud GPUs that idle on-prem GPUs
 * could have replaced. Costs use the period's average cloud $/GPU-hour.
 */

/** One cluster's figures for one step. */
export interface AuditStep {
  tsMs: number
  cluster: string
  cloudGpus: number
  onpremIdleGpus: number
  onpremUnknownGpus: number
}

export interface BurstAuditTotals {
  cloudGpuHours: number
  cloudCostUsd: number
  /** Cloud GPU-hours in steps where on-prem GPUs of the same cluster were allocated but idle. */
  cloudGpuHoursWhileOnpremIdle: number
  cloudCostWhileOnpremIdleUsd: number
  onpremIdleAllocatedGpuHours: number
  onpremUtilUnknownGpuHours: number
  /** Σ min(cloud, on-prem idle) per step. */
  reclaimableGpuHours: number
  reclaimSavingsUsd: number
}

export interface BurstAudit {
  totals: BurstAuditTotals
  byCluster: Array<{ cluster: string } & BurstAuditTotals>
  /** The average cloud price the costs use; null when there were no cloud GPU-hours. */
  cloudUsdPerGpuHour: number | null
}

const round2 = (x: number): number => Math.round(x * 100) / 100

function totalsOf(steps: readonly AuditStep[], stepHours: number, rate: number): BurstAuditTotals {
  let cloud = 0
  let whileIdle = 0
  let idle = 0
  let unknown = 0
  let reclaim = 0
  for (const s of steps) {
    cloud += s.cloudGpus * stepHours
    idle += s.onpremIdleGpus * stepHours
    unknown += s.onpremUnknownGpus * stepHours
    if (s.onpremIdleGpus > 0) whileIdle += s.cloudGpus * stepHours
    reclaim += Math.min(s.cloudGpus, s.onpremIdleGpus) * stepHours
  }
  return {
    cloudGpuHours: cloud,
    cloudCostUsd: round2(cloud * rate),
    cloudGpuHoursWhileOnpremIdle: whileIdle,
    cloudCostWhileOnpremIdleUsd: round2(whileIdle * rate),
    onpremIdleAllocatedGpuHours: idle,
    onpremUtilUnknownGpuHours: unknown,
    reclaimableGpuHours: reclaim,
    reclaimSavingsUsd: round2(reclaim * rate),
  }
}

/** Audits the steps; `cloudCostUsd` is what the period's cloud GPU-hours cost (from the prices table / rate card). */
export function burstAudit(steps: readonly AuditStep[], stepMs: number, cloudCostUsd: number): BurstAudit {
  const stepHours = stepMs / 3_600_000
  const cloudHours = steps.reduce((n, s) => n + s.cloudGpus * stepHours, 0)
  const rate = cloudHours > 0 ? cloudCostUsd / cloudHours : 0
  const clusters = [...new Set(steps.map((s) => s.cluster))].sort()
  return {
    totals: totalsOf(steps, stepHours, rate),
    byCluster: clusters.map((cluster) => ({ cluster, ...totalsOf(steps.filter((s) => s.cluster === cluster), stepHours, rate) })),
    cloudUsdPerGpuHour: cloudHours > 0 ? rate : null,
  }
}
