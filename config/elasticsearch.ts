import { z } from 'zod'

/**
 * Where each log field lives in the indexed documents. The defaults are the
 * ECS names Filebeat and Elastic Agent write with Kubernetes metadata.
 */
const fieldsSchema = z.strictObject({
  /** The pod name (keyword). */
  pod: z.string().min(1).default('kubernetes.pod.name'),
  /** The namespace (keyword). */
  namespace: z.string().min(1).default('kubernetes.namespace'),
  /** The container name (keyword); empty when the documents have none. */
  container: z.string().default('kubernetes.container.name'),
  /** The log line. */
  message: z.string().min(1).default('message'),
  /** The event time (date). */
  timestamp: z.string().min(1).default('@timestamp'),
  /**
   * The cluster name (keyword), e.g. `orchestrator.cluster.name`; empty = the
   * index holds one cluster, so documents are not filtered by cluster.
   */
  cluster: z.string().default(''),
  /** Second sort key after the timestamp so search_after pages never skip or repeat lines (Filebeat: the byte offset in the log file). */
  tiebreaker: z.string().min(1).default('log.offset'),
})

function isHttpUrl(s: string): boolean {
  if (s === '') return true
  try {
    return /^https?:$/.test(new URL(s).protocol)
  } catch {
    return false
  }
}

/**
 * Pod log search in Elasticsearch. Unset `url` = logs come from the
 * Kubernetes pod log API instead (recent lines of pods that still exist).
 * Authenticate with an API key, or with username and password, not both.
 */
export const elasticsearchSchema = z
  .strictObject({
    /** Base URL, e.g. https://logs.example.com:9200; empty = not configured. */
    // A refined string, not a union, so GPUSCOPE_ELASTICSEARCH_URL still maps onto it.
    url: z.string().refine(isHttpUrl, 'must be an http(s) URL, or empty').default(''),
    /** API key, base64 `id:key` as Kibana shows it (secret). */
    apiKey: z.string().default(''),
    username: z.string().default(''),
    /** Password for `username` (secret). */
    password: z.string().default(''),
    /** Index pattern or alias searched. */
    index: z.string().min(1).default('filebeat-*'),
    fields: fieldsSchema.default(() => fieldsSchema.parse({})),
    /** Per-request timeout; a slow search becomes a warning, not a hung request. */
    timeoutMs: z.number().int().positive().max(300_000).default(10_000),
    /** PEM file of the CA that signed the cluster's certificate (self-managed clusters); empty = the system CAs. */
    caFile: z.string().default(''),
  })
  .refine((es) => es.apiKey === '' || (es.username === '' && es.password === ''), {
    message: 'set either apiKey or username/password, not both',
    path: ['apiKey'],
  })
  .refine((es) => (es.username === '') === (es.password === ''), {
    message: 'username and password go together',
    path: ['username'],
  })

/** Validated Elasticsearch settings. */
export type ElasticsearchConfig = z.infer<typeof elasticsearchSchema>
/** Field names of the log documents. */
export type LogFields = ElasticsearchConfig['fields']
