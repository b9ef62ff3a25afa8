import { describe, expect, it } from 'vitest'
import { analyticsSchema } from '../config/analytics'
import {
  apportionCents, chargeback, costByKey, IDLE_ROW, modelMatches, onPremRate, splitRow, type ChargeInput, type IdleSharePolicy, type PricedUse,
} from './chargeback'

const H = 3_600_000

describe('rate card', () => {
  it.each([
    { pattern: 'H100', model: 'NVIDIA-H100-80GB-HBM3', want: true },
    { pattern: 'h100', model: 'NVIDIA H100 80GB HBM3', want: true },
    { pattern: 'H100', model: 'NVIDIA-H100-NVL', want: true },
    { pattern: 'H10', model: 'NVIDIA-H100-80GB-HBM3', want: false },
    { pattern: 'A100-80GB', model: 'NVIDIA A100 80GB PCIe', want: true },
    { pattern: 'A100-80GB', model: 'NVIDIA-A100-SXM4-80GB', want: false },
    { pattern: 'NVIDIA-A100-SXM4-80GB', model: 'nvidia-a100-sxm4-80gb', want: true },
  ])("model '$pattern' matches '$model': $want", ({ pattern, model, want }) => expect(modelMatches(pattern, model)).toBe(want))

  const card = analyticsSchema.parse({
    rateCard: {
      defaultUsdPerGpuHour: 2,
      rates: [
        { gpuModel: 'H100', usdPerGpuHour: 2.5 },
        { gpuModel: 'H100-NVL', usdPerGpuHour: 2.2 },
        { pool: 'infer', usdPerGpuHour: 1.2 },
        { gpuModel: 'H100', pool: 'research', usdPerGpuHour: 1.8 },
      ],
    },
  }).rateCard

  it.each([
    { name: 'model', model: 'NVIDIA-H100-80GB-HBM3', pool: 'train', want: { usdPerGpuHour: 2.5, source: 'rateCard' } },
    { name: 'the longer model name', model: 'NVIDIA-H100-NVL', pool: 'train', want: { usdPerGpuHour: 2.2, source: 'rateCard' } },
    { name: 'pool beats model', model: 'NVIDIA-H100-80GB-HBM3', pool: 'infer', want: { usdPerGpuHour: 1.2, source: 'rateCard' } },
    { name: 'model and pool beat pool', model: 'NVIDIA-H100-80GB-HBM3', pool: 'research', want: { usdPerGpuHour: 1.8, source: 'rateCard' } },
    { name: 'nothing matches: the default', model: 'Tesla-V100-SXM2-32GB', pool: 'train', want: { usdPerGpuHour: 2, source: 'default' } },
  ])('picks the most specific rate: $name', ({ model, pool, want }) => expect(onPremRate(card, model, pool)).toEqual(want))

  it('refuses a rate that names neither a model nor a pool', () => {
    const parsed = analyticsSchema.safeParse({ rateCard: { rates: [{ usdPerGpuHour: 3 }] } })
    expect(parsed.success).toBe(false)
    expect(parsed.error?.issues[0]?.message).toBe('a rate names a gpuModel, a pool or both (the default rate is defaultUsdPerGpuHour)')
  })

  it('prices cloud GPU-hours from the prices table and the rest from the card, counting default and unpriced hours', () => {
    const use = (key: string, gpuH: number, over: Partial<PricedUse>): PricedUse => ({ key, gpuMs: gpuH * H, gpuModel: 'NVIDIA-H100-80GB-HBM3', pool: 'train', provider: 'onprem', cloudUsdPerGpuHour: null, ...over })
    const costs = costByKey(
      [
        use('a', 10, {}),
        use('a', 4, { provider: 'aws', cloudUsdPerGpuHour: 4.1 }),
        use('a', 2, { provider: 'aws', cloudUsdPerGpuHour: 3 }),
        use('b', 3, { provider: 'aws', gpuModel: 'NVIDIA-L4' }),
        use('b', 1, { gpuModel: 'Tesla-T4' }),
      ],
      card,
    )
    expect(costs.get('a')).toEqual({ gpuHours: 16, costUsd: 10 * 2.5 + 4 * 4.1 + 2 * 3, defaultRateGpuHours: 0, unpricedCloudGpuHours: 0 })
    expect(costs.get('b')).toEqual({ gpuHours: 4, costUsd: 4 * 2, defaultRateGpuHours: 4, unpricedCloudGpuHours: 3 })
  })
})

