import { parseDcgmScrape } from '../collector/dcgm/parse'
import { exporterText } from '../collector/replay/live/exporter'
import { nodeSamplesAt } from '../collector/replay/sim/samples'
import type { WriterConfig } from '../config/schema'
import type { GpuSample } from '../core/model'
import type { Logger } from '../core/ports'
import type { Store } from '../store/client'
import { createWriters } from '../store/sinks'
import { simFleet } from './exporterFleet'

/**
 * The `fleet` bench's storage figures (see bench/fleet.ts): the sample tables'
 * active parts after a merge, and bytes per GPU-day from one whole simulated
 * day written through the real parser and writer.
 */

const SAMPLE_TABLES = ['gpu_samples', 'gpu_samples_1m', 'gpu_samples_1h'] as const
const DAY_MS = 86_400_000

/** Active parts of one sample table. */
export interface TableBytes {
  table: string
  parts: number
  rows: number
  compressedBytes: number
  uncompressedBytes: number
  /** Everything on disk for the parts: column data plus marks, primary index and checksums. */
  bytesOnDisk: number
  bytesPerRow: number
  ratio: number
}

const PARTS = `SELECT table, count() AS parts, sum(rows) AS rows, sum(data_compressed_bytes) AS compressed,
  sum(data_uncompressed_bytes) AS uncompressed, sum(bytes_on_disk) AS on_disk
FROM system.parts WHERE active AND database = currentDatabase() AND table IN {tables:Array(String)}
GROUP BY table ORDER BY table`

const RAW_COLUMNS = `SELECT column AS name, sum(column_data_compressed_bytes) AS compressed FROM system.parts_columns
WHERE active AND database = currentDatabase() AND table = 'gpu_samples' GROUP BY column ORDER BY compressed DESC`

/**
 * Parts under 10 MB are stored in the compact format, which keeps no per-column
 * sizes; a production store's merged parts are far larger (wide). Forcing wide
 * parts in the bench's own store measures what production keeps, per column.
 */
export async function wideParts(store: Store): Promise<void> {
  for (const t of SAMPLE_TABLES) await store.command(`ALTER TABLE ${t} MODIFY SETTING min_bytes_for_wide_part = 0, min_rows_for_wide_part = 0`)
}

/** Merges every part of the three sample tables, so the bytes measured are what a long-lived store keeps. */
export async function optimizeSamples(store: Store): Promise<void> {
  for (const t of SAMPLE_TABLES) await store.command(`OPTIMIZE TABLE ${t} FINAL`)
}

export async function measureParts(store: Store): Promise<TableBytes[]> {
  const rows = await store.query<Record<string, string | number>>(PARTS, { tables: [...SAMPLE_TABLES] })
  return rows.map((r) => {
    const n = Number(r.rows)
    const compressed = Number(r.compressed)
    return {
      table: String(r.table), parts: Number(r.parts), rows: n, compressedBytes: compressed, uncompressedBytes: Number(r.uncompressed), bytesOnDisk: Number(r.on_disk),
      bytesPerRow: round(compressed / n, 2), ratio: round(Number(r.uncompressed) / compressed, 1),
    }
  })
}

/**
 * Bytes per GPU-day: empties the sample tables, writes one whole simulated day
 * (aligned to the hour, within the raw TTL) of `nodes` nodes through the same
 * exporter text and parser the live run uses and the real writer, merges, and
 * divides. Scrape times carry up to 2 s of arrival jitter, as real polls do,
 * so the timestamp codec is not flattered by exact multiples of the interval.
 * `logger` takes the writer's warnings.
 */
export async function storageDay(store: Store, writer: WriterConfig, o: { nodes: number; gpusPerNode: number; intervalS: number }, nowMs: number, logger: Logger) {
  for (const t of SAMPLE_TABLES) await store.command(`TRUNCATE TABLE ${t}`)
  const startMs = Math.floor((nowMs - DAY_MS - 2 * 3_600_000) / 3_600_000) * 3_600_000
  const fleet = simFleet(o.nodes, o.gpusPerNode, 0, startMs + 3_600_000)
  const writers = createWriters(store, writer, logger)
  const steps = Math.floor(DAY_MS / (o.intervalS * 1000))
  let seed = 0x9e3779b9
  const jitterMs = () => ((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32) * 2_000
  const t0 = performance.now()
  let batch: GpuSample[] = []
  for (let k = 0; k < steps; k++) {
    for (const node of fleet.byName.values()) {
      const tMs = Math.floor(startMs + k * o.intervalS * 1000 + jitterMs())
      batch.push(...parseDcgmScrape(exporterText(nodeSamplesAt(node, fleet.pods.get(node.name) ?? [], tMs)), { cluster: 'day', node: node.name, tsMs: tMs }))
    }
    if (batch.length >= writer.batchRows || k === steps - 1) {
      const written = writers.sinks.gpuSamples.write(batch)
      batch = []
      await writers.flush()
      await written
    }
  }
  await writers.close()
  const writeS = (performance.now() - t0) / 1000
  await optimizeSamples(store)
  const gpus = o.nodes * o.gpusPerNode
  const perDay: Record<string, number> = { gpu_samples: steps, gpu_samples_1m: 1_440, gpu_samples_1h: 24 }
  const tables = (await measureParts(store)).map((t) => ({ ...t, rowsPerGpuDay: perDay[t.table] ?? 0, bytesPerGpuDay: Math.round(t.bytesPerRow * (perDay[t.table] ?? 0)) }))
  const columns = (await store.query<{ name: string; compressed: string | number }>(RAW_COLUMNS)).map((c) => ({ column: c.name, bytesPerGpuDay: Math.round(Number(c.compressed) / gpus) }))
  const ok = tables.every((t) => t.rows === gpus * (perDay[t.table] ?? -1))
  return { gpus, steps, writeS: round(writeS, 1), tables, rawColumnsBytesPerGpuDay: columns, ok }
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits
