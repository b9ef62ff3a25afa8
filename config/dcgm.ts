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

/** A DNS-1123 label: the form of namespace names. */
const dnsLabel = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label (a-z, 0-9, -)')
/** A DNS-1035 label: the form of Service names. */
const serviceName = z.string().regex(/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a Service name (a DNS-1035 label: a-z, 0-9, -, starting with a letter)')
/** An IANA service name, the form of a named container/Service port. */
const portName = z.string().regex(/^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/, 'must be a port name (up to 15 of a-z, 0-9, -) or a port number')

/**
 * Exporter pods found through the EndpointSlices (or, where those are not
 * served, the Endpoints) of the exporter's Service in one configured
 * Kubernetes cluster; every ready endpoint becomes a target of that cluster.
 */
export const dcgmKubernetesDiscoverySchema = z.strictObject({
  /** A `collector.kubernetes.clusters[].name`: its API credentials are used, and the targets join that cluster's `dcgm/<cluster>` source. */
  cluster: clusterName,
  namespace: dnsLabel.default('gpu-operator'),
  /** The exporter's Service (the GPU operator's is `nvidia-dcgm-exporter`). */
  service: serviceName.default('nvidia-dcgm-exporter'),
  /** The endpoint port to scrape: its name in the EndpointSlice / Endpoints ports, or a number used as is. */
  port: z.union([portName, z.number().int().min(1).max(65_535)]).default('gpu-metrics'),
  scheme: z.enum(['http', 'https']).default('http'),
  path: z.string().startsWith('/', 'must start with /').default('/metrics'),
})

/** Where exporter targets are discovered, beside the static `targets`. */
export const dcgmDiscoverySchema = z.strictObject({
  kubernetes: z.array(dcgmKubernetesDiscoverySchema).default([]),
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
    /** Exporters found at run time (absent = static targets only). */
    discovery: dcgmDiscoverySchema.optional(),
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
    const services = new Set<string>()
    c.discovery?.kubernetes.forEach((d, i) => {
      const key = `${d.cluster}/${d.namespace}/${d.service}`
      if (services.has(key)) ctx.addIssue({ code: 'custom', message: `service ${d.namespace}/${d.service} of cluster '${d.cluster}' is listed twice`, path: ['discovery', 'kubernetes', i, 'service'] })
      services.add(key)
    })
  })

/** Effective dcgm collector configuration. */
export type DcgmConfig = z.infer<typeof dcgmSchema>
/** One static exporter target. */
export type DcgmTarget = z.infer<typeof dcgmTargetSchema>
/** The Prometheus reader's settings. */
export type DcgmPrometheusConfig = z.infer<typeof dcgmPrometheusSchema>
/** One Kubernetes Service whose endpoints are exporter targets. */
export type DcgmKubernetesDiscovery = z.infer<typeof dcgmKubernetesDiscoverySchema>
