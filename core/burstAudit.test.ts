import { describe, expect, it } from 'vitest'
import { burstAudit, type AuditStep } from './burstAudit'

const H = 3_600_000
const step = (h: number, cloud: number, idle: number, unknown = 0, cluster = 'c1'): AuditStep => ({ tsMs: h * H, cluster, cloudGpus: cloud, onpremIdleGpus: idle, onpremUnknownGpus: unknown })

describe('burstAudit', () => {
  it('counts cloud GPU-hours spent while on-prem GPUs sat idle, and min(cloud, idle) as reclaimable', () => {
    // 3 hours of 8 cloud GPUs ($3/GPU-hour: $72); on-prem idle 0, 4, 16 GPUs.
    const a = burstAudit([step(0, 8, 0), step(1, 8, 4), step(2, 8, 16)], H, 72)
    expect(a.cloudUsdPerGpuHour).toBe(3)
    expect(a.totals).toEqual({
      cloudGpuHours: 24, cloudCostUsd: 72, cloudGpuHoursWhileOnpremIdle: 16, cloudCostWhileOnpremIdleUsd: 48,
      onpremIdleAllocatedGpuHours: 20, onpremUtilUnknownGpuHours: 0, reclaimableGpuHours: 12, reclaimSavingsUsd: 36,
    })
  })

  it('never treats unknown utilization as idle, and keeps clusters apart', () => {
    const a = burstAudit([step(0, 4, 0, 10, 'a'), step(0, 0, 6, 0, 'b')], H, 8)
    expect(a.totals.reclaimableGpuHours).toBe(0)
    expect(a.byCluster).toEqual([
      expect.objectContaining({ cluster: 'a', cloudGpuHours: 4, onpremUtilUnknownGpuHours: 10, reclaimableGpuHours: 0 }),
      expect.objectContaining({ cluster: 'b', cloudGpuHours: 0, onpremIdleAllocatedGpuHours: 6, reclaimableGpuHours: 0 }),
    ])
  })

  it('scales GPU-hours by the step, and has no price without cloud GPU-hours', () => {
    expect(burstAudit([step(0, 2, 2)], 15 * 60_000, 1).totals.reclaimableGpuHours).toBe(0.5)
    expect(burstAudit([step(0, 0, 5)], H, 0).cloudUsdPerGpuHour).toBeNull()
  })
})