describe('apportionCents (largest remainder)', () => {
  it.each([
    { name: 'thirds', total: 100, weights: [1, 1, 1], want: [34, 33, 33] },
    { name: 'ties go to the earlier row', total: 10, weights: [0.5, 0.25, 0.25], want: [5, 3, 2] },
    { name: 'the largest remainder wins', total: 2500, weights: [12.345, 7.655, 5.001], want: [1234, 766, 500] },
    { name: 'a negative total', total: -7, weights: [1, 1], want: [-3, -4] },
    { name: 'zero weights split evenly', total: 5, weights: [0, 0], want: [3, 2] },
    { name: 'nothing to split', total: 0, weights: [3, 0], want: [0, 0] },
    { name: 'nobody and nothing', total: 0, weights: [], want: [] },
  ])('$name', ({ total, weights, want }) => expect(apportionCents(total, weights)).toEqual(want))

  it('always sums to the total, each share within a cent of its quota', () => {
    let seed = 7
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648)
    for (let n = 0; n < 300; n++) {
      const weights = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => (rand() < 0.1 ? 0 : rand() * 1e4))
      const total = Math.floor((rand() - 0.2) * 1e8)
      const shares = apportionCents(total, weights)
      expect(shares.reduce((a, b) => a + b, 0)).toBe(total)
      const sum = weights.reduce((a, b) => a + b, 0)
      shares.forEach((s, i) => expect(Math.abs(s - (sum > 0 ? (total * weights[i]!) / sum : total / weights.length))).toBeLessThan(1 + 1e-6))
    }
  })

  it('refuses cents with nobody to give them to', () => expect(() => apportionCents(5, [])).toThrow(RangeError))
})

