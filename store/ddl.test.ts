import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storeSchema } from '../config/store'
import { openTestStore, type TestStore } from '../test/helpers/store'
import { renderLedger, renderStatement, renderTtlAlter, SHARD_KEYS } from './ddl'
import { readMigrations, renderAll, renderMigration, splitStatements } from './migrate'

const single = storeSchema.parse({})
const cluster = storeSchema.parse({ mode: 'cluster', cluster: 'gpu', url: 'http://ch-0.example:8123' })
const clusterDdl = renderAll(cluster)

/** The statements the migrator ran before cluster mode existed: the ledger, then each migration's statements as written. */
const LEDGER_BEFORE = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version     UInt32,
    name        String,
    checksum    String,
    applied_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY version`
const singleBefore = [LEDGER_BEFORE, ...readMigrations().flatMap((m) => splitStatements(renderMigration(m.sql, single.ttl)))]

/** The one statement that creates `name` (a table or view). */
const statementFor = (ddl: string[], name: string): string => {
  const found = ddl.filter((s) => /^CREATE (?:TABLE|MATERIALIZED VIEW) IF NOT EXISTS (\w+)/.exec(s)?.[1] === name)
  expect(found, name).toHaveLength(1)
  return found[0] as string
}
const PATH = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"

describe('store config for cluster mode', () => {
  it('defaults to single mode with the standard Keeper macros', () => {
    expect(single).toMatchObject({ mode: 'single', cluster: '', replicaPath: '/clickhouse/tables/{shard}/{database}/{table}', replicaName: '{replica}' })
  })

  it.each([
    { name: 'cluster mode without a cluster name', input: { mode: 'cluster', url: 'http://ch:8123' }, path: 'cluster', message: /needs store.cluster/ },
    { name: 'cluster mode on embedded chDB (no url)', input: { mode: 'cluster', cluster: 'gpu' }, path: 'url', message: /embedded chDB cannot be a cluster member/ },
    { name: 'a replica path without {shard}', input: { replicaPath: '/clickhouse/tables/{table}' }, path: 'replicaPath', message: /must contain \{shard\}/ },
    { name: 'a replica path without {table} or {uuid}', input: { replicaPath: '/clickhouse/tables/{shard}/x' }, path: 'replicaPath', message: /\{table\} or \{uuid\}/ },
    { name: 'a quote in the replica name', input: { replicaName: "r'1" }, path: 'replicaName', message: /quotes/ },
    { name: 'a cluster name with spaces', input: { cluster: 'my cluster' }, path: 'cluster', message: /plain cluster name/ },
    { name: 'an unknown mode', input: { mode: 'sharded' }, path: 'mode', message: /single|cluster/ },
  ])('rejects $name', ({ input, path, message }) => {
    const parsed = storeSchema.safeParse(input)
    expect(parsed.success).toBe(false)
    const issue = parsed.error?.issues.find((i) => i.path.join('.') === path)
    expect(issue?.message).toMatch(message)
  })
})

describe('single mode DDL', () => {
  it('is the statements of today, byte for byte', () => {
    expect(renderAll(single)).toEqual(singleBefore)
  })

  it('alters TTLs on the table itself, without ON CLUSTER', () => {
    expect(renderTtlAlter('gpu_samples', 'toDateTime(ts)', 45, single)).toBe('ALTER TABLE gpu_samples MODIFY TTL toDateTime(ts) + toIntervalDay(45)')
  })
})

describe('cluster mode DDL', () => {
  it('creates the database on every node first, then the replicated ledger', () => {
    expect(clusterDdl[0]).toBe("CREATE DATABASE IF NOT EXISTS gpuscope ON CLUSTER 'gpu'")
    const ledger = clusterDdl[1] as string
    expect(ledger.split('\n', 1)[0]).toBe("CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER 'gpu'")
    // One replica set over every node: no {shard} in the path, {shard} in the replica name.
    expect(ledger).toContain("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}')")
    expect(renderLedger(LEDGER_BEFORE, { ...cluster, replicaName: '{shard}_{replica}' })).toContain("'/clickhouse/tables/all/{database}/{table}', '{shard}_{replica}')")
  })

  it.each([
    { table: 'gpu_samples', engine: `ReplicatedMergeTree(${PATH})`, key: 'cityHash64(cluster, node)' },
    { table: 'workload_intervals', engine: `ReplicatedReplacingMergeTree(${PATH}, last_seen_ts)`, key: 'cityHash64(cluster, pod_uid)' },
    { table: 'node_state', engine: `ReplicatedMergeTree(${PATH})`, key: 'cityHash64(cluster, node)' },
    { table: 'notebook_activity', engine: `ReplicatedMergeTree(${PATH})`, key: 'cityHash64(cluster, namespace, notebook)' },
    { table: 'cloud_instances', engine: `ReplicatedMergeTree(${PATH})`, key: 'cityHash64(provider, instance_id)' },
    { table: 'prices', engine: `ReplicatedReplacingMergeTree(${PATH})`, key: 'cityHash64(provider, region, instance_type, lifecycle)' },
    { table: 'actions', engine: `ReplicatedReplacingMergeTree(${PATH})`, key: 'cityHash64(id)' },
    { table: 'gpu_samples_1m', engine: `ReplicatedAggregatingMergeTree(${PATH})`, key: 'cityHash64(cluster, node)' },
    { table: 'gpu_samples_1h', engine: `ReplicatedAggregatingMergeTree(${PATH})`, key: 'cityHash64(cluster, node)' },
  ])('$table: a replicated _local table ($engine) and a Distributed table sharded by $key', ({ table, engine, key }) => {
    const local = statementFor(clusterDdl, `${table}_local`)
    expect(local.split('\n', 1)[0]).toMatch(new RegExp(`^CREATE TABLE IF NOT EXISTS ${table}_local ON CLUSTER 'gpu'( AS \\w+_local)?$`))
    expect(local.split('\n').filter((l) => l.startsWith('ENGINE ='))).toEqual([`ENGINE = ${engine}`])
    expect(local).not.toContain('non_replicated_deduplication_window')
    // Columns, PARTITION BY, ORDER BY, TTL and the other settings are the single-mode lines, in order.
    const before = statementFor(singleBefore, table)
    const kept = (s: string) => s.split('\n').slice(1).filter((l) => !l.startsWith('ENGINE =') && !l.startsWith('SETTINGS'))
    expect(kept(local)).toEqual(kept(before))
    expect(statementFor(clusterDdl, table)).toBe(
      `CREATE TABLE IF NOT EXISTS ${table} ON CLUSTER 'gpu' AS ${table}_local\nENGINE = Distributed('gpu', 'gpuscope', '${table}_local', ${key})`,
    )
    // The local table exists before the Distributed table that points at it.
    expect(clusterDdl.indexOf(local)).toBeLessThan(clusterDdl.indexOf(statementFor(clusterDdl, table)))
  })

  it('gives every migrated table a shard key and a local + Distributed pair', () => {
    const created = singleBefore.slice(1).flatMap((s) => /^CREATE TABLE IF NOT EXISTS (\w+)/.exec(s)?.[1] ?? [])
    expect(created.sort()).toEqual(Object.keys(SHARD_KEYS).sort())
    expect(clusterDdl.filter((s) => /^CREATE TABLE IF NOT EXISTS \w+_local /.test(s))).toHaveLength(created.length)
    expect(clusterDdl.filter((s) => s.includes('ENGINE = Distributed('))).toHaveLength(created.length)
  })

  it('keeps settings that replicated tables accept and drops the non-replicated ones', () => {
    expect(statementFor(clusterDdl, 'gpu_samples_local')).toMatch(/\nSETTINGS ttl_only_drop_parts = 1$/)
    expect(statementFor(clusterDdl, 'node_state_local')).not.toContain('SETTINGS')
  })

  it.each([
    { view: 'gpu_samples_1m_mv', from: 'gpu_samples_local', to: 'gpu_samples_1m_local' },
    { view: 'gpu_samples_1h_mv', from: 'gpu_samples_1m_local', to: 'gpu_samples_1h_local' },
  ])('$view reads $from and writes $to on every node', ({ view, from, to }) => {
    const mv = statementFor(clusterDdl, view)
    expect(mv.split('\n', 1)[0]).toBe(`CREATE MATERIALIZED VIEW IF NOT EXISTS ${view} ON CLUSTER 'gpu' TO ${to} AS`)
    expect(mv.match(/\bFROM \w+/g)).toEqual([`FROM ${from}`])
    // The SELECT itself is unchanged apart from its source.
    const before = statementFor(singleBefore, view)
    expect(mv.split('\n').slice(1).join('\n')).toBe(before.split('\n').slice(1).join('\n').replace(/\bFROM (\w+)/, `FROM ${from}`))
  })

  it('adds a column to the _local table, then to the Distributed table over it, on every node (migration 0005)', () => {
    const added = clusterDdl.filter((s) => s.startsWith('ALTER TABLE '))
    expect(added).toEqual([
      "ALTER TABLE workload_intervals_local ON CLUSTER 'gpu' ADD COLUMN IF NOT EXISTS images Array(String) DEFAULT []",
      "ALTER TABLE workload_intervals ON CLUSTER 'gpu' ADD COLUMN IF NOT EXISTS images Array(String) DEFAULT []",
    ])
    // Both tables exist by then.
    expect(clusterDdl.indexOf(statementFor(clusterDdl, 'workload_intervals'))).toBeLessThan(clusterDdl.indexOf(added[0] as string))
    expect(singleBefore.filter((s) => s.startsWith('ALTER TABLE '))).toEqual(['ALTER TABLE workload_intervals ADD COLUMN IF NOT EXISTS images Array(String) DEFAULT []'])
  })

  it('alters TTLs on the local table on every node', () => {
    expect(renderTtlAlter('gpu_samples_1h', 'ts', 400, cluster)).toBe("ALTER TABLE gpu_samples_1h_local ON CLUSTER 'gpu' MODIFY TTL ts + toIntervalDay(400)")
  })

  it('uses the configured Keeper templates and database', () => {
    const custom = { ...cluster, database: 'fleet', replicaPath: '/ch/{shard}/{uuid}', replicaName: '{host}' }
    const ddl = renderAll(custom)
    expect(ddl[0]).toBe("CREATE DATABASE IF NOT EXISTS fleet ON CLUSTER 'gpu'")
    expect(statementFor(ddl, 'node_state_local')).toContain("ENGINE = ReplicatedMergeTree('/ch/{shard}/{uuid}', '{host}')")
    expect(statementFor(ddl, 'node_state')).toContain("Distributed('gpu', 'fleet', 'node_state_local', cityHash64(cluster, node))")
  })

  it.each([
    { name: 'an unknown statement kind', sql: 'ALTER TABLE gpu_samples DROP COLUMN x', error: /cannot render 'ALTER TABLE/ },
    { name: 'an added column without IF NOT EXISTS (a re-run would fail)', sql: 'ALTER TABLE gpu_samples ADD COLUMN x UInt8', error: /cannot render 'ALTER TABLE/ },
    { name: 'an ALTER of two clauses', sql: 'ALTER TABLE gpu_samples ADD COLUMN IF NOT EXISTS x UInt8, DROP COLUMN y', error: /cannot render 'ALTER TABLE/ },
    { name: 'an ALTER over several lines', sql: 'ALTER TABLE gpu_samples ADD COLUMN IF NOT EXISTS x UInt8\n    AFTER node', error: /cannot render 'ALTER TABLE/ },
    { name: 'a column added to an unknown table', sql: 'ALTER TABLE mystery ADD COLUMN IF NOT EXISTS x UInt8', error: /no Distributed shard key for table 'mystery'/ },
    { name: 'a table without a shard key', sql: 'CREATE TABLE IF NOT EXISTS mystery\n(\n    x UInt8\n)\nENGINE = MergeTree\nORDER BY x', error: /no Distributed shard key for table 'mystery'/ },
    { name: 'a non-MergeTree engine', sql: 'CREATE TABLE IF NOT EXISTS prices\n(\n    x UInt8\n)\nENGINE = Memory', error: /ENGINE = <x>MergeTree/ },
    { name: 'an already replicated engine', sql: "CREATE TABLE IF NOT EXISTS prices\n(\n    x UInt8\n)\nENGINE = ReplicatedMergeTree('/p', 'r')\nORDER BY x", error: /already names a Replicated engine/ },
    { name: 'a view that joins', sql: 'CREATE MATERIALIZED VIEW IF NOT EXISTS v TO gpu_samples_1m AS\nSELECT * FROM gpu_samples JOIN node_state USING (node)', error: /joins tables/ },
    { name: 'a view without a TO table', sql: 'CREATE MATERIALIZED VIEW IF NOT EXISTS v ENGINE = MergeTree ORDER BY x AS SELECT 1', error: /cannot render/ },
  ])('refuses to guess at $name', ({ sql, error }) => {
    expect(() => renderStatement(sql, cluster)).toThrow(error)
    expect(renderStatement(sql, single)).toEqual([sql])
  })
})

describe('ClickHouse parses every cluster statement (chDB formatQuery)', () => {
  let t: TestStore
  beforeAll(async () => {
    t = await openTestStore()
  })
  afterAll(async () => {
    await t?.close()
  })
  const format = async (q: string): Promise<string> => {
    const rows = await t.store.query<{ f: string }>('SELECT formatQuery({q:String}) AS f', { q })
    return rows[0]?.f ?? ''
  }

  it('rejects a statement that is not valid ClickHouse SQL (the check can fail)', async () => {
    await expect(format("CREATE TABLE x ON CLUSTER 'gpu' ENGINE = Distributed('gpu', 'db', 't', )")).rejects.toThrow(/Syntax error/)
  })

  it('accepts all of them, and the parsed text keeps ON CLUSTER, the engine and the shard key', async () => {
    const statements = [...clusterDdl, renderTtlAlter('gpu_samples', 'toDateTime(ts)', 45, cluster)]
    for (const q of statements) {
      const formatted = await format(q)
      // A backfill INSERT runs once through the Distributed tables (INSERT has no ON CLUSTER).
      if (q.startsWith('INSERT INTO ')) {
        expect(formatted).toMatch(/^INSERT INTO pod_(util_1h|activity_1m)\s+SETTINGS insert_deduplicate = 0\s+SELECT[\s\S]*\bFROM gpu_samples_1[hm]\s+WHERE pod != /)
        continue
      }
      expect(formatted, q.split('\n', 1)[0]).toMatch(/ON CLUSTER gpu/)
      if (q.startsWith('ALTER TABLE workload_intervals')) expect(formatted).toMatch(/^ALTER TABLE workload_intervals(_local)? ON CLUSTER gpu\s+\(ADD COLUMN IF NOT EXISTS `images` Array\(String\) DEFAULT \[\]\)$/)
      const engine = /ENGINE = (\w+)/.exec(q)?.[1]
      if (engine) expect(formatted).toContain(`ENGINE = ${engine}`)
      if (engine === 'Distributed') expect(formatted).toMatch(/cityHash64\([\w, ]+\)\)/)
    }
    // Database and ledger, a local + Distributed table per shard key, five views, the TTL alter, the pod tables' three TRUNCATEs and two backfills,
    // and migration 0005's column on workload_intervals_local and workload_intervals.
    expect(statements.length).toBe(2 + 2 * Object.keys(SHARD_KEYS).length + 5 + 1 + 5 + 2)
    expect(statements).toContain("TRUNCATE TABLE pod_util_1d_local ON CLUSTER 'gpu'")
  })
})
