import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig, type StoreConfig } from '../config/schema'
import { storeSchema } from '../config/store'
import type { Params } from '../core/ports'
import { ConfigError, ConflictError } from '../core/errors'
import { createStore, type Store } from './client'
import { migrate, readMigrations, renderAll, renderMigration, splitStatements } from './migrate'

const dir = mkdtempSync(join(tmpdir(), 'gpuscope-migrate-'))
const base = defaultConfig().store
const config = { ...base, path: dir }
let store: Store

beforeAll(async () => {
  store = await createStore(config)
})
afterAll(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('migrate on embedded chDB', () => {
  it('applies every migration once, then nothing on a second run', async () => {
    const first = await migrate(store, config)
    expect(first.applied).toEqual(readMigrations().map((m) => m.name))
    const second = await migrate(store, config)
    expect(second).toEqual({ applied: [], alreadyApplied: first.applied.length, ttlChanged: [] })
  })

  it('creates every table of the storage design in the configured database', async () => {
    const rows = await store.query<{ name: string }>('SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name', { db: 'gpuscope' })
    expect(rows.map((r) => r.name)).toEqual([
      'actions', 'cloud_instances', 'gpu_samples', 'gpu_samples_1h', 'gpu_samples_1h_mv', 'gpu_samples_1m', 'gpu_samples_1m_mv',
      'node_seen', 'node_state', 'notebook_activity', 'pod_activity_1m', 'pod_activity_1m_mv', 'pod_util_1d', 'pod_util_1d_mv', 'pod_util_1h', 'pod_util_1h_mv', 'prices', 'schema_migrations', 'workload_intervals',
    ])
  })

  it('changes a TTL when the config changes, and only then', async () => {
    const longer = { ...config, ttl: { ...config.ttl, rawDays: 45 } }
    expect((await migrate(store, longer)).ttlChanged).toEqual(['gpu_samples: 30 -> 45 days'])
    expect((await migrate(store, longer)).ttlChanged).toEqual([])
  })

  it('refuses a migration whose file changed after it was applied', async () => {
    const edited = readMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'edited' } : m))
    await expect(migrate(store, config, edited)).rejects.toBeInstanceOf(ConflictError)
  })
})

describe('migration text', () => {
  it('fills TTL placeholders from config', () => {
    expect(renderMigration('TTL ts + toIntervalDay({{rawDays}}), {{hourDays}}', { rawDays: 7, minuteDays: 8, hourDays: 9 })).toBe('TTL ts + toIntervalDay(7), 9')
  })
  it('splits statements on a trailing semicolon and drops comment lines', () => {
    expect(splitStatements('-- c;\nCREATE A (x);\n\nCREATE B\n(y);\n')).toEqual(['CREATE A (x)', 'CREATE B\n(y)'])
  })
})

/** What a recording stand-in answers for the migrator's reads of the database's state. */
interface RecorderState {
  applied?: Array<{ version: number; name: string; checksum: string }>
  engines?: Array<{ name: string; engine: string }>
  ttls?: Array<{ name: string; engine_full: string }>
}

/** The parts of Store that migrate uses, recording every statement in order and answering reads from `state`. */
function recordingStore(mode: Store['mode'], state: RecorderState = {}) {
  const commands: string[] = []
  const reads: Array<{ sql: string; params: Params | undefined }> = []
  const store = {
    mode,
    database: 'gpuscope',
    location: 'recorder',
    command: async (sql: string) => {
      commands.push(sql)
    },
    query: async <T>(sql: string, params?: Params): Promise<T[]> => {
      reads.push({ sql, params })
      if (sql.includes('FROM schema_migrations')) return (state.applied ?? []) as T[]
      if (sql.startsWith('SELECT name, engine FROM system.tables')) return (state.engines ?? []) as T[]
      if (sql.startsWith('SELECT name, engine_full FROM system.tables')) return (state.ttls ?? []) as T[]
      throw new Error(`recorder: unexpected query ${sql}`)
    },
  }
  return { store: store as unknown as Store, commands, reads }
}

const clusterConfig: StoreConfig = storeSchema.parse({ mode: 'cluster', cluster: 'gpu', url: 'http://ch-0.example:8123' })
const isRecord = (sql: string) => sql.startsWith('INSERT INTO schema_migrations')
/** TTLs as the local tables of a fresh cluster database report them (the configured defaults). */
const freshTtls = [
  { name: 'gpu_samples_local', engine_full: "ReplicatedMergeTree('/p', '{replica}') TTL toDateTime(ts) + toIntervalDay(30) SETTINGS x" },
  { name: 'notebook_activity_local', engine_full: 'ReplicatedMergeTree TTL toDateTime(ts) + toIntervalDay(180)' },
  { name: 'gpu_samples_1m_local', engine_full: 'ReplicatedAggregatingMergeTree TTL ts + toIntervalDay(180)' },
  { name: 'gpu_samples_1h_local', engine_full: 'ReplicatedAggregatingMergeTree TTL ts + toIntervalDay(1095)' },
  { name: 'pod_activity_1m_local', engine_full: 'ReplicatedAggregatingMergeTree TTL ts + toIntervalDay(180)' },
  { name: 'pod_util_1h_local', engine_full: 'ReplicatedAggregatingMergeTree TTL ts + toIntervalDay(1095)' },
  { name: 'pod_util_1d_local', engine_full: 'ReplicatedAggregatingMergeTree TTL ts + toIntervalDay(1095)' },
]

