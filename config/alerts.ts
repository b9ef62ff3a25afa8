import { z } from 'zod'

/** Alerts, the idle-shutdown enforcer and the burst controller (refined by the alerts work). Everything that acts is dry-run by default. */
export const alertsSchema = z.strictObject({
  enabled: z.boolean().default(false),
  dryRun: z.boolean().default(true),
})

export type AlertsConfig = z.infer<typeof alertsSchema>
