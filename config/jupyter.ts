import { z } from 'zod'

/** The placeholders a notebook URL template may use. */
const TEMPLATE_FIELDS = new Set(['name', 'namespace', 'cluster'])

/** True when every `{...}` in the template is a known placeholder and the URL is http(s). */
function isNotebookUrlTemplate(template: string): boolean {
  const fields = [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1] ?? '')
  return /^https?:\/\/[^/\s]+/i.test(template) && fields.every((f) => TEMPLATE_FIELDS.has(f))
}

/**
 * Jupyter kernel activity, polled for every running Kubeflow Notebook the way
 * the Kubeflow culler does (GET `<base>/api/kernels`, no auth: the culler
 * reaches the notebook Service inside the cluster).
 */
export const jupyterSchema = z.strictObject({
  enabled: z.boolean().default(true),
  intervalMs: z.number().int().positive().default(60_000),
  /** Timeout of one HTTP request to one notebook server (the culler uses 10 s). */
  timeoutMs: z.number().int().positive().default(5_000),
  /** Notebook server base URL when the directory gives none; {name}, {namespace} and {cluster} are filled in. */
  urlTemplate: z
    .string()
    .refine(isNotebookUrlTemplate, 'must be an http(s) URL whose only placeholders are {name}, {namespace} and {cluster}')
    .default('http://{name}.{namespace}.svc.cluster.local/notebook/{namespace}/{name}'),
  /** Parallel notebook servers polled at once. */
  concurrency: z.number().int().positive().max(256).default(16),
})

/** Validated Jupyter collector settings. */
export type JupyterConfig = z.infer<typeof jupyterSchema>
