import { z } from 'zod'

const positiveInt = z.number().int().positive()
/** Cluster names become part of a source name (`dcgm/<cluster>`), so they are DNS labels like Kubernetes cluster names. */
const clusterName = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label (a-z, 0-9, -)')
const httpUrl = z.url({ protocol: /^https?$/ })

/** A regular expression given as a string; rejected at load time when it does not compile. */
const regexSource = z.string().refine(
  (s) => {
    try {
      new RegExp(s)
      return true
    } catch {
      return false
    }
  },
  { message: 'must be a valid regular expression' },
)

/** One dcgm-exporter endpoint scraped directly. */
export const dcgmTargetSchema = z.strictObject({
  /** Cluster the exporter's GPUs belong to; targets of one cluster form one source. */
  cluster: clusterName,
  /** Exporter endpoint, e.g. http://10.0.0.5:9400/metrics. */
  url: httpUrl,
  /** Node name when the exporter labels none (Hostname / hostname); empty = the URL's host. */
  node: z.string().default(''),
})

/** A Prometheus that already scrapes the exporters; gpuscope reads DCGM_* series through its HTTP API. */
export const dcgmPrometheusSchema = z.strictObject({
  /** Base URL of the Prometheus server (a path prefix is kept): `http://prometheus:9090`. */
  url: httpUrl,
  /** Cluster name for series that carry no `cluster` label. */
  cluster: clusterName.default('default'),
  /** Bearer token (secret). */
  token: z.string().default(''),
  /**
   * Without honor_labels a Prometheus ServiceMonitor overwrites `pod`/`namespace`/`container` with the
   * exporter's own pod; pod names matching this pattern are therefore not a workload and are ignored.
   */
  exporterPodPattern: regexSource.default('dcgm-exporter'),
})

/** dcgm-exporter collection: scrape exporters directly, or read DCGM_* series from a Prometheus. */
export const dcgmSchema = z
  .strictObject({
    intervalMs: positiveInt.default(15_000),
    /** Per request: one exporter scrape, or one Prometheus query. */
    timeoutMs: positiveInt.default(5_000),
    /** Exporters scraped in parallel within one cluster. */
    concurrency: positiveInt.max(256).default(16),
    /** Rows kept for the next poll when the store refuses a write; older rows are dropped (and counted) past this. */
    maxPendingRows: positiveInt.default(100_000),
    /** Static list of exporter endpoints. */
    targets: z.array(dcgmTargetSchema).default([]),
    prometheus: dcgmPrometheusSchema.optional(),
  })
  .refine((c) => c.timeoutMs <= c.intervalMs, {
    message: 'timeoutMs must not exceed intervalMs (a scrape may not outlive its poll)',
    path: ['timeoutMs'],
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>()
    c.targets.forEach((t, i) => {
      const key = `${t.cluster} ${t.url}`
      if (seen.has(key)) ctx.addIssue({ code: 'custom', message: `duplicate target '${t.url}' in cluster '${t.cluster}'`, path: ['targets', i, 'url'] })
      seen.add(key)
    })
  })

/** Effective dcgm collector configuration. */
export type DcgmConfig = z.infer<typeof dcgmSchema>
/** One static exporter target. */
export type DcgmTarget = z.infer<typeof dcgmTargetSchema>
/** The Prometheus reader's settings. */
export type DcgmPrometheusConfig = z.infer<typeof dcgmPrometheusSchema>
