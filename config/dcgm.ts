import { z } from 'zod'

const target = z.strictObject({
  /** Cluster the exporter's GPUs belong to. */
  cluster: z.string().min(1),
  /** Exporter endpoint, e.g. http://10.0.0.5:9400/metrics. */
  url: z.url({ protocol: /^https?$/ }),
  /** Node name when the exporter does not label it (Hostname / hostname). */
  node: z.string().default(''),
})

/** dcgm-exporter collection: scrape exporters directly, or read DCGM_* series from a Prometheus. */
export const dcgmSchema = z.strictObject({
  intervalMs: z.number().int().positive().default(15_000),
  timeoutMs: z.number().int().positive().default(5_000),
  /** Static list of exporter endpoints. */
  targets: z.array(target).default([]),
  /** A Prometheus that already scrapes the exporters (instant queries over DCGM_*). */
  prometheus: z
    .strictObject({
      url: z.url({ protocol: /^https?$/ }),
      /** Cluster name when the series carry no `cluster` label. */
      cluster: z.string().default('default'),
      /** Bearer token (secret). */
      token: z.string().default(''),
    })
    .optional(),
})

export type DcgmConfig = z.infer<typeof dcgmSchema>
