/**
 * Query schemas of /usage, /summary and /chargeback (api/routes/usage.ts).
 * Every parameter is checked here, combinations included, so a bad request is
 * refused before any store query runs.
 */
import { z } from 'zod'
import { CHARGE_BASES, type ChargeBasis } from '../../core/ledger'
import { GROUP_KEYS, type GroupKey } from '../../core/usage'

/** The keys /chargeback charges by. */
export const CHARGE_KEYS = ['team', 'project', 'user', 'namespace'] as const

/** A decimal number as people type it: digits, an optional fraction, an optional minus (no hex, exponent, blanks or empty value). */
const DECIMAL = /^-?\d+(\.\d+)?$/

/**
 * The message for a parameter given more than once (the simple query parser
 * makes it an array); undefined leaves zod's own message for any other
 * problem. A list parameter's message shows the comma-separated form.
 */
export const givenOnce = (name: string, list = false) => (issue: { input?: unknown }): string | undefined => {
  if (!Array.isArray(issue.input)) return undefined
  const form = list ? ` (comma-separated values: ${name}=${issue.input.join(',')})` : ''
  return `given ${issue.input.length} times; give ${name} once${form}`
}

const filterShape = Object.fromEntries(
  GROUP_KEYS.map((k) => [k, z.string({ error: givenOnce(k, true) }).optional().describe(`only rows whose ${k} is one of these comma-separated values`)]),
) as Record<GroupKey, z.ZodOptional<z.ZodString>>

/** GET /usage query. */
export const usageQuery = z.strictObject({
  window: z.string({ error: givenOnce('window') }).default('24h').describe('24h, 7d, FROM,TO (RFC 3339), 2026-Q3, 2026-09 or 2026-09-14'),
  step: z.string({ error: givenOnce('step') }).optional().describe('bucket size, a whole number of minutes (1m, 1h, 1d) no longer than the window; default: the finest giving at most 500 points'),
  groupBy: z.string({ error: givenOnce('groupBy', true) }).optional().describe(`comma-separated keys: ${GROUP_KEYS.join(', ')}`),
  ...filterShape,
})

/** GET /summary query: it takes no parameter. */
export const summaryQuery = z.strictObject({})

/**
 * GET /chargeback query. `defaultBasis` is analytics.chargeBasis: an
 * idleSurcharge needs the hybrid basis, from the query or from config.
 */
export function chargebackQuery(defaultBasis: ChargeBasis) {
  return z
    .strictObject({
      period: z.string({ error: givenOnce('period') }).optional().describe('a month (2026-09), a quarter (2026-Q3) or a window (30d, FROM,TO); default: this month so far'),
      by: z.enum(CHARGE_KEYS, { error: givenOnce('by') }).default('team'),
      idleShare: z.enum(['none', 'proportional', 'even'], { error: givenOnce('idleShare') }).optional().describe('how the cost of capacity no workload held (the __idle__ row) is shared; overrides analytics.idleShare'),
      basis: z.enum(CHARGE_BASES as readonly ['allocated', 'effective', 'hybrid'], { error: givenOnce('basis') }).optional()
        .describe('what owners pay for: allocated, effective (allocation x utilization) or hybrid; overrides analytics.chargeBasis'),
      idleSurcharge: z
        .string({ error: givenOnce('idleSurcharge') })
        .regex(DECIMAL, { message: 'expected a decimal number of $ per GPU-hour like 0.5 or -0.25', abort: true })
        .transform(Number)
        .pipe(z.number().min(-1_000).max(1_000))
        .optional()
        .describe('hybrid: $ per idle-while-allocated GPU-hour (negative = credit), a decimal like 0.5; overrides analytics.idleSurchargeUsdPerGpuHour'),
    })
    .superRefine((q, ctx) => {
      const basis = q.basis ?? defaultBasis
      if (q.idleSurcharge !== undefined && basis !== 'hybrid') {
        ctx.addIssue({ code: 'custom', path: ['idleSurcharge'], message: `applies to basis=hybrid only (basis is ${basis}${q.basis === undefined ? ', from analytics.chargeBasis' : ''})` })
      }
    })
}
