import { z } from 'zod'

/** AWS EC2: GPU instances, instance types and spot prices. Credentials come from the standard AWS chain or these secrets. */
export const awsSchema = z.strictObject({
  enabled: z.boolean().default(false),
  regions: z.array(z.string().min(1)).default(() => ['us-east-1']),
  /** Override endpoint (tests, VPC endpoints). */
  endpoint: z.string().default(''),
  accessKeyId: z.string().default(''),
  secretAccessKey: z.string().default(''),
  intervalMs: z.number().int().positive().default(300_000),
  timeoutMs: z.number().int().positive().default(30_000),
  /** Tag keys that name the cluster and pool of an instance. */
  clusterTag: z.string().default('gpuscope.io/cluster'),
  poolTag: z.string().default('gpuscope.io/pool'),
})

/** A static price: on-prem amortised $/GPU-hour, or a cloud without an adapter yet. */
export const staticPriceSchema = z.strictObject({
  provider: z.string().min(1),
  region: z.string().default(''),
  /** Instance type, or a GPU model for on-prem (`H100`). */
  instanceType: z.string().min(1),
  lifecycle: z.enum(['spot', 'on-demand']).default('on-demand'),
  gpus: z.number().positive().default(1),
  usdPerHour: z.number().nonnegative(),
})

export type AwsConfig = z.infer<typeof awsSchema>
export type StaticPrice = z.infer<typeof staticPriceSchema>
