/** Response schema of /waste/final-states (api/routes/waste.ts). */
import { z } from 'zod'
import { FINAL_STATES } from '../../core/finalStates'
import { isoTime } from './common'

const byState = (value: z.ZodType) => z.strictObject(Object.fromEntries(FINAL_STATES.map((s) => [s, value])) as Record<(typeof FINAL_STATES)[number], z.ZodType>)

/** core/finalStates.ts FinalStateGroup. */
export const FinalStateGroup = z
  .strictObject({
    team: z.string().optional(),
    kind: z.string().optional(),
    gpuHours: byState(z.number()),
    pods: byState(z.number().int()),
    totalGpuHours: z.number(),
    shares: byState(z.number().nullable()).describe("each state's share of totalGpuHours; null when there are none"),
    failedOrCancelledGpuHours: z.number(),
    failedOrCancelledRatio: z.number().nullable(),
  })
  .meta({ id: 'FinalStateGroup', description: 'GPU-hours and pods by final state of one group (or of everything).' })

/** GET /api/v1/waste/final-states data. */
export const finalStatesData = z.strictObject({
  period: z.strictObject({ input: z.string().nullable(), from: isoTime, to: isoTime }),
  team: z.string().nullable(),
  by: z.array(z.enum(['team', 'kind'])),
  totals: FinalStateGroup,
  groups: z.array(FinalStateGroup),
  offenders: z.array(z.strictObject({
    team: z.string(),
    user: z.string(),
    failedPods: z.number().int(),
    cancelledPods: z.number().int(),
    endedPods: z.number().int(),
    failedGpuHours: z.number(),
    cancelledGpuHours: z.number(),
    failedOrCancelledGpuHours: z.number(),
    failedOrCancelledRatio: z.number().nullable(),
  })),
})
