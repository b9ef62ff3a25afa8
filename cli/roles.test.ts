import { describe, expect, it } from 'vitest'
import { configSchema } from '../config/schema'
import { ConfigError } from '../core/errors'
import { configuredClusters, planRole, shardCollectors } from './roles'

const withServer = (extra: Record<string, unknown> = {}) => configSchema.parse({ store: { url: 'http://127.0.0.1:8123' }, ...extra })
const fleet = () =>
  withServer({
    collector: {
      kubernetes: { clusters: [{ name: 'a', server: 'https://a.example:6443' }, { name: 'b', server: 'https://b.example:6443' }] },
      dcgm: {
        targets: [{ cluster: 'a', url: 'http://10.0.0.1:9400/metrics' }, { cluster: 'b', url: 'http://10.0.0.2:9400/metrics' }, { cluster: 'c', url: 'http://10.0.0.3:9400/metrics' }],
        prometheus: { url: 'http://prom:9090', cluster: 'b' },
        discovery: { kubernetes: [{ cluster: 'a' }, { cluster: 'b' }] },
      },
      aws: { enabled: true },
    },
  })

describe('planRole', () => {
  it.each([
    ['all', { api: true, fleetMetrics: true, admissionTls: true, collectors: true, scheduler: true, replay: true, migrate: true }],
    ['api', { api: true, fleetMetrics: true, admissionTls: true, collectors: false, scheduler: false, replay: false, migrate: false }],
    ['collector', { api: false, fleetMetrics: false, admissionTls: false, collectors: true, scheduler: false, replay: false, migrate: true }],
    ['scheduler', { api: false, fleetMetrics: false, admissionTls: false, collectors: false, scheduler: true, replay: false, migrate: true }],
  ] as const)('role %s runs exactly its parts', (role, parts) => {
    expect(planRole(withServer(), { role })).toEqual({ role, ...parts })
  })

  it('defaults to all, which is the only role on the embedded store', () => {
    expect(planRole(configSchema.parse({})).role).toBe('all')
    expect(() => planRole(configSchema.parse({}), { role: 'api' })).toThrow(ConfigError)
    expect(() => planRole(configSchema.parse({}), { role: 'api' })).toThrow(/store\.url.*--role all/)
  })

  it('refuses an unknown role and --clusters on a role that collects nothing', () => {
    expect(() => planRole(withServer(), { role: 'worker' as never })).toThrow(/--role must be one of all, api, collector, scheduler/)
    expect(() => planRole(withServer(), { role: 'api', clusters: ['a'] })).toThrow(/--clusters .* --role collector/)
  })
})

describe('shardCollectors', () => {
  it('knows every cluster the collector config names', () => {
    expect(configuredClusters(fleet())).toEqual(['a', 'b', 'c'])
  })

  it('keeps only the shard’s Kubernetes clusters, exporter targets and Prometheus; the cloud collector stays out unless asked', () => {
    const b = shardCollectors(fleet(), { clusters: ['b'] }).collector
    expect(b.kubernetes.clusters.map((c) => c.name)).toEqual(['b'])
    expect(b.dcgm.targets.map((t) => t.cluster)).toEqual(['b'])
    expect(b.dcgm.prometheus?.url).toBe('http://prom:9090')
    expect(b.dcgm.discovery?.kubernetes.map((d) => d.cluster)).toEqual(['b'])
    expect(b.aws.enabled).toBe(false)
    const ac = shardCollectors(fleet(), { clusters: ['a', 'c'], cloud: true }).collector
    expect(ac.kubernetes.clusters.map((c) => c.name)).toEqual(['a'])
    expect(ac.dcgm.targets.map((t) => t.cluster)).toEqual(['a', 'c'])
    expect(ac.dcgm.prometheus).toBeUndefined()
    expect(ac.aws.enabled).toBe(true)
  })

  it('shards partition the fleet: every target is collected by exactly one shard', () => {
    const shards = [['a'], ['b', 'c']].map((clusters) => shardCollectors(fleet(), { clusters }).collector)
    expect(shards.flatMap((s) => s.dcgm.targets.map((t) => t.url)).sort()).toEqual(fleet().collector.dcgm.targets.map((t) => t.url).sort())
    expect(shards.flatMap((s) => s.kubernetes.clusters.map((c) => c.name)).sort()).toEqual(['a', 'b'])
  })

  it('without --clusters collects everything, and --no-cloud turns only the cloud collector off', () => {
    expect(shardCollectors(fleet(), {})).toEqual(fleet())
    const noCloud = shardCollectors(fleet(), { cloud: false }).collector
    expect(noCloud.aws.enabled).toBe(false)
    expect(noCloud.dcgm.targets).toHaveLength(3)
  })

  it('names unknown clusters and what is configured', () => {
    expect(() => shardCollectors(fleet(), { clusters: ['a', 'zz'] })).toThrow(/'zz' not configured \(configured: a, b, c\)/)
    expect(() => shardCollectors(fleet(), { clusters: [] })).toThrow(/at least one/)
  })
})
