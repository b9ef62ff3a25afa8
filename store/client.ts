import { mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { createClient, type ClickHouseClient } from '@clickhouse/client'
import type { StoreConfig } from '../config/schema'
import { maskUrlCredentials } from '../config/redact'
import { ConflictError, UpstreamError } from '../core/errors'
import type { Params, QueryFn } from '../core/ports'

/** 64-bit integers as JSON numbers in both modes (chDB and the server default differ); gpuscope's counts stay far below 2^53. */
const READ_SETTINGS = { output_format_json_quote_64bit_integers: 0 } as const

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>

/** How the store reaches ClickHouse: the in-process engine or a server over HTTP. */
export type StoreMode = 'embedded' | 'server'

/** An open ClickHouse store: the official client plus the few calls gpuscope makes. */
export interface Store {
  readonly mode: StoreMode
  readonly database: string
  /** Where the data lives: the embedded directory or the server URL (credentials masked). */
  readonly location: string
  readonly client: ClickHouseClient
  query: QueryFn
  /** Runs a statement that returns no rows (DDL, ALTER). */
  command(sql: string, params?: Params): Promise<void>
  /** Inserts a TabSeparated body; `token` deduplicates a retried batch. */
  insertTsv(table: string, columns: readonly string[], body: string, token: string): Promise<void>
  close(): Promise<void>
}

/**
 * Opens the store: embedded chDB at `path` by default, or the ClickHouse
 * server at `url` when one is configured. Creates the database if needed.
 * libchdb binds one data directory per process: open one embedded store per process.
 */
export async function createStore(config: StoreConfig): Promise<Store> {
  return config.url ? openServer(config, config.url) : openEmbedded(config)
}

async function openEmbedded(config: StoreConfig): Promise<Store> {
  const path = config.path === ':memory:' ? ':memory:' : resolve(config.path)
  if (path !== ':memory:') mkdirSync(path, { recursive: true })
  // chdb 3.4.0 types its Connection against @clickhouse/client-common, which
  // @clickhouse/client 1.23 no longer uses; the runtime contract is the same
  // (pinned pair, covered by store tests), so only the type needs bridging.
  // Loaded only here: libchdb costs ~150 MiB of RSS once loaded, which a process on a ClickHouse server
  // (the api / collector / scheduler roles) should not carry.
  const { createChdbConnection } = await import('chdb/connection')
  let connection: ClientConnection
  try {
    connection = createChdbConnection({ path }) as unknown as ClientConnection
  } catch (err) {
    throw openFailure(path, err)
  }
  const client = createClient({ connection })
  const store = wrap(client, 'embedded', config.database, path)
  // The chDB connection ignores the client's `database` option; its session keeps USE.
  await store.command(`CREATE DATABASE IF NOT EXISTS ${config.database}`)
  await store.command(`USE ${config.database}`)
  return store
}

/**
 * Why chDB could not open `path`. Its error says only "Failed to create connection" (the
 * reason goes to stderr from native code), so a held lock is recognised by the `status`
 * file ClickHouse keeps in the directory while a process has it open: it names that PID.
 */
function openFailure(path: string, err: unknown): Error {
  const holder = statusPid(path)
  if (holder !== undefined && holder !== process.pid && alive(holder)) {
    return new ConflictError(
      `the store at ${path} is in use by another gpuscope process (pid ${holder}, e.g. \`npm start\`); stop it, or point the CLI at a ClickHouse server with store.url`,
      { cause: err },
    )
  }
  return new UpstreamError(`cannot open the embedded store at ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
}

function statusPid(path: string): number | undefined {
  try {
    const m = /^PID: (\d+)$/m.exec(readFileSync(join(path, 'status'), 'utf8'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function openServer(config: StoreConfig, url: string): Promise<Store> {
  const common = {
    url,
    username: config.username,
    password: config.password,
    request_timeout: config.requestTimeoutMs,
    application: 'gpuscope',
  }
  const bootstrap = createClient(common)
  try {
    await guard(`create database ${config.database}`, () => bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${config.database}` }))
  } finally {
    await bootstrap.close()
  }
  // Cluster mode (docs/clickhouse-cluster.md): IN / JOIN subqueries over Distributed tables run once on the
  // initiator (the default 'deny' refuses gpuscope's queries), and an insert returns once every shard has its rows.
  const clusterSettings = config.mode === 'cluster' ? { distributed_product_mode: 'global' as const, insert_distributed_sync: 1 as const } : {}
  return wrap(createClient({ ...common, database: config.database, clickhouse_settings: clusterSettings }), 'server', config.database, maskUrlCredentials(url))
}

function wrap(client: ClickHouseClient, mode: StoreMode, database: string, location: string): Store {
  return {
    mode,
    database,
    location,
    client,
    query: async <T>(sql: string, params?: Params): Promise<T[]> =>
      guard('query', async () => {
        const rs = await client.query({ query: sql, query_params: params ?? {}, format: 'JSONEachRow', clickhouse_settings: READ_SETTINGS })
        return rs.json<T>()
      }),
    command: async (sql, params) => {
      await guard('command', () => client.command({ query: sql, query_params: params ?? {} }))
    },
    insertTsv: async (table, columns, body, token) => {
      // Settings go in the statement, not clickhouse_settings: the chDB connection applies
      // those as session-wide SETs, so a batch's dedup token would stay on the session and
      // silently deduplicate later, unrelated inserts. Table, columns and token are ours
      // (specs in store/tables.ts, a UUID), never user input.
      if (!/^[0-9a-f-]{36}$/i.test(token)) throw new UpstreamError(`bad deduplication token for ${table}`)
      const sql =
        `INSERT INTO ${table} (${columns.join(', ')}) SETTINGS insert_deduplication_token = '${token}', ` +
        'deduplicate_blocks_in_dependent_materialized_views = 1 FORMAT TabSeparated'
      await guard(`insert into ${table}`, async () => {
        const result = await client.exec({ query: sql, values: Readable.from([body], { objectMode: false }) })
        result.stream.resume()
        await finished(result.stream)
      })
    },
    close: () => client.close(),
  }
}

/** Runs a driver call and turns its failure into an UpstreamError with credentials masked. */
async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err)
    throw new UpstreamError(`ClickHouse ${what} failed: ${maskUrlCredentials(msg)}`, { cause: err })
  }
}