describe('migrate through a recording store', () => {
  it('issues exactly the rendered cluster statements on a fresh database, recording each migration', async () => {
    const r = recordingStore('server', { ttls: freshTtls })
    const result = await migrate(r.store, clusterConfig)
    expect(r.commands.filter((c) => !isRecord(c))).toEqual(renderAll(clusterConfig))
    expect(r.commands.filter(isRecord)).toHaveLength(readMigrations().length)
    expect(result).toEqual({ applied: readMigrations().map((m) => m.name), alreadyApplied: 0, ttlChanged: [] })
    // Each migration's record follows its last statement.
    const lastOfFirst = r.commands.indexOf(renderAll(clusterConfig, readMigrations().slice(0, 1)).at(-1) as string)
    expect(isRecord(r.commands[lastOfFirst + 1] as string)).toBe(true)
  })

  it('reads TTLs from the local tables and alters them on every node', async () => {
    const r = recordingStore('server', { ttls: freshTtls })
    const config = { ...clusterConfig, ttl: { ...clusterConfig.ttl, rawDays: 45 } }
    const result = await migrate(r.store, config)
    expect(result.ttlChanged).toEqual(['gpu_samples: 30 -> 45 days'])
    expect(r.commands.at(-1)).toBe("ALTER TABLE gpu_samples_local ON CLUSTER 'gpu' MODIFY TTL toDateTime(ts) + toIntervalDay(45)")
    const ttlRead = r.reads.find((q) => q.sql.includes('engine_full'))
    expect(ttlRead?.params).toEqual({ db: 'gpuscope', names: ['gpu_samples_local', 'notebook_activity_local', 'gpu_samples_1m_local', 'gpu_samples_1h_local', 'pod_activity_1m_local', 'pod_util_1h_local', 'pod_util_1d_local'] })
  })

  it('runs only the setup and the ledger when every migration is recorded', async () => {
    const applied = readMigrations().map((m) => ({ version: m.version, name: m.name, checksum: m.checksum }))
    const engines = [{ name: 'schema_migrations', engine: 'ReplicatedReplacingMergeTree' }, { name: 'gpu_samples', engine: 'Distributed' }]
    const r = recordingStore('server', { applied, engines, ttls: freshTtls })
    expect(await migrate(r.store, clusterConfig)).toEqual({ applied: [], alreadyApplied: applied.length, ttlChanged: [] })
    expect(r.commands).toEqual(renderAll(clusterConfig, []))
  })

  it('issues the single-mode statements unchanged', async () => {
    const single = defaultConfig().store
    const r = recordingStore('embedded')
    await migrate(r.store, single)
    expect(r.commands.filter((c) => !isRecord(c))).toEqual(renderAll(single))
    expect(r.commands.some((c) => c.includes('ON CLUSTER') || c.includes('_local'))).toBe(false)
  })

  it.each([
    { name: 'cluster config over a single-mode database', config: clusterConfig, mode: 'server' as const, engines: [{ name: 'gpu_samples', engine: 'MergeTree' }], table: 'gpu_samples' },
    { name: 'cluster config over a single-mode ledger', config: clusterConfig, mode: 'server' as const, engines: [{ name: 'schema_migrations', engine: 'ReplacingMergeTree' }], table: 'schema_migrations' },
    { name: 'single config over a cluster database', config: defaultConfig().store, mode: 'server' as const, engines: [{ name: 'workload_intervals', engine: 'Distributed' }], table: 'workload_intervals' },
  ])('refuses a $name before creating any table', async ({ config, mode, engines, table }) => {
    const r = recordingStore(mode, { engines })
    await expect(migrate(r.store, config)).rejects.toThrow(new RegExp(`table gpuscope\\.${table} has engine \\w+, which store.mode '${config.mode}' does not use`))
    await expect(migrate(recordingStore(mode, { engines }).store, config)).rejects.toBeInstanceOf(ConflictError)
    expect(r.commands.some((c) => c.startsWith('CREATE TABLE IF NOT EXISTS gpu_samples'))).toBe(false)
  })

  it('refuses cluster mode on the embedded engine', async () => {
    const r = recordingStore('embedded')
    await expect(migrate(r.store, clusterConfig)).rejects.toBeInstanceOf(ConfigError)
    expect(r.commands).toEqual([])
  })
})
