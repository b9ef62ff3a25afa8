import { z } from 'zod'
import type { StaticPrice } from '../../config/cloud'
import type { Price } from '../../core/model'
import type { CollectorDeps, PollSource } from '../source'
import table from './aws-on-demand-prices.json' with { type: 'json' }

/**
 * Prices the EC2 API does not give: the configured static table (on-prem
 * amortised $/GPU-hour, other clouds, AWS on-demand overrides) and a built-in
 * AWS on-demand table for the big GPU types (aws-on-demand-prices.json, with
 * its provenance inside).
 */

/** One built-in on-demand price of an AWS instance type in a region. */
export interface BuiltInPrice {
  region: string
  instanceType: string
  gpus: number
  usdPerHour: number
}

const builtInSchema = z.array(
  z.strictObject({
    region: z.string().min(1),
    instanceType: z.string().min(1),
    gpus: z.number().positive(),
    usdPerHour: z.number().positive(),
  }),
)

/**
 * When a price without a date holds from: 2000-01-01, before any usage
 * gpuscope stores. Not the epoch: the store's TSV timestamps (`seconds.millis`)
 * are misread by ClickHouse below 9 digits of seconds (before 1973).
 */
export const ALWAYS_MS = Date.UTC(2000, 0, 1)

// Validated once at load: a malformed data file is a build error, not a wrong price.
const BUILT_IN: readonly BuiltInPrice[] = builtInSchema.parse(table.prices)

/** The built-in AWS on-demand price table (a fresh copy). */
export function builtInAwsOnDemandPrices(): BuiltInPrice[] {
  return BUILT_IN.map((p) => ({ ...p }))
}

/** A configured static price as a prices row: effective from its `effectiveFrom`, else from ALWAYS_MS. */
export function staticPriceRow(p: StaticPrice): Price {
  return {
    provider: p.provider,
    region: p.region,
    instanceType: p.instanceType,
    lifecycle: p.lifecycle,
    gpus: p.gpus,
    usdPerHour: p.usdPerHour,
    effectiveFromMs: p.effectiveFrom !== undefined ? Date.parse(p.effectiveFrom) : ALWAYS_MS,
  }
}

/**
 * The built-in on-demand prices of `region`, minus those the configuration
 * sets itself (provider aws, on-demand, same type, same region or region ''):
 * the configured row is written by `prices/static`, and writing both under the
 * same key would let whichever came last win. Built-in prices hold from
 * ALWAYS_MS, like static ones without a date, so every past hour has a price.
 */
export function awsOnDemandPrices(region: string, configured: readonly StaticPrice[]): Price[] {
  const overridden = new Set(
    configured.filter((p) => p.provider === 'aws' && p.lifecycle === 'on-demand' && (p.region === region || p.region === '')).map((p) => p.instanceType),
  )
  return BUILT_IN.filter((p) => p.region === region && !overridden.has(p.instanceType)).map((p) => ({
    provider: 'aws',
    region,
    instanceType: p.instanceType,
    lifecycle: 'on-demand' as const,
    gpus: p.gpus,
    usdPerHour: p.usdPerHour,
    effectiveFromMs: ALWAYS_MS,
  }))
}

/**
 * The `prices/static` poll source: writes every configured static price once
 * per interval. Rows are keyed by provider, region, type, lifecycle and
 * effective time (a ReplacingMergeTree), so the same table written again
 * collapses into the rows already there.
 */
export function staticPricesSource(prices: readonly StaticPrice[], timing: { intervalMs: number; timeoutMs: number }, deps: Pick<CollectorDeps, 'sinks'>): PollSource {
  return {
    kind: 'poll',
    name: 'prices/static',
    intervalMs: timing.intervalMs,
    timeoutMs: timing.timeoutMs,
    poll: async () => {
      const rows = prices.map(staticPriceRow)
      if (rows.length > 0) await deps.sinks.prices.write(rows)
      return { rows: rows.length }
    },
  }
}
