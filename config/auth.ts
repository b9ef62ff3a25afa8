import { z } from 'zod'

/** A role: `viewer` (reads every team), `admin` (reads and acts), or `team:<name>` (reads only that team's workloads). */
export const ROLE = /^(viewer|admin|team:[A-Za-z0-9][A-Za-z0-9._-]*)$/

const tokenSchema = z.strictObject({
  /** Who holds the token; shown in logs and audit rows instead of the token. */
  name: z.string().min(1),
  /** The bearer token (secret; never echoed in an error). */
  token: z.string().min(16, 'must be at least 16 characters'),
  /** viewer, admin, or team:<name> (the team label value the collector records). */
  role: z.string().regex(ROLE, 'must be viewer, admin or team:<name>'),
})

/** Index of the first entry whose key equals an earlier one's, or -1. */
function firstDuplicate<T>(items: readonly T[], key: (t: T) => string): number {
  const seen = new Set<string>()
  return items.findIndex((item) => {
    const k = key(item)
    if (seen.has(k)) return true
    seen.add(k)
    return false
  })
}

/**
 * API access: bearer tokens with roles. Disabled by default for local use
 * (every request is then anonymous and sees everything); enable it anywhere
 * shared. Token names and token values must be unique, and enabling auth
 * without a token is an error rather than an API that refuses everyone.
 */
export const authSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    tokens: z.array(tokenSchema).default([]),
  })
  .superRefine((auth, ctx) => {
    const byName = firstDuplicate(auth.tokens, (t) => t.name)
    if (byName >= 0) ctx.addIssue({ code: 'custom', path: ['tokens', byName, 'name'], message: `duplicate token name '${auth.tokens[byName]?.name}'` })
    const byToken = firstDuplicate(auth.tokens, (t) => t.token)
    // The message names the holders, never the token value.
    if (byToken >= 0) ctx.addIssue({ code: 'custom', path: ['tokens', byToken, 'token'], message: `the same token is configured twice (second holder '${auth.tokens[byToken]?.name}')` })
    if (auth.enabled && auth.tokens.length === 0) ctx.addIssue({ code: 'custom', path: ['tokens'], message: 'auth is enabled but no tokens are configured' })
  })

/** Validated auth settings. */
export type AuthConfig = z.infer<typeof authSchema>
/** One configured token. */
export type AuthToken = AuthConfig['tokens'][number]
