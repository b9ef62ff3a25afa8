import type { StoreConfig } from '../config/schema'

/**
 * Renders the store's DDL for `store.mode`. Single mode passes every statement
 * through untouched (byte for byte: applied migrations are checksummed by
 * their file text and the tables they made must not drift). Cluster mode
 * rewrites each statement into the replicated, sharded layout of
 * docs/clickhouse-cluster.md:
 *
 * - table T -> `T_local` ON CLUSTER with the Replicated variant of its engine,
 *   plus `T` as a Distributed table over `T_local`, so every query and insert
 *   that names plain T works unchanged;
 * - materialized view -> ON CLUSTER, reading the `_local` source and writing
 *   the `_local` target, so each shard rolls up its own rows;
 * - ALTER TABLE T ADD COLUMN IF NOT EXISTS (one column) -> the same on
 *   `T_local` ON CLUSTER, then on the Distributed `T` ON CLUSTER: the local
 *   tables hold the column, and the Distributed table must list it too, or
 *   inserts and reads through plain T would not know it.
 *
 * The rewrite knows the statement shapes store/migrations uses and throws on
 * any other shape, so a new migration cannot slip through half-converted.
 */

/** The store settings that decide how DDL is rendered. */
export type DdlLayout = Pick<StoreConfig, 'mode' | 'cluster' | 'database' | 'replicaPath' | 'replicaName'>

/**
 * Distributed sharding key of every table the migrations create. Inserts go
 * through the Distributed table, so this decides where each row lives:
 *
 * - per-node data (raw samples, node history, rollups) by cityHash64(cluster, node):
 *   a node's rows stay together, so a rollup group never spans shards and the
 *   AggregatingMergeTree merges collapse it completely;
 * - ReplacingMergeTree tables by (a prefix of) their ORDER BY identity: FINAL
 *   and background dedup only see one shard, so every version of a row must
 *   land on the same one. workload_intervals is keyed (cluster, pod_uid): its
 *   `node` is '' while a pod is pending and changes when it binds, so sharding
 *   it by node would split a pod's versions and FINAL would return both;
 * - the rest by their ORDER BY identity, which keeps each series on one shard.
 *
 * A table missing here is an error when rendering cluster DDL: choose its key.
 */
export const SHARD_KEYS: Readonly<Record<string, string>> = {
  gpu_samples: 'cityHash64(cluster, node)',
  gpu_samples_1m: 'cityHash64(cluster, node)',
  gpu_samples_1h: 'cityHash64(cluster, node)',
  node_state: 'cityHash64(cluster, node)',
  node_seen: 'cityHash64(cluster, node)',
  workload_intervals: 'cityHash64(cluster, pod_uid)',
  notebook_activity: 'cityHash64(cluster, namespace, notebook)',
  cloud_instances: 'cityHash64(provider, instance_id)',
  prices: 'cityHash64(provider, region, instance_type, lifecycle)',
  actions: 'cityHash64(id)',
  // The views fill each shard's pod_util_*_local from that shard's hourly rows (a pod's GPUs are on one node);
  // this key places only rows inserted through the Distributed tables (the migration's backfill).
  pod_activity_1m: 'cityHash64(cluster, namespace, pod)',
  pod_util_1h: 'cityHash64(cluster, namespace, pod)',
  pod_util_1d: 'cityHash64(cluster, namespace, pod)',
}

/** Settings that only non-replicated MergeTree tables accept (replicated ones deduplicate through Keeper). */
const NON_REPLICATED_SETTINGS = new Set(['non_replicated_deduplication_window'])

