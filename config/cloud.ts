import { z } from 'zod'

/** AWS region names such as `us-east-1`, `ap-southeast-3`, `us-gov-west-1`. */
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/

/**
 * AWS EC2: GPU instances, instance types and spot prices. Credentials are the
 * keys below when both are set, else the SDK's default chain (environment,
 * shared files, web identity, instance metadata).
 */
export const awsSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    regions: z
      .array(z.string().regex(REGION, 'must be an AWS region name such as us-east-1'))
      .min(1)
      .refine((r) => new Set(r).size === r.length, 'must not repeat a region')
      .default(() => ['us-east-1']),
    /** Override endpoint (tests, VPC endpoints); empty means the SDK's regional endpoint. */
    endpoint: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).default(''),
    accessKeyId: z.string().default(''),
    secretAccessKey: z.string().default(''),
    /** For temporary credentials given with the keys above. */
    sessionToken: z.string().default(''),
    intervalMs: z.number().int().positive().default(300_000),
    /** A whole poll of one region (every page of every call) must end within this. */
    timeoutMs: z.number().int().positive().default(30_000),
    /** Timeout of one HTTP request to EC2. */
    requestTimeoutMs: z.number().int().positive().default(10_000),
    /** Attempts per call, including the SDK's retries of throttling and 5xx answers. */
    maxAttempts: z.number().int().min(1).max(10).default(3),
    /** Instance types (GPU counts and models) rarely change: they are listed again after this. */
    instanceTypesTtlMs: z.number().int().positive().default(24 * 3_600_000),
    /** Spot prices are read for this product. */
    spotProductDescription: z.string().min(1).default('Linux/UNIX'),
    /** Tag keys that name the cluster and pool of an instance. */
    clusterTag: z.string().default('gpuscope.io/cluster'),
    poolTag: z.string().default('gpuscope.io/pool'),
  })
  .refine((c) => (c.accessKeyId === '') === (c.secretAccessKey === ''), {
    message: 'accessKeyId and secretAccessKey must be given together (or neither, for the default credential chain)',
    path: ['secretAccessKey'],
  })
  .refine((c) => c.sessionToken === '' || c.accessKeyId !== '', {
    message: 'sessionToken needs accessKeyId and secretAccessKey',
    path: ['sessionToken'],
  })

/**
 * A static price: on-prem amortised $/GPU-hour, a cloud without an adapter
 * yet, or an AWS on-demand price (which the EC2 API does not give). A price
 * holds from `effectiveFrom` (default: always) until a later entry for the
 * same provider, region, type and lifecycle.
 */
export const staticPriceSchema = z.strictObject({
  provider: z.string().min(1),
  region: z.string().default(''),
  /** Instance type, or a GPU model for on-prem (`H100`). */
  instanceType: z.string().min(1),
  lifecycle: z.enum(['spot', 'on-demand']).default('on-demand'),
  gpus: z.number().positive().default(1),
  usdPerHour: z.number().nonnegative(),
  /** ISO 8601 time from which the price holds, e.g. `2025-06-01T00:00:00Z`. */
  effectiveFrom: z.iso.datetime({ offset: true }).optional(),
})

/** Validated AWS collector settings. */
export type AwsConfig = z.infer<typeof awsSchema>
/** One validated static price entry. */
export type StaticPrice = z.infer<typeof staticPriceSchema>
