import { z } from 'zod'

/** Jupyter kernel activity, polled for every running Kubeflow Notebook (as the Kubeflow culler does). */
export const jupyterSchema = z.strictObject({
  enabled: z.boolean().default(true),
  intervalMs: z.number().int().positive().default(60_000),
  timeoutMs: z.number().int().positive().default(5_000),
  /** Notebook server base URL; {name}, {namespace} and {cluster} are filled in. */
  urlTemplate: z.string().default('http://{name}.{namespace}.svc.cluster.local/notebook/{namespace}/{name}'),
  /** Parallel requests per poll. */
  concurrency: z.number().int().positive().max(256).default(16),
})

export type JupyterConfig = z.infer<typeof jupyterSchema>
