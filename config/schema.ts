import { z } from 'zod'
import { alertsSchema } from './alerts'
import { analyticsSchema } from './analytics'
import { authSchema } from './auth'
import { awsSchema, staticPriceSchema } from './cloud'
import { dcgmSchema } from './dcgm'
import { elasticsearchSchema } from './elasticsearch'
import { forecastSchema } from './forecast'
import { idleSchema } from './idle'
import { jupyterSchema } from './jupyter'
import { kubernetesSchema } from './kubernetes'
import { replaySchema } from './replay'

/**
 * The one configuration schema. Every field has a default so an empty file (or
 * none) is a working embedded set-up; unknown keys are errors so a typo never
 * silently falls back to a default. Other issues add sections here.
 */

const port = z.number().int().min(0).max(65_535)
const positiveInt = z.number().int().positive()
const days = z.number().int().min(1).max(36_500)

const apiSchema = z.strictObject({
  /** Loopback by default: exposing the API is a deliberate choice (deploy/ sets 0.0.0.0). */
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(8080),
})

const writerSchema = z.strictObject({
  /** Flush when this many rows are queued for one table. */
  batchRows: positiveInt.default(100_000),
  /** Flush at least this often while rows are queued. */
  flushIntervalMs: positiveInt.default(1_000),
  /** Writers block (backpressure) once this many rows wait for one table. */
  maxQueueRows: positiveInt.default(2_000_000),
  /** Attempts per batch before it is reported as failed. */
  maxAttempts: positiveInt.max(20).default(5),
  retryBaseMs: positiveInt.default(200),
  retryMaxMs: positiveInt.default(10_000),
})

const ttlSchema = z.strictObject({
  /** Raw per-scrape GPU samples. */
  rawDays: days.default(30),
  /** 1-minute rollup. */
  minuteDays: days.default(180),
  /** 1-hour rollup (forecasting reads this). */
  hourDays: days.default(1_095),
})

const storeSchema = z
  .strictObject({
    /** Embedded chDB data directory (used when no url is set). */
    path: z.string().min(1).default('./data'),
    /** ClickHouse server over HTTP(S); when set, the embedded engine is not used. */
    url: z.url({ protocol: /^https?$/ }).optional(),
    username: z.string().default('default'),
    password: z.string().default(''),
    database: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier (letters, digits, _)')
      .default('gpuscope'),
    requestTimeoutMs: positiveInt.default(60_000),
    ttl: ttlSchema.default(() => ttlSchema.parse({})),
    writer: writerSchema.default(() => writerSchema.parse({})),
  })
  .refine((s) => s.ttl.minuteDays >= s.ttl.rawDays && s.ttl.hourDays >= s.ttl.minuteDays, {
    message: 'rollups must be kept at least as long as the data they summarise (rawDays <= minuteDays <= hourDays)',
    path: ['ttl'],
  })

const logSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
})

const collectorSchema = z.strictObject({
  kubernetes: kubernetesSchema.default(() => kubernetesSchema.parse({})),
  dcgm: dcgmSchema.default(() => dcgmSchema.parse({})),
  jupyter: jupyterSchema.default(() => jupyterSchema.parse({})),
  aws: awsSchema.default(() => awsSchema.parse({})),
})

/** The whole gpuscope configuration. */
export const configSchema = z.strictObject({
  api: apiSchema.default(() => apiSchema.parse({})),
  store: storeSchema.default(() => storeSchema.parse({})),
  collector: collectorSchema.default(() => collectorSchema.parse({})),
  replay: replaySchema.default(() => replaySchema.parse({})),
  analytics: analyticsSchema.default(() => analyticsSchema.parse({})),
  idle: idleSchema.default(() => idleSchema.parse({})),
  forecast: forecastSchema.default(() => forecastSchema.parse({})),
  alerts: alertsSchema.default(() => alertsSchema.parse({})),
  auth: authSchema.default(() => authSchema.parse({})),
  elasticsearch: elasticsearchSchema.default(() => elasticsearchSchema.parse({})),
  /** Static prices: on-prem amortised $/GPU-hour and clouds without an adapter. */
  prices: z.array(staticPriceSchema).default([]),
  log: logSchema.default(() => logSchema.parse({})),
})

/** Effective, validated configuration (frozen by the loader). */
export type Config = z.infer<typeof configSchema>
export type StoreConfig = Config['store']
export type WriterConfig = StoreConfig['writer']
export type ApiConfig = Config['api']
export type CollectorConfig = Config['collector']

/**
 * Keys whose values are secrets: redacted by `config print` and never put in
 * a log line or an error message. Matched on the last path segment.
 */
export const SECRET_KEY = /(password|secret|token|webhook|apikey|accesskey|privatekey|credential)/i

/** A fresh default configuration (a new object each call). */
export const defaultConfig = (): Config => configSchema.parse({})
