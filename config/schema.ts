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
import { leaderElectionSchema } from './leader'
import { replaySchema } from './replay'
import { storeSchema } from './store'

/**
 * The one configuration schema. Every field has a default so an empty file (or
 * none) is a working embedded set-up; unknown keys are errors so a typo never
 * silently falls back to a default. Other issues add sections here.
 */

const port = z.number().int().min(0).max(65_535)

const apiSchema = z.strictObject({
  /** Loopback by default: exposing the API is a deliberate choice (deploy/ sets 0.0.0.0). */
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(8080),
})

const logSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
})

const collectorSchema = z
  .strictObject({
    kubernetes: kubernetesSchema.default(() => kubernetesSchema.parse({})),
    dcgm: dcgmSchema.default(() => dcgmSchema.parse({})),
    jupyter: jupyterSchema.default(() => jupyterSchema.parse({})),
    aws: awsSchema.default(() => awsSchema.parse({})),
  })
  // dcgm discovery reads Endpoints with a configured Kubernetes cluster's credentials.
  .superRefine((c, ctx) => {
    const clusters = new Set(c.kubernetes.clusters.map((k) => k.name))
    c.dcgm.discovery?.kubernetes.forEach((d, i) => {
      if (!clusters.has(d.cluster)) {
        ctx.addIssue({ code: 'custom', message: `no collector.kubernetes cluster named '${d.cluster}'`, path: ['dcgm', 'discovery', 'kubernetes', i, 'cluster'] })
      }
    })
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
  /** Scheduler leader election with a Kubernetes Lease: only the holder runs alerts, the enforcer and the burst controller. */
  leaderElection: leaderElectionSchema.default(() => leaderElectionSchema.parse({})),
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
