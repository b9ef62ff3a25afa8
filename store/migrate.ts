import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { StoreConfig } from '../config/schema'
import { ConfigError, ConflictError } from '../core/errors'
import type { Store } from './client'
import { localTable, renderLedger, renderSetup, renderStatement, renderTtlAlter, SHARD_KEYS } from './ddl'

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations')

const CREATE_LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version     UInt32,
    name        String,
    checksum    String,
    applied_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY version`
const APPLIED = 'SELECT version, name, checksum FROM schema_migrations FINAL ORDER BY version'
const RECORD = `INSERT INTO schema_migrations (version, name, checksum, applied_at)
VALUES ({version:UInt32}, {name:String}, {checksum:String}, now64(3))`
const TABLE_TTL = `SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)}`
const TABLE_ENGINES = `SELECT name, engine FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)}`

/** A numbered migration file: `0001_core_tables.sql`. */
export interface Migration {
  version: number
  name: string
  /** SHA-256 of the file text before TTL placeholders are filled. */
  checksum: string
  sql: string
}

/** What one `migrate` run did. */
export interface MigrateResult {
  applied: string[]
  alreadyApplied: number
  ttlChanged: string[]
}

/** Reads the migration files in version order. */
export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), 'utf8')
      return { version: Number(file.slice(0, 4)), name: file, checksum: createHash('sha256').update(sql).digest('hex'), sql }
    })
}

/** Splits a migration into statements: a statement ends with `;` at the end of a line; `--` comments are dropped. */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
  return withoutComments
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter(Boolean)
}

/** Fills the TTL placeholders with the configured (validated integer) days. */
export function renderMigration(sql: string, ttl: StoreConfig['ttl']): string {
  return sql.replace(/\{\{(rawDays|minuteDays|hourDays)\}\}/g, (_, key: keyof StoreConfig['ttl']) => String(Math.trunc(ttl[key])))
}

/** The statements one migration runs under the configured layout (store.mode; see store/ddl.ts). */
export function migrationStatements(m: Migration, config: StoreConfig): string[] {
  return splitStatements(renderMigration(m.sql, config.ttl)).flatMap((s) => renderStatement(s, config))
}

/**
 * Every DDL statement `migrate` runs on an empty database, in order, for an
 * operator to review (`gpuscope migrate --print-ddl`): the setup and ledger,
 * then each migration. Ledger reads and inserts and TTL changes depend on the
 * database's state and are not included.
 */
export function renderAll(config: StoreConfig, migrations = readMigrations()): string[] {
  return [...renderSetup(config), renderLedger(CREATE_LEDGER, config), ...migrations.flatMap((m) => migrationStatements(m, config))]
}

/**
 * Applies every migration not yet recorded in schema_migrations, in order,
 * then brings table TTLs in line with the config. Statements are idempotent
 * (IF NOT EXISTS), so a run cut short is safely re-run. A recorded migration
 * whose file has changed is refused: applied migrations are never edited.
 * store.mode decides the layout (store/ddl.ts); a database laid out in the
 * other mode is refused before anything is created.
 */
export async function migrate(store: Store, config: StoreConfig, migrations = readMigrations()): Promise<MigrateResult> {
  if (config.mode === 'cluster' && store.mode === 'embedded') {
    throw new ConfigError([{ path: 'store.url', message: "store.mode 'cluster' needs a ClickHouse server: the embedded chDB cannot be a cluster member" }])
  }
  for (const statement of renderSetup(config)) await store.command(statement)
  await store.command(renderLedger(CREATE_LEDGER, config))
  await checkLayout(store, config)
  const applied = new Map((await store.query<{ version: number; name: string; checksum: string }>(APPLIED)).map((r) => [r.version, r]))
  const result: MigrateResult = { applied: [], alreadyApplied: 0, ttlChanged: [] }
  for (const m of migrations) {
    const done = applied.get(m.version)
    if (done) {
      if (done.checksum !== m.checksum) {
        throw new ConflictError(`migration ${m.name} was changed after it was applied (recorded as ${done.name}); add a new migration instead`)
      }
      result.alreadyApplied++
      continue
    }
    for (const statement of migrationStatements(m, config)) await store.command(statement)
    await store.command(RECORD, { version: m.version, name: m.name, checksum: m.checksum })
    result.applied.push(m.name)
  }
  result.ttlChanged = await reconcileTtl(store, config)
  return result
}

/**
 * Refuses a database laid out for the other store.mode: `IF NOT EXISTS` would
 * otherwise keep the old tables and silently run single-node tables under a
 * cluster config (or ALTER Distributed tables under a single one).
 */
async function checkLayout(store: Store, config: StoreConfig): Promise<void> {
  const names = ['schema_migrations', ...Object.keys(SHARD_KEYS)]
  const rows = await store.query<{ name: string; engine: string }>(TABLE_ENGINES, { db: store.database, names })
  const cluster = config.mode === 'cluster'
  for (const { name, engine } of rows) {
    const fits = name === 'schema_migrations' ? engine.startsWith('Replicated') === cluster : (engine === 'Distributed') === cluster
    if (fits) continue
    throw new ConflictError(
      `table ${store.database}.${name} has engine ${engine}, which store.mode '${config.mode}' does not use: ` +
        'this database was laid out in the other mode; point store.database at a new database (docs/clickhouse-cluster.md)',
    )
  }
}

const TTL_BY_TABLE: Record<string, { column: string; key: keyof StoreConfig['ttl'] }> = {
  gpu_samples: { column: 'toDateTime(ts)', key: 'rawDays' },
  notebook_activity: { column: 'toDateTime(ts)', key: 'minuteDays' },
  gpu_samples_1m: { column: 'ts', key: 'minuteDays' },
  gpu_samples_1h: { column: 'ts', key: 'hourDays' },
  pod_activity_1m: { column: 'ts', key: 'minuteDays' },
  pod_util_1h: { column: 'ts', key: 'hourDays' },
  pod_util_1d: { column: 'ts + toIntervalDay(1)', key: 'hourDays' },
}

/**
 * Alters a table's TTL only when the configured days differ from the table's, so a normal start does no work.
 * The TTL lives on the table holding the rows (`T_local` in cluster mode, read from the node the store reaches).
 */
async function reconcileTtl(store: Store, config: StoreConfig): Promise<string[]> {
  const byStored = new Map(Object.keys(TTL_BY_TABLE).map((name) => [localTable(name, config), name]))
  const rows = await store.query<{ name: string; engine_full: string }>(TABLE_TTL, { db: store.database, names: [...byStored.keys()] })
  const changed: string[] = []
  for (const { name: stored, engine_full } of rows) {
    const name = byStored.get(stored)
    const spec = name === undefined ? undefined : TTL_BY_TABLE[name]
    if (name === undefined || !spec) continue
    const days = Math.trunc(config.ttl[spec.key])
    const current = /TTL .*toIntervalDay\((\d+)\)/.exec(engine_full)?.[1]
    if (current === String(days)) continue
    await store.command(renderTtlAlter(name, spec.column, days, config))
    changed.push(`${name}: ${current ?? 'none'} -> ${days} days`)
  }
  return changed
}