const TABLE_HEADER = /^CREATE TABLE IF NOT EXISTS (\w+)(?: AS (\w+))?$/
const VIEW_HEADER = /^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS$/
const TRUNCATE_HEADER = /^TRUNCATE TABLE (\w+)$/
const INSERT_HEADER = /^INSERT INTO (\w+)$/
const ADD_COLUMN = /^ALTER TABLE (\w+) (ADD COLUMN IF NOT EXISTS \w+ .+)$/
/** A second clause after the first (`..., DROP COLUMN y`): each ALTER must add exactly one column. */
const ANOTHER_CLAUSE = /,\s*(?:ADD|DROP|MODIFY|RENAME|CLEAR|COMMENT|MATERIALIZE|UPDATE|DELETE)\b/i
const ENGINE_LINE = /^ENGINE = (\w*MergeTree)(?:\((.*)\))?$/
const SETTINGS_LINE = /^SETTINGS (.+)$/

/** A ClickHouse string literal. */
export const quote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`

/** ` ON CLUSTER '<cluster>'` in cluster mode, '' in single mode. */
export const onCluster = (layout: DdlLayout): string => (layout.mode === 'cluster' ? ` ON CLUSTER ${quote(layout.cluster)}` : '')

/** The table that holds a logical table's rows: `T_local` in cluster mode, T itself in single mode. */
export const localTable = (name: string, layout: DdlLayout): string => (layout.mode === 'cluster' ? `${name}_local` : name)

/** Statements to run before anything else: in cluster mode the database on every node (the client only creates it on the one it reaches). */
export function renderSetup(layout: DdlLayout): string[] {
  return layout.mode === 'cluster' ? [`CREATE DATABASE IF NOT EXISTS ${layout.database}${onCluster(layout)}`] : []
}

/** Renders one migration statement for the layout: unchanged in single mode, the cluster layout's statements otherwise. */
export function renderStatement(statement: string, layout: DdlLayout): string[] {
  if (layout.mode !== 'cluster') return [statement]
  const header = statement.split('\n', 1)[0] ?? ''
  const table = TABLE_HEADER.exec(header)
  if (table) return renderTable(statement, header, table[1] as string, table[2], layout)
  const view = VIEW_HEADER.exec(header)
  if (view) return [renderView(statement, header, view[1] as string, view[2] as string, layout)]
  const truncate = TRUNCATE_HEADER.exec(header)
  if (truncate) return [`TRUNCATE TABLE ${known(truncate[1] as string)}_local${onCluster(layout)}`]
  // A backfill goes through the Distributed tables: it reads every shard and the target's shard key places the rows.
  const insert = INSERT_HEADER.exec(header)
  if (insert) {
    known(insert[1] as string)
    return [statement]
  }
  const add = ADD_COLUMN.exec(header)
  if (add && header === statement && !ANOTHER_CLAUSE.test(add[2] as string)) return renderAddColumn(add[1] as string, add[2] as string, layout)
  throw new Error(
    `cluster mode cannot render '${header.slice(0, 80)}': store/ddl.ts knows CREATE TABLE IF NOT EXISTS, CREATE MATERIALIZED VIEW IF NOT EXISTS ... TO, ` +
      'TRUNCATE TABLE, INSERT INTO ... SELECT and a one-line ALTER TABLE ... ADD COLUMN IF NOT EXISTS of one column',
  )
}

/** A column added to the table holding the rows (`T_local`) first, then to the Distributed `T` over it, on every node. */
function renderAddColumn(table: string, clause: string, layout: DdlLayout): string[] {
  known(table)
  return [`ALTER TABLE ${table}_local${onCluster(layout)} ${clause}`, `ALTER TABLE ${table}${onCluster(layout)} ${clause}`]
}

/**
 * The migrations ledger. In cluster mode it is one replica set spanning every
 * node (the Keeper path has no shard), so any api replica reads the same
 * ledger locally; the replica name gains {shard} unless it has it, because
 * `{replica}` alone may repeat across shards.
 */
export function renderLedger(statement: string, layout: DdlLayout): string {
  if (layout.mode !== 'cluster') return statement
  const [header = '', ...rest] = statement.split('\n')
  if (!TABLE_HEADER.test(header)) throw new Error(`ledger statement has an unexpected header: '${header.slice(0, 80)}'`)
  const path = layout.replicaPath.replaceAll('{shard}', 'all')
  const replica = layout.replicaName.includes('{shard}') ? layout.replicaName : `{shard}-${layout.replicaName}`
  return replicate([header + onCluster(layout), ...rest].join('\n'), path, replica)
}

/** The TTL change of one table: applied to the table that holds the rows, on every node in cluster mode. */
export function renderTtlAlter(table: string, ttlExpr: string, days: number, layout: DdlLayout): string {
  return `ALTER TABLE ${localTable(table, layout)}${onCluster(layout)} MODIFY TTL ${ttlExpr} + toIntervalDay(${days})`
}

/** The table, when it is one of ours (it has a shard key). */
function known(table: string): string {
  shardKey(table)
  return table
}

function shardKey(table: string): string {
  const key = SHARD_KEYS[table]
  if (key === undefined) throw new Error(`no Distributed shard key for table '${table}': add one to SHARD_KEYS in store/ddl.ts`)
  return key
}

function renderTable(statement: string, header: string, name: string, like: string | undefined, layout: DdlLayout): string[] {
  const key = shardKey(name)
  if (like !== undefined) shardKey(like)
  const local = `${name}_local`
  const head = `CREATE TABLE IF NOT EXISTS ${local}${onCluster(layout)}${like === undefined ? '' : ` AS ${like}_local`}`
  const replicated = replicate(head + statement.slice(header.length), layout.replicaPath, layout.replicaName)
  const distributed =
    `CREATE TABLE IF NOT EXISTS ${name}${onCluster(layout)} AS ${local}\n` +
    `ENGINE = Distributed(${quote(layout.cluster)}, ${quote(layout.database)}, ${quote(local)}, ${key})`
  return [replicated, distributed]
}

/** Swaps a MergeTree-family engine line for its Replicated variant and drops settings replicated tables refuse. */
function replicate(statement: string, path: string, replica: string): string {
  const lines = statement.split('\n')
  const at = lines.findIndex((l) => l.startsWith('ENGINE ='))
  const engine = ENGINE_LINE.exec(lines[at] ?? '')
  if (!engine || lines.findIndex((l, i) => i > at && l.startsWith('ENGINE =')) !== -1) {
    throw new Error(`cluster mode needs exactly one 'ENGINE = <x>MergeTree[(args)]' line in: ${lines[0]}`)
  }
  const [, family = '', args] = engine
  if (family.startsWith('Replicated')) throw new Error(`${lines[0]}: the migration already names a Replicated engine`)
  lines[at] = `ENGINE = Replicated${family}(${[quote(path), quote(replica), ...(args?.trim() ? [args] : [])].join(', ')})`
  const out: string[] = []
  for (const line of lines) {
    const settings = SETTINGS_LINE.exec(line)
    if (!settings) {
      out.push(line)
      continue
    }
    // Split before each `name =`, so a quoted value holding a comma stays whole.
    const kept = (settings[1] as string).split(/,\s*(?=\w+\s*=)/).filter((s) => !NON_REPLICATED_SETTINGS.has(s.split('=')[0]?.trim() ?? ''))
    if (kept.length > 0) out.push(`SETTINGS ${kept.join(', ')}`)
  }
  return out.join('\n')
}

/** A view reading and writing `_local` tables: it fires on each shard's inserts, over that shard's rows only. */
function renderView(statement: string, header: string, name: string, target: string, layout: DdlLayout): string {
  shardKey(target)
  const body = statement.slice(header.length)
  if (/\bJOIN\b/i.test(body)) {
    throw new Error(`materialized view ${name} joins tables: per shard it would see only that shard's rows, so cluster mode will not render it`)
  }
  let sources = 0
  const select = body.replace(/\bFROM\s+(\w+)\b/g, (whole, table: string) => {
    if (!(table in SHARD_KEYS)) return whole
    sources++
    return `FROM ${table}_local`
  })
  if (sources !== 1) throw new Error(`materialized view ${name} must read exactly one gpuscope table (found ${sources})`)
  return `CREATE MATERIALIZED VIEW IF NOT EXISTS ${name}${onCluster(layout)} TO ${target}_local AS${select}`
}
