import type { Config } from '../config/schema'
import { ConfigError } from '../core/errors'

/**
 * `gpuscope serve --role`: which parts of the service one process runs.
 * `all` is the single process of the embedded default; the others run alone
 * against a ClickHouse server or cluster, so they scale apart:
 * - `api`: the HTTP API, fleet gauges on /metrics and the admission hook;
 *   stateless, run as many as needed;
 * - `collector`: the collectors, sharded by cluster with `--clusters`;
 * - `scheduler`: alerts, digests, the idle enforcer and the burst controller,
 *   which must act exactly once (leader election when more than one runs).
 */
export const ROLES = ['all', 'api', 'collector', 'scheduler'] as const
export type Role = (typeof ROLES)[number]

/** What a role runs. Every role serves /healthz, /readyz and /metrics. */
export interface RolePlan {
  role: Role
  /** /api/v1, the OpenAPI document and the admission hook on the API port. */
  api: boolean
  /** Fleet gauges from the store on /metrics. */
  fleetMetrics: boolean
  /** Admission webhook over TLS on its own port (when a certificate is configured). */
  admissionTls: boolean
  collectors: boolean
  /** Alerts, enforcer, burst controller. */
  scheduler: boolean
  /** The simulated cluster of `npm start` (embedded single process only). */
  replay: boolean
  /** Applies migrations at start; the api role only checks the schema is current (it never runs DDL). */
  migrate: boolean
}

/** What `serve` was asked for on the command line. */
export interface ServeOptions {
  role?: Role
  /** Collector shard: the clusters this process collects (default: every configured one). */
  clusters?: readonly string[]
  /** Run the cloud (AWS) collector in this shard; default: yes without --clusters, no with it. */
  cloud?: boolean
}

/** The plan for a role, refusing combinations that cannot work. */
export function planRole(config: Config, options: ServeOptions = {}): RolePlan {
  const role = options.role ?? 'all'
  if (!ROLES.includes(role)) throw usage(`--role must be one of ${ROLES.join(', ')} (got '${String(role)}')`)
  if (role !== 'all' && !config.store.url) {
    throw usage(
      `--role ${role} runs alone against a ClickHouse server (store.url / GPUSCOPE_STORE_URL): the embedded chDB data directory belongs to one process, so use --role all (the default) on the embedded store`,
    )
  }
  if (options.clusters && role !== 'collector' && role !== 'all') throw usage(`--clusters shards collectors: it goes with --role collector (or all), not ${role}`)
  const all = role === 'all'
  return {
    role,
    api: all || role === 'api',
    fleetMetrics: all || role === 'api',
    admissionTls: all || role === 'api',
    collectors: all || role === 'collector',
    scheduler: all || role === 'scheduler',
    replay: all,
    migrate: role !== 'api',
  }
}

/** Every cluster name the collector config mentions (Kubernetes clusters, exporter targets, a Prometheus). */
export function configuredClusters(config: Config): string[] {
  const c = config.collector
  const names = [...c.kubernetes.clusters.map((k) => k.name), ...c.dcgm.targets.map((t) => t.cluster), ...(c.dcgm.prometheus ? [c.dcgm.prometheus.cluster] : [])]
  return [...new Set(names)].sort()
}

/**
 * The collector config of one shard: only the named clusters' Kubernetes
 * watches, exporter targets and Prometheus (a Prometheus is taken by the shard
 * that lists its default cluster). The AWS collector is fleet-wide: it runs
 * where `cloud` says (by default only in an unsharded process), so two shards
 * never both poll it.
 */
export function shardCollectors(config: Config, options: Pick<ServeOptions, 'clusters' | 'cloud'>): Config {
  const wanted = options.clusters
  const cloud = options.cloud ?? wanted === undefined
  if (wanted === undefined) return cloud ? config : { ...config, collector: { ...config.collector, aws: { ...config.collector.aws, enabled: false } } }
  if (wanted.length === 0) throw usage('--clusters needs at least one cluster name')
  const known = configuredClusters(config)
  const unknown = wanted.filter((n) => !known.includes(n))
  if (unknown.length) {
    throw usage(`--clusters: ${unknown.map((n) => `'${n}'`).join(', ')} not configured (configured: ${known.length ? known.join(', ') : 'none'})`)
  }
  const keep = new Set(wanted)
  const c = config.collector
  const prometheus = c.dcgm.prometheus && keep.has(c.dcgm.prometheus.cluster) ? c.dcgm.prometheus : undefined
  const { prometheus: _dropped, ...dcgm } = c.dcgm
  return {
    ...config,
    collector: {
      ...c,
      kubernetes: { ...c.kubernetes, clusters: c.kubernetes.clusters.filter((k) => keep.has(k.name)) },
      dcgm: {
        ...dcgm,
        targets: c.dcgm.targets.filter((t) => keep.has(t.cluster)),
        ...(prometheus ? { prometheus } : {}),
        ...(c.dcgm.discovery ? { discovery: { ...c.dcgm.discovery, kubernetes: c.dcgm.discovery.kubernetes.filter((d) => keep.has(d.cluster)) } } : {}),
      },
      aws: { ...c.aws, enabled: c.aws.enabled && cloud },
    },
  }
}

function usage(message: string): ConfigError {
  return new ConfigError([{ path: 'serve', message }], 'serve options')
}