describe('chargeback: reconciliation to the cent for each idle-share policy', () => {
  // Allocated costs $12.345, $7.655 and $5.001 (total $25.001 -> 2500 cents, split 1234 / 766 / 500 by
  // largest remainder); fleet capacity cost $100.004 -> 10000 cents, so 7500 cents of capacity nobody held.
  const rows: ChargeInput[] = [
    { key: 'b', allocatedGpuHours: 3, allocatedCostUsd: 7.655, usedGpuHours: 1, utilUnknownGpuHours: 0 },
    { key: 'a', allocatedGpuHours: 5, allocatedCostUsd: 12.345, usedGpuHours: 2, utilUnknownGpuHours: 1 },
    { key: 'c', allocatedGpuHours: 2, allocatedCostUsd: 5.001, usedGpuHours: null, utilUnknownGpuHours: 2 },
  ]
  const fleet = { capacityGpuHours: 40, capacityCostUsd: 100.004 }

  it.each([
    // none: the 7500 cents stay in __idle__.
    { policy: 'none', capacityCostUsd: 100.004, want: [['a', 1234, 0], ['b', 766, 0], ['c', 500, 0], [IDLE_ROW, 0, 7500]] },
    // proportional: quotas 3703.35 / 2296.41 / 1500.24 -> 3703 / 2297 / 1500.
    { policy: 'proportional', capacityCostUsd: 100.004, want: [['a', 1234, 3703], ['b', 766, 2297], ['c', 500, 1500]] },
    { policy: 'even', capacityCostUsd: 100.004, want: [['a', 1234, 2500], ['b', 766, 2500], ['c', 500, 2500]] },
    // even with 7501 cents: the odd cent goes to the first row.
    { policy: 'even', capacityCostUsd: 100.01, want: [['a', 1234, 2501], ['b', 766, 2500], ['c', 500, 2500]] },
  ])('$policy (fleet $capacityCostUsd)', ({ policy, capacityCostUsd, want }) => {
    const result = chargeback(rows, { ...fleet, capacityCostUsd }, policy as IdleSharePolicy)
    expect(result.rows.map((r) => [r.key, Math.round(r.allocatedCostUsd * 100), Math.round(r.idleShareCostUsd * 100)])).toEqual(want)
    for (const r of result.rows) expect(r.costCents).toBe(Math.round(r.allocatedCostUsd * 100) + Math.round(r.idleShareCostUsd * 100))
    const totalCents = Math.round(capacityCostUsd * 100)
    expect(result.rows.reduce((n, r) => n + r.costCents, 0)).toBe(totalCents)
    expect(result.reconciliation).toMatchObject({ reconciled: true, fleetCostUsd: totalCents / 100, rowsCostUsd: totalCents / 100, differenceCents: 0, allocatedCostUsd: 25, policy })
    expect(result.warnings).toEqual([])
  })

  it('keeps used, idle and unknown GPU-hours apart: idle = allocated with known utilization - used', () => {
    const byKey = Object.fromEntries(chargeback(rows, fleet, 'none').rows.map((r) => [r.key, r]))
    expect(byKey.a).toMatchObject({ allocatedGpuHours: 5, usedGpuHours: 2, idleGpuHours: 2, utilUnknownGpuHours: 1 })
    expect(byKey.c).toMatchObject({ allocatedGpuHours: 2, usedGpuHours: null, idleGpuHours: null, utilUnknownGpuHours: 2 })
    expect(byKey[IDLE_ROW]).toMatchObject({ allocatedGpuHours: 0, idleGpuHours: 30, costUsd: 75 })
  })

  it('still reconciles, with a warning, when allocation costs more than capacity (pods on nodes not counted as capacity)', () => {
    const result = chargeback(rows, { capacityGpuHours: 8, capacityCostUsd: 20 }, 'none')
    expect(result.rows.at(-1)).toMatchObject({ key: IDLE_ROW, costCents: -500 })
    expect(result.reconciliation).toMatchObject({ reconciled: true, fleetCostUsd: 20, unallocatedCostUsd: -5 })
    expect(result.warnings).toEqual(["allocated cost exceeds the fleet's capacity cost by $5.00: pods held GPUs on nodes not counted as capacity (not Ready, cordoned, or with no node state)"])
  })

  it.each(['proportional', 'even'] as const)('%s with no allocation leaves the whole cost in __idle__, and says so', (policy) => {
    const result = chargeback([], { capacityGpuHours: 10, capacityCostUsd: 12.34 }, policy)
    expect(result.rows.map((r) => [r.key, r.costCents])).toEqual([[IDLE_ROW, 1234]])
    expect(result.reconciliation).toMatchObject({ reconciled: true, policy: 'none' })
    expect(result.warnings).toEqual([`idle share '${policy}' has no allocation to share by: the unallocated cost stays in ${IDLE_ROW}`])
  })

  it('reconciles random fleets to the cent under every policy', () => {
    let seed = 11
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648)
    for (let n = 0; n < 200; n++) {
      const inputs = Array.from({ length: Math.floor(rand() * 8) }, (_, i) => ({
        key: `t${i}`, allocatedGpuHours: rand() * 100, allocatedCostUsd: rand() * 1e4, usedGpuHours: null, utilUnknownGpuHours: 0,
      }))
      const capacityCostUsd = rand() * 1e5
      for (const policy of ['none', 'proportional', 'even'] as const) {
        const result = chargeback(inputs, { capacityGpuHours: 1, capacityCostUsd }, policy)
        expect(result.reconciliation.reconciled).toBe(true)
        expect(result.rows.reduce((a, r) => a + r.costCents, 0)).toBe(Math.round(capacityCostUsd * 100))
      }
    }
  })
})

describe('splitRow: a team row split by project sums to the team row to the cent', () => {
  const subRows: ChargeInput[] = [
    { key: 'y', allocatedGpuHours: 1, allocatedCostUsd: 2.655, usedGpuHours: null, utilUnknownGpuHours: 1 },
    { key: 'x', allocatedGpuHours: 2, allocatedCostUsd: 5, usedGpuHours: null, utilUnknownGpuHours: 2 },
  ]
  it.each([
    // allocated 3063 cents by 5 : 2.655 -> 2000.65 / 1062.35 -> 2001 / 1062; share 2297 -> 1500.33 / 796.67 -> 1500 / 797.
    { policy: 'proportional', want: [['x', 2001, 1500], ['y', 1062, 797]] },
    { policy: 'even', want: [['x', 2001, 1149], ['y', 1062, 1148]] },
    { policy: 'none', want: [['x', 2001, 0], ['y', 1062, 0]], share: 0 },
  ])('$policy', ({ policy, want, share }) => {
    const parent = { allocatedCostUsd: 30.63, idleShareCostUsd: share ?? 22.97 }
    const rows = splitRow(parent, subRows, policy as IdleSharePolicy)
    expect(rows.map((r) => [r.key, Math.round(r.allocatedCostUsd * 100), Math.round(r.idleShareCostUsd * 100)])).toEqual(want)
    expect(rows.reduce((n, r) => n + r.costCents, 0)).toBe(3063 + Math.round(parent.idleShareCostUsd * 100))
  })
})
