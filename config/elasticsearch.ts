import { z } from 'zod'

/** Pod log search in Elasticsearch (ECS / Filebeat field names by default); unset = the Kubernetes pod log API. */
export const elasticsearchSchema = z.strictObject({
  url: z.string().default(''),
  /** API key (secret). */
  apiKey: z.string().default(''),
  index: z.string().default('filebeat-*'),
})

export type ElasticsearchConfig = z.infer<typeof elasticsearchSchema>
