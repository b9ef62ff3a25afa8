import { z } from 'zod'

/**
 * The `store` section: where ClickHouse lives (embedded chDB, one server, or a
 * cluster), retention and the batching writer. Split out of schema.ts so the
 * cluster settings sit beside the rest of the store's knobs.
 */

const positiveInt = z.number().int().positive()
const days = z.number().int().min(1).max(36_500)

export const writerSchema = z.strictObject({
  /** Flush when this many rows are queued for one table. */
  batchRows: positiveInt.default(100_000),
  /** Flush at least this often while rows are queued. */
  flushIntervalMs: positiveInt.default(1_000),
  /** Writers block (backpressure) once this many rows wait for one table. */
  maxQueueRows: positiveInt.default(2_000_000),
  /** Attempts per batch before it is reported as failed. */
  maxAttempts: positiveInt.max(20).default(5),
  retryBaseMs: positiveInt.default(200),
  retryMaxMs: positiveInt.default(10_000),
})

export const ttlSchema = z.strictObject({
  /** Raw per-scrape GPU samples. */
  rawDays: days.default(30),
  /** 1-minute rollup. */
  minuteDays: days.default(180),
  /** 1-hour rollup (forecasting reads this). */
  hourDays: days.default(1_095),
})

/** Default Keeper path of each replicated table; ClickHouse expands the macros. */
export const DEFAULT_REPLICA_PATH = '/clickhouse/tables/{shard}/{database}/{table}'
/** Default replica name: the server's own `{replica}` macro. */
export const DEFAULT_REPLICA_NAME = '{replica}'

// Cluster names come from the server's remote_servers section; they are put in
// DDL as quoted literals, but a plain name keeps the generated text reviewable.
const clusterName = z.string().regex(/^([A-Za-z0-9_][A-Za-z0-9_.-]*)?$/, 'must be a plain cluster name (letters, digits, _ . -)')
// Keeper paths and replica names are quoted literals too: no quotes or backslashes.
const keeperText = z
  .string()
  .min(1)
  .regex(/^[^'\\\n]*$/, 'must not contain quotes, backslashes or newlines')

export const storeSchema = z
  .strictObject({
    /** Embedded chDB data directory (used when no url is set). */
    path: z.string().min(1).default('./data'),
    /** ClickHouse server over HTTP(S); when set, the embedded engine is not used. */
    url: z.url({ protocol: /^https?$/ }).optional(),
    username: z.string().default('default'),
    password: z.string().default(''),
    database: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier (letters, digits, _)')
      .default('gpuscope'),
    requestTimeoutMs: positiveInt.default(60_000),
    /**
     * `single`: plain MergeTree tables on one server (or embedded chDB).
     * `cluster`: ReplicatedMergeTree `<table>_local` tables plus Distributed
     * `<table>` tables, all created ON CLUSTER (docs/clickhouse-cluster.md).
     */
    mode: z.enum(['single', 'cluster']).default('single'),
    /** Cluster name from the servers' remote_servers; required in cluster mode. */
    cluster: clusterName.default(''),
    /**
     * Keeper path template of each replicated `_local` table. It must hold
     * {shard} (each shard its own replica set: a shared path would copy every
     * row to every shard, and Distributed reads would count it once per shard)
     * and {table} or {uuid} (each table its own path).
     */
    replicaPath: keeperText
      .refine((p) => p.includes('{shard}'), 'must contain {shard}: without it every shard would hold (and reads would count) every row')
      .refine((p) => p.includes('{table}') || p.includes('{uuid}'), 'must contain {table} or {uuid} so each table gets its own Keeper path')
      .default(DEFAULT_REPLICA_PATH),
    /** Replica name template; unique per server within a shard. */
    replicaName: keeperText.default(DEFAULT_REPLICA_NAME),
    ttl: ttlSchema.default(() => ttlSchema.parse({})),
    writer: writerSchema.default(() => writerSchema.parse({})),
  })
  .refine((s) => s.ttl.minuteDays >= s.ttl.rawDays && s.ttl.hourDays >= s.ttl.minuteDays, {
    message: 'rollups must be kept at least as long as the data they summarise (rawDays <= minuteDays <= hourDays)',
    path: ['ttl'],
  })
  .refine((s) => s.mode !== 'cluster' || s.cluster !== '', {
    message: "store.mode 'cluster' needs store.cluster: the cluster name from the servers' remote_servers",
    path: ['cluster'],
  })
  .refine((s) => s.mode !== 'cluster' || s.url !== undefined, {
    message: "store.mode 'cluster' needs store.url: the embedded chDB cannot be a cluster member",
    path: ['url'],
  })

/** The validated `store` section. */
export type StoreSectionConfig = z.infer<typeof storeSchema>
