import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { StoreConfig } from '../config/schema'
import { ConflictError } from '../core/errors'
import type { Store } from './client'

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

/**
 * Applies every migration not yet recorded in schema_migrations, in order,
 * then brings table TTLs in line with the config. Statements are idempotent
 * (IF NOT EXISTS), so a run cut short is safely re-run. A recorded migration
 * whose file has changed is refused: applied migrations are never edited.
 */
export async function migrate(store: Store, config: StoreConfig, migrations = readMigrations()): Promise<MigrateResult> {
  await store.command(CREATE_LEDGER)
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
    for (const statement of splitStatements(renderMigration(m.sql, config.ttl))) await store.command(statement)
    await store.command(RECORD, { version: m.version, name: m.name, checksum: m.checksum })
    result.applied.push(m.name)
  }
  result.ttlChanged = await reconcileTtl(store, config.ttl)
  return result
}

const TTL_BY_TABLE: Record<string, { column: string; key: keyof StoreConfig['ttl'] }> = {
  gpu_samples: { column: 'toDateTime(ts)', key: 'rawDays' },
  notebook_activity: { column: 'toDateTime(ts)', key: 'minuteDays' },
  gpu_samples_1m: { column: 'ts', key: 'minuteDays' },
  gpu_samples_1h: { column: 'ts', key: 'hourDays' },
}

/** Alters a table's TTL only when the configured days differ from the table's, so a normal start does no work. */
async function reconcileTtl(store: Store, ttl: StoreConfig['ttl']): Promise<string[]> {
  const rows = await store.query<{ name: string; engine_full: string }>(TABLE_TTL, { db: store.database, names: Object.keys(TTL_BY_TABLE) })
  const changed: string[] = []
  for (const { name, engine_full } of rows) {
    const spec = TTL_BY_TABLE[name]
    if (!spec) continue
    const days = Math.trunc(ttl[spec.key])
    const current = /TTL .*toIntervalDay\((\d+)\)/.exec(engine_full)?.[1]
    if (current === String(days)) continue
    await store.command(`ALTER TABLE ${name} MODIFY TTL ${spec.column} + toIntervalDay(${days})`)
    changed.push(`${name}: ${current ?? 'none'} -> ${days} days`)
  }
  return changed
}
