import { describe, expect, it } from 'vitest'
import { chargeback, IDLE_ROW, type ChargeInput } from './chargeback'
import { applyChargeBasis, IDLE_ALLOCATED_ROW, type BasisPolicy } from './ledger'

// Two teams on $2/GPU-hour GPUs over a 100 GPU-hour fleet ($200):
// vision held 40 GPU-hours and used 10 (30 idle); nlp held 30, used 24 with 5 hours unknown (1 idle).
const inputs: ChargeInput[] = [
  { key: 'vision', allocatedGpuHours: 40, allocatedCostUsd: 80, usedGpuHours: 10, utilUnknownGpuHours: 0 },
  { key: 'nlp', allocatedGpuHours: 30, allocatedCostUsd: 60, usedGpuHours: 24, utilUnknownGpuHours: 5 },
]
const fleet = { capacityGpuHours: 100, capacityCostUsd: 200 }
const bill = (basis: BasisPolicy, share: 'none' | 'proportional' = 'none') => applyChargeBasis(chargeback(inputs, fleet, share).rows, basis)
const costs = (rows: ReturnType<typeof bill>) => Object.fromEntries(rows.map((r) => [r.key, r.costUsd]))
const sumCents = (rows: ReturnType<typeof bill>) => rows.reduce((n, r) => n + r.costCents, 0)

describe('the dual ledger', () => {
  it.each([
    // basis, surcharge, idle share, expected costs, idle-allocated row
    ['allocated', 0, 'none', { nlp: 60, vision: 80, [IDLE_ROW]: 60 }],
    // effective: vision's 30 idle hours ($60) and nlp's 1 idle hour ($2) move to the fleet's row.
    ['effective', 0, 'none', { nlp: 58, vision: 20, [IDLE_ROW]: 60, [IDLE_ALLOCATED_ROW]: 62 }],
    // hybrid with a $0.50 surcharge: vision +$15, nlp +$0.50; the offset row holds −$15.50.
    ['hybrid', 0.5, 'none', { nlp: 60.5, vision: 95, [IDLE_ROW]: 60, [IDLE_ALLOCATED_ROW]: -15.5 }],
    // hybrid with a $1 credit per idle GPU-hour.
    ['hybrid', -1, 'none', { nlp: 59, vision: 50, [IDLE_ROW]: 60, [IDLE_ALLOCATED_ROW]: 31 }],
    // proportional idle share first (vision 80/140 of $60, nlp 60/140), then the effective basis.
    ['effective', 0, 'proportional', { nlp: 83.71, vision: 54.29, [IDLE_ALLOCATED_ROW]: 62 }],
  ] as const)('%s basis (surcharge %s, idle share %s) charges the known amounts and reconciles to the cent', (basis, surcharge, share, expected) => {
    const rows = bill({ basis, idleSurchargeUsdPerGpuHour: surcharge }, share)
    expect(costs(rows)).toEqual(expected)
    expect(sumCents(rows)).toBe(20_000)
  })

  it('names every owner’s idle-while-allocated cost and effective GPU-hours whatever the basis', () => {
    for (const basis of ['allocated', 'effective', 'hybrid'] as const) {
      const rows = bill({ basis, idleSurchargeUsdPerGpuHour: 0.5 })
      const vision = rows.find((r) => r.key === 'vision')!
      const nlp = rows.find((r) => r.key === 'nlp')!
      expect([vision.allocatedGpuHours, vision.effectiveGpuHours, vision.idleGpuHours, vision.idleAllocatedCostUsd]).toEqual([40, 10, 30, 60])
      // nlp's 5 unknown hours are not idle: 30 − 5 known − 24 used = 1 idle hour.
      expect([nlp.effectiveGpuHours, nlp.idleGpuHours, nlp.idleAllocatedCostUsd]).toEqual([24, 1, 2])
    }
  })

  it('keeps whole cents when the split is uneven (largest remainder), over many rows', () => {
    const many: ChargeInput[] = Array.from({ length: 7 }, (_, i) => ({ key: `t${i}`, allocatedGpuHours: 3, allocatedCostUsd: 3 * 1.37, usedGpuHours: 1 / 3, utilUnknownGpuHours: 0 }))
    const base = chargeback(many, { capacityGpuHours: 21, capacityCostUsd: 21 * 1.37 }, 'none').rows
    for (const basis of ['effective', 'hybrid'] as const) {
      const rows = applyChargeBasis(base, { basis, idleSurchargeUsdPerGpuHour: 0.333 })
      expect(rows.every((r) => Number.isInteger(r.costCents))).toBe(true)
      expect(sumCents(rows)).toBe(base.reduce((n, r) => n + r.costCents, 0))
    }
  })

  it('leaves a row whose utilization was never known at its allocated cost', () => {
    const rows = applyChargeBasis(chargeback([{ key: 'dark', allocatedGpuHours: 10, allocatedCostUsd: 20, usedGpuHours: null, utilUnknownGpuHours: 10 }], { capacityGpuHours: 10, capacityCostUsd: 20 }, 'none').rows, { basis: 'effective', idleSurchargeUsdPerGpuHour: 0 })
    expect(costs(rows)).toEqual({ dark: 20, [IDLE_ROW]: 0, [IDLE_ALLOCATED_ROW]: 0 })
    expect(rows[0]!.effectiveGpuHours).toBeNull()
  })
})

describe('a team split on the basis', () => {
  it('sums to the team’s row on the basis to the cent', async () => {
    const { splitRow } = await import('./chargeback')
    const { splitOnBasis } = await import('./ledger')
    const projects: ChargeInput[] = [
      { key: 'p1', allocatedGpuHours: 13, allocatedCostUsd: 26, usedGpuHours: 1, utilUnknownGpuHours: 0 },
      { key: 'p2', allocatedGpuHours: 27, allocatedCostUsd: 54, usedGpuHours: 9, utilUnknownGpuHours: 0 },
    ]
    for (const policy of [{ basis: 'effective', idleSurchargeUsdPerGpuHour: 0 }, { basis: 'hybrid', idleSurchargeUsdPerGpuHour: 0.37 }, { basis: 'allocated', idleSurchargeUsdPerGpuHour: 0 }] as const) {
      const fleetRows = chargeback(inputs, fleet, 'proportional').rows
      const vision = applyChargeBasis(fleetRows, policy).find((r) => r.key === 'vision')!
      const parent = fleetRows.find((r) => r.key === 'vision')!
      const rows = splitOnBasis(vision, splitRow(parent, projects, 'proportional'), policy)
      expect(rows.map((r) => r.key)).toEqual(['p1', 'p2'])
      expect(rows.reduce((n, r) => n + r.costCents, 0)).toBe(vision.costCents)
      expect(Math.round(rows.reduce((n, r) => n + r.idleAllocatedCostUsd, 0) * 100)).toBe(Math.round(vision.idleAllocatedCostUsd * 100))
    }
  })
})
