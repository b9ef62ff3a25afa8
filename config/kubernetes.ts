import { z } from 'zod'

/** How a GPU extended resource counts toward GPUs. */
export const gpuResourceSchema = z.strictObject({
  /** Resource name, or a prefix ending in `*` (`nvidia.com/mig-*`). */
  name: z.string().min(1),
  /**
   * whole: 1 per unit; mig: the MIG profile's fraction of its GPU (core/mig.ts);
   * milli: thousandths of a GPU; shares: units of `sharesPerGpu` per GPU.
   */
  kind: z.enum(['whole', 'mig', 'milli', 'shares']),
  sharesPerGpu: z.number().positive().optional(),
  /** For schemes that request a GPU count and a per-GPU share separately (Alibaba gpu-count + gpu-milli): the share resource. */
  perGpuShareOf: z.string().optional(),
})

const labelKeys = z.array(z.string().min(1))

/** One Kubernetes cluster to watch. Credentials: kubeconfig, or in-cluster service account, or server + token. */
export const kubernetesClusterSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label (a-z, 0-9, -)'),
  /** Path to a kubeconfig; empty = in-cluster service account when running in a pod. */
  kubeconfig: z.string().default(''),
  context: z.string().default(''),
  /** Explicit API server URL (overrides kubeconfig's), e.g. the replay's loopback API. */
  server: z.string().default(''),
  /** Bearer token for `server` (secret). */
  token: z.string().default(''),
  insecureSkipTlsVerify: z.boolean().default(false),
  /** Provider for nodes without a providerID (on-prem DGX: `onprem`). */
  defaultProvider: z.string().default('onprem'),
})

const defaultGpuResources = () => [
  { name: 'nvidia.com/gpu', kind: 'whole' as const },
  { name: 'nvidia.com/mig-*', kind: 'mig' as const },
  { name: 'alibabacloud.com/gpu-count', kind: 'whole' as const, perGpuShareOf: 'alibabacloud.com/gpu-milli' },
]

const labelsSchema = z.strictObject({
  team: labelKeys.default(() => ['gpuscope.io/team', 'team']),
  project: labelKeys.default(() => ['gpuscope.io/project', 'project']),
  user: labelKeys.default(() => ['gpuscope.io/user', 'notebooks.kubeflow.org/creator', 'user', 'owner']),
  pool: labelKeys.default(() => ['gpuscope.io/pool', 'nvidia.com/gpu.pool', 'node.kubernetes.io/instance-type']),
  gpuModel: labelKeys.default(() => ['nvidia.com/gpu.product', 'alibabacloud.com/gpu-card-model']),
})

/** The Kubernetes collector. */
export const kubernetesSchema = z.strictObject({
  clusters: z.array(kubernetesClusterSchema).default([]),
  gpuResources: z.array(gpuResourceSchema).min(1).default(defaultGpuResources),
  /** Label or annotation keys read in order; the first present wins, then the namespace's labels. */
  labels: labelsSchema.default(() => labelsSchema.parse({})),
  /** How often a still-running pod's interval is re-written (last_seen). */
  heartbeatMs: z.number().int().positive().default(300_000),
  /** Watch backoff after an error, doubling up to the max. */
  backoffBaseMs: z.number().int().positive().default(1_000),
  backoffMaxMs: z.number().int().positive().default(60_000),
})

export type KubernetesConfig = z.infer<typeof kubernetesSchema>
export type KubernetesClusterConfig = z.infer<typeof kubernetesClusterSchema>
export type GpuResourceConfig = z.infer<typeof gpuResourceSchema>
