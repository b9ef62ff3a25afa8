import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { ConfigError, type ConfigIssue } from '../core/errors'
import { parseDuration } from '../core/windows'
import { alertsSchema, type BurstConfig, type EnforcerConfig } from './alerts'
import { idleSchema, type IdleConfig } from './idle'
import type { Config } from './schema'

/**
 * The policy file of a what-if (`gpuscope whatif --policy policy.yaml`, and
 * the body of `POST /api/v1/whatif`): a candidate idle policy, burst policy
 * and enforcer scope, each a partial override on top of the current
 * configuration and validated by the very schemas that validate the config
 * (config/idle.ts, config/alerts.ts), plus the window replayed and its step.
 *
 * ```yaml
 * window: 30d
 * step: 5m
 * idle: { jobWindowMs: 3600000, graceMs: 1800000 }
 * burst: { pools: [...] }          # same shape as alerts.burst; replaces the pools when given
 * enforcer: { maxActionsPerRun: 20 }
 * ```
 */

const DAY_MS = 86_400_000
const MINUTE_MS = 60_000
const MAX_WINDOW_MS = 92 * DAY_MS

const duration = (minMs: number, maxMs: number, bounds: string) =>
  z.string().superRefine((text, ctx) => {
    try {
      const ms = parseDuration(text)
      if (ms < minMs || ms > maxMs) ctx.addIssue({ code: 'custom', message: `must be ${bounds}` })
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message })
    }
  })

const section = z.record(z.string(), z.unknown())

/** The policy file as written: overrides are checked field by field against the config schemas by resolveWhatifPolicy. */
export const whatifPolicySchema = z.strictObject({
  /** Replayed history: the window ending now (or at `--end`), at most 92 days. */
  window: duration(MINUTE_MS, MAX_WINDOW_MS, 'between 1m and 92d').default('30d'),
  /** Evaluation step, like the enforcer's cron (default every 5 minutes). */
  step: duration(MINUTE_MS, 60 * MINUTE_MS, 'between 1m and 1h').default('5m'),
  /** Clusters replayed; empty = every cluster in the store. */
  clusters: z.array(z.string().min(1)).default([]),
  /** Overrides of `idle` (config/idle.ts fields: utilBelow, jobWindowMs, notebookWindowMs, windowsByKindMs, holdForMs, graceMs, ...). */
  idle: section.default({}),
  /** Overrides of `alerts.burst` (same shape; `pools` replaces the configured pools when given). */
  burst: section.default({}),
  /** Overrides of `alerts.enforcer` scope: namespaceAllowList, protectedNamespaces, maxActionsPerRun, deleteBarePods. */
  enforcer: section.default({}),
})

/** A candidate policy, merged on top of the current config and validated. */
export interface WhatifPolicy {
  windowMs: number
  stepMs: number
  clusters: string[]
  idle: IdleConfig
  burst: BurstConfig
  enforcer: EnforcerConfig
}

const burstSchema = alertsSchema.shape.burst
const enforcerSchema = alertsSchema.shape.enforcer

const issuesOf = (prefix: string, error: z.ZodError): ConfigIssue[] =>
  error.issues.map((i) => ({
    path: [prefix, ...i.path.map(String)].filter((s) => s !== '').join('.'),
    message: i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.map((k) => `'${k}'`).join(', ')}` : i.message,
  }))

const asRecord = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {})

/**
 * Validates a policy (parsed JSON or YAML) and merges it on top of the
 * current config: every problem is returned at once, each by its dotted path
 * (`idle.graceMs`, `burst.pools.0.targets`), so the API answers 400 and the
 * CLI exits with a config error naming the field.
 */
export function resolveWhatifPolicy(raw: unknown, config: Config): { policy: WhatifPolicy } | { issues: ConfigIssue[] } {
  const top = whatifPolicySchema.safeParse(raw ?? {})
  if (!top.success) return { issues: issuesOf('', top.error) }
  const o = top.data
  const idleOver = asRecord(o.idle)
  const idle = idleSchema.safeParse({ ...config.idle, ...idleOver, insights: { ...config.idle.insights, ...asRecord(idleOver.insights) } })
  const burst = burstSchema.safeParse({ ...config.alerts.burst, ...o.burst })
  const enforcer = enforcerSchema.safeParse({ ...config.alerts.enforcer, ...o.enforcer })
  const issues = [
    ...(idle.success ? [] : issuesOf('idle', idle.error)),
    ...(burst.success ? [] : issuesOf('burst', burst.error)),
    ...(enforcer.success ? [] : issuesOf('enforcer', enforcer.error)),
  ]
  if (!idle.success || !burst.success || !enforcer.success) return { issues }
  return { policy: { windowMs: parseDuration(o.window), stepMs: parseDuration(o.step), clusters: o.clusters, idle: idle.data, burst: burst.data, enforcer: enforcer.data } }
}

/** Reads a YAML (or JSON) policy file; a missing or unparsable file is a ConfigError naming it. */
export function readWhatifPolicyFile(file: string): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read the policy file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }], file)
  }
  try {
    return parseYaml(text) ?? {}
  } catch (err) {
    throw new ConfigError([{ path: '', message: `not YAML: ${(err as Error).message}` }], file)
  }
}
