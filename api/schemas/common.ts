/**
 * Response building blocks shared by the route groups' schemas. These zod
 * schemas only document answers in /api/v1/openapi.json (handlers do not
 * parse their own output); test/api-openapi.test.ts holds real answers to
 * them. Fixed objects are strict (`additionalProperties: false`), nullable
 * fields are `.nullable()` and fields a handler may leave out are optional.
 */
import { z } from 'zod'
import { GROUP_KEYS } from '../../core/usage'

/** An RFC 3339 UTC instant as `Date.toISOString()` prints it. */
export const isoTime = z.string().describe('RFC 3339 UTC time, e.g. 2026-07-01T00:00:00.000Z')

/** Epoch milliseconds. */
export const epochMs = z.number().describe('epoch milliseconds')

/** A window as two RFC 3339 instants. */
export const IsoWindow = z.strictObject({ from: isoTime, to: isoTime }).meta({ id: 'IsoWindow', description: 'A time window [from, to) as RFC 3339 instants.' })

/** A window as epoch milliseconds. */
export const MsWindow = z.strictObject({ fromMs: epochMs, toMs: epochMs }).meta({ id: 'MsWindow', description: 'A time window [fromMs, toMs) in epoch milliseconds.' })

/** The DCGM metric behind a fleet utilization figure (core/usage.ts UtilMetric). */
export const UtilMetric = z.enum(['GR_ENGINE_ACTIVE', 'GPU_UTIL', 'mixed']).meta({ id: 'UtilMetric', description: 'DCGM_FI_PROF_GR_ENGINE_ACTIVE, DCGM_FI_DEV_GPU_UTIL, or both across the samples.' })

/** The grouping keys of /usage as an object of optional strings (a group's values, or a filter's). */
export const groupShape = <T extends z.ZodType>(value: T) => Object.fromEntries(GROUP_KEYS.map((k) => [k, value.optional()])) as Record<(typeof GROUP_KEYS)[number], z.ZodOptional<T>>

/** A group: its value for each grouping key asked for. */
export const Group = z.strictObject(groupShape(z.string())).meta({ id: 'Group', description: 'The values of the grouping keys asked for (groupBy); empty for the whole fleet.' })

/** Any JSON value (evidence kept as the writer recorded it). */
export const anyJson = z.unknown().describe('any JSON value')

/**
 * A registered component (`.meta({ id })`) or null. `.nullable()`, `.optional()`
 * and `.describe()` on a registered schema would carry its id over and replace
 * the component with the variant, so variants are built around it instead.
 */
export const orNull = <T extends z.ZodType>(schema: T) => z.union([schema, z.null()])
