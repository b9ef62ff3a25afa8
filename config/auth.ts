import { z } from 'zod'

/** API access: bearer tokens with roles. Disabled by default for local use; enable it anywhere shared. */
export const authSchema = z.strictObject({
  enabled: z.boolean().default(false),
  tokens: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        /** The bearer token (secret). */
        token: z.string().min(16, 'must be at least 16 characters'),
        /** viewer, admin, or team:<name>. */
        role: z.string().regex(/^(viewer|admin|team:[a-z0-9][a-z0-9-]*)$/, 'must be viewer, admin or team:<name>'),
      }),
    )
    .default([]),
})

export type AuthConfig = z.infer<typeof authSchema>
