import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../config/schema'
import { ConflictError } from '../core/errors'
import { createStore, type Store } from './client'
import { migrate, readMigrations, renderMigration, splitStatements } from './migrate'

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
      'node_state', 'notebook_activity', 'prices', 'schema_migrations', 'workload_intervals',
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
