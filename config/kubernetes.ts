import { z } from 'zod'

const positiveInt = z.number().int().positive()

/** How a GPU extended resource counts toward GPUs. */
export const gpuResourceSchema = z
  .strictObject({
    /** Resource name, or a prefix ending in `*` (`nvidia.com/mig-*`). */
    name: z.string().min(1),
    /**
     * whole: 1 per unit; mig: the MIG profile's fraction of its GPU (core/mig.ts);
     * milli: thousandths of a GPU; shares: units of `sharesPerGpu` per GPU.
     */
    kind: z.enum(['whole', 'mig', 'milli', 'shares']),
    sharesPerGpu: z.number().positive().optional(),
    /**
     * For schemes that request a GPU count and a per-GPU share separately
     * (Alibaba gpu-count + gpu-milli): the share resource. GPUs = count × share / perGpuShareUnits.
     */
    perGpuShareOf: z.string().min(1).optional(),
    /** Units of the `perGpuShareOf` resource that make one whole GPU (gpu-milli: 1000). */
    perGpuShareUnits: z.number().positive().default(1000),
  })
  .refine((r) => r.kind !== 'shares' || r.sharesPerGpu !== undefined, { message: "kind 'shares' needs sharesPerGpu", path: ['sharesPerGpu'] })
  .refine((r) => r.perGpuShareOf === undefined || r.kind === 'whole', { message: "perGpuShareOf is only for kind 'whole' (a GPU count)", path: ['perGpuShareOf'] })

const labelKeys = z.array(z.string().min(1))

const serverUrl = z.union([z.literal(''), z.url({ protocol: /^https?$/ })])

/** One Kubernetes cluster to watch. Credentials: kubeconfig, or in-cluster service account, or server + token. */
export const kubernetesClusterSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label (a-z, 0-9, -)'),
    /** Path to a kubeconfig; empty = server + token when `server` is set, else the in-cluster service account. */
    kubeconfig: z.string().default(''),
    /** Context in the kubeconfig; empty = its current-context. */
    context: z.string().default(''),
    /** Explicit API server URL (overrides kubeconfig's), e.g. the replay's loopback API. */
    server: serverUrl.default(''),
    /** Bearer token for `server` (secret; overrides the kubeconfig user's). */
    token: z.string().default(''),
    insecureSkipTlsVerify: z.boolean().default(false),
    /** Provider for nodes without a providerID (on-prem DGX: `onprem`). */
    defaultProvider: z.string().default('onprem'),
    /** GPU model for GPU nodes whose labels name none (no GPU feature discovery). */
    defaultGpuModel: z.string().default(''),
  })
  // @kubernetes/client-node refuses plain HTTP unless TLS verification is explicitly off.
  .refine((c) => !c.server.startsWith('http://') || c.insecureSkipTlsVerify, {
    message: 'a plain http:// server needs insecureSkipTlsVerify: true',
    path: ['server'],
  })

const defaultGpuResources = () => [
  { name: 'nvidia.com/gpu', kind: 'whole' as const, perGpuShareUnits: 1000 },
  { name: 'nvidia.com/mig-*', kind: 'mig' as const, perGpuShareUnits: 1000 },
  { name: 'alibabacloud.com/gpu-count', kind: 'whole' as const, perGpuShareOf: 'alibabacloud.com/gpu-milli', perGpuShareUnits: 1000 },
]

const labelsSchema = z.strictObject({
  team: labelKeys.default(() => ['gpuscope.io/team', 'team']),
  project: labelKeys.default(() => ['gpuscope.io/project', 'project']),
  user: labelKeys.default(() => ['gpuscope.io/user', 'notebooks.kubeflow.org/creator', 'opendatahub.io/username', 'user', 'owner']),
  pool: labelKeys.default(() => ['gpuscope.io/pool', 'nvidia.com/gpu.pool', 'node.kubernetes.io/instance-type']),
  gpuModel: labelKeys.default(() => ['nvidia.com/gpu.product', 'alibabacloud.com/gpu-card-model']),
})

/** The Kubernetes collector. */
export const kubernetesSchema = z
  .strictObject({
    clusters: z.array(kubernetesClusterSchema).default([]),
    gpuResources: z.array(gpuResourceSchema).min(1).default(defaultGpuResources),
    /**
     * Label or annotation keys read in order on the pod, then on its owners
     * (Job, StatefulSet, Notebook, ...), then on its namespace; the first present wins.
     */
    labels: labelsSchema.default(() => labelsSchema.parse({})),
    /** How often every open interval's last_seen is re-written (and node heartbeats are considered). */
    heartbeatMs: positiveInt.default(300_000),
    /**
     * How often every GPU node is checked against the API's state: a changed node gets its node_state row, an
     * unchanged one its time in node_seen ("still watched"). node_state holds changes only: capacity holds from
     * one row to the next, and repeated rows (98% of node_state at a 5-minute heartbeat) were what capacity
     * queries spent their time scanning (docs/benchmarks.md, bench api).
     */
    nodeHeartbeatMs: positiveInt.default(3_600_000),
    /** Watch backoff after an error, doubling up to the max (also the retry period of an absent Notebook CRD). */
    backoffBaseMs: positiveInt.default(1_000),
    backoffMaxMs: positiveInt.default(60_000),
    /** Objects per list page (limit/continue). */
    listPageSize: positiveInt.max(10_000).default(500),
    /** Server-side watch timeout; the watch is then resumed from its resourceVersion. */
    watchTimeoutMs: positiveInt.min(1_000).default(300_000),
  })
  .refine((k) => new Set(k.clusters.map((c) => c.name)).size === k.clusters.length, { message: 'cluster names must be unique', path: ['clusters'] })
  .refine((k) => k.backoffMaxMs >= k.backoffBaseMs, { message: 'backoffMaxMs must be >= backoffBaseMs', path: ['backoffMaxMs'] })
  .refine(
    (k) => {
      const shareOf = new Set(k.gpuResources.flatMap((r) => (r.perGpuShareOf ? [r.perGpuShareOf] : [])))
      return !k.gpuResources.some((r) => shareOf.has(r.name))
    },
    { message: 'a perGpuShareOf resource must not also be listed as a GPU resource (it would be counted twice)', path: ['gpuResources'] },
  )

/** Validated Kubernetes collector settings. */
export type KubernetesConfig = z.infer<typeof kubernetesSchema>
/** One validated cluster entry. */
export type KubernetesClusterConfig = z.infer<typeof kubernetesClusterSchema>
/** One validated GPU resource rule. */
export type GpuResourceConfig = z.infer<typeof gpuResourceSchema>
/** The label/annotation key lists. */
export type KubernetesLabelKeys = KubernetesConfig['labels']
