import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { defaultConfig, type StoreConfig } from '../config/schema'
import type { GpuSample } from '../core/model'
import { createStore, type Store } from '../store/client'
import { migrate } from '../store/migrate'
import { createWriters } from '../store/sinks'
import { gpuSamplesSpec } from '../store/tables'
import { encodeRows } from '../store/tsv'
import { positiveIntFlag, type Benchmark } from './benchmark'
import { mib, secondsSince, stderrLogger, watchRss, type RssReport } from './measure'
import { syntheticScrapes } from './synthetic'

/**
 * `ingest`: writes N synthetic gpu_samples rows through the real BatchWriter
 * into embedded chDB (both rollup views attached) and reports rows/s, where
 * the time goes (JS encoding vs the chDB insert) and peak RSS, then checks
 * that every row reached the raw table and both rollups.
 */

const DEFAULT_ROWS = 2_000_000
/** What ships: the writer's configured default (docs/benchmarks.md has the 50k..500k sweep). */
const DEFAULT_BATCH = defaultConfig().store.writer.batchRows
const PROGRESS_EVERY_MS = 2_000

interface IngestOptions {
  rows: number
  batchRows: number
  /** Data directory; undefined means a fresh temp dir that is removed afterwards. */
  path: string | undefined
}

/** What the timed write path measured. */
interface WriteTiming {
  seconds: number
  /** CPU time of the whole process (JS thread, chDB threads, merges) over the same span. */
  cpuSeconds: number
  /** Sum of the insert calls' durations as JS sees them; the writer encodes the next batch meanwhile, so this overlaps encoding. */
  insertCallSeconds: number
  inserts: number
  bodyBytes: number
  rss: RssReport
}

const VERIFY = `SELECT
  (SELECT count() FROM gpu_samples) AS raw,
  (SELECT sum(samples) FROM gpu_samples_1m) AS minute,
  (SELECT sum(samples) FROM gpu_samples_1h) AS hour`

interface Counts {
  raw: number
  minute: number
  hour: number
}

function parseFlags(argv: string[]): IngestOptions {
  const { values } = parseArgs({
    args: argv,
    options: { rows: { type: 'string' }, batch: { type: 'string' }, path: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  })
  return {
    rows: positiveIntFlag('rows', values.rows, DEFAULT_ROWS),
    batchRows: positiveIntFlag('batch', values.batch, DEFAULT_BATCH),
    path: values.path,
  }
}

async function run(argv: string[]): Promise<number> {
  const opts = parseFlags(argv)
  const dir = opts.path ?? mkdtempSync(join(tmpdir(), 'gpuscope-bench-ingest-'))
  try {
    return await runIn(dir, opts)
  } finally {
    if (opts.path === undefined) rmSync(dir, { recursive: true, force: true })
  }
}

async function runIn(dir: string, opts: IngestOptions): Promise<number> {
  const genStart = process.hrtime.bigint()
  const scrapes = syntheticScrapes(opts.rows, Date.now())
  const generateSeconds = secondsSince(genStart)
  const rssAfterGenerate = process.memoryUsage().rss
  process.stderr.write(`ingest: generated ${fmt(opts.rows)} rows in ${generateSeconds.toFixed(2)} s; writing to ${dir}\n`)

  // Before the store opens, so no background merge competes with it (and the encoder is warm for the run, as in a long-lived server).
  const encodeAloneSeconds = timeEncode(scrapes, opts.batchRows)
  const config: StoreConfig = { ...defaultConfig().store, path: dir }
  const store = await createStore(config)
  try {
    await migrate(store, config)
    const before = await counts(store)
    const timing = await timedWrite(store, { ...config.writer, batchRows: opts.batchRows }, scrapes, opts.rows)
    const after = await counts(store)
    const landed = { raw: after.raw - before.raw, minute: after.minute - before.minute, hour: after.hour - before.hour }
    const summary = summarize(opts, timing, encodeAloneSeconds, landed, rssAfterGenerate)
    printReport(summary)
    return summary.ok ? 0 : 1
  } finally {
    await store.close()
  }
}

/** The figures of one run; `ok` only when every row reached the raw table and both rollups. */
function summarize(opts: IngestOptions, timing: WriteTiming, encodeAloneSeconds: number, landed: Counts, rssAfterGenerate: number) {
  return {
    bench: 'ingest',
    rows: opts.rows,
    batchRows: opts.batchRows,
    format: 'TabSeparated',
    seconds: round3(timing.seconds),
    rowsPerSec: Math.round(opts.rows / timing.seconds),
    cpuSeconds: round3(timing.cpuSeconds),
    insertCallSeconds: round3(timing.insertCallSeconds),
    encodeAloneSeconds: round3(encodeAloneSeconds),
    inserts: timing.inserts,
    bodyMiB: mib(timing.bodyBytes),
    peakRssMiB: mib(timing.rss.sampledPeakBytes),
    maxRssMiB: mib(timing.rss.maxRssBytes),
    rssAfterGenerateMiB: mib(rssAfterGenerate),
    landed,
    ok: landed.raw === opts.rows && landed.minute === opts.rows && landed.hour === opts.rows,
  }
}

/**
 * Times only the write path: every scrape written at once through the real
 * gpuSamples writer, flushed until all writes are acknowledged. The store is
 * wrapped so the insert calls are timed inside the same run.
 */
async function timedWrite(store: Store, writer: StoreConfig['writer'], scrapes: GpuSample[][], total: number): Promise<WriteTiming> {
  const t = { insertCallSeconds: 0, inserts: 0, bodyBytes: 0 }
  const timed: Store = {
    ...store,
    insertTsv: async (table, columns, body, token) => {
      const start = process.hrtime.bigint()
      await store.insertTsv(table, columns, body, token)
      t.insertCallSeconds += secondsSince(start)
      t.inserts++
      t.bodyBytes += Buffer.byteLength(body)
    },
  }
  const writers = createWriters(timed, writer, stderrLogger())
  const sink = writers.sinks.gpuSamples
  const rss = watchRss()
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  const progress = setInterval(() => {
    const written = writers.stats().find((s) => s.table === 'gpu_samples')?.rowsWritten ?? 0
    process.stderr.write(`ingest: ${fmt(written)} / ${fmt(total)} rows, ${secondsSince(start).toFixed(1)} s\n`)
  }, PROGRESS_EVERY_MS)
  try {
    // Flush right away rather than waiting for the writer's timer on a last partial batch;
    // keep flushing while writers blocked by backpressure are still queueing.
    let settled = false
    const writes = Promise.all(scrapes.map((s) => sink.write(s))).finally(() => {
      settled = true
    })
    while (!settled) {
      await writers.flush()
      await new Promise((r) => setImmediate(r))
    }
    await writes
    const seconds = secondsSince(start)
    const used = process.cpuUsage(cpu)
    return { ...t, seconds, cpuSeconds: (used.user + used.system) / 1e6, rss: rss.stop() }
  } finally {
    clearInterval(progress)
    await writers.close()
  }
}

/** Encodes the same rows in the same batch sizes, alone, to separate JS encoding from the insert. */
function timeEncode(scrapes: GpuSample[][], batchRows: number): number {
  const rows = scrapes.flat()
  const start = process.hrtime.bigint()
  let bytes = 0
  for (let i = 0; i < rows.length; i += batchRows) bytes += encodeRows(gpuSamplesSpec, rows.slice(i, i + batchRows)).length
  const seconds = secondsSince(start)
  if (bytes === 0) throw new Error('encoded nothing')
  return seconds
}

async function counts(store: Store): Promise<Counts> {
  const [row] = await store.query<Record<keyof Counts, number | null>>(VERIFY)
  return { raw: Number(row?.raw ?? 0), minute: Number(row?.minute ?? 0), hour: Number(row?.hour ?? 0) }
}

type Summary = ReturnType<typeof summarize>

function printReport(s: Summary): void {
  const out = [
    `ingest: ${fmt(s.rows)} gpu_samples rows in ${s.seconds.toFixed(3)} s = ${fmt(s.rowsPerSec)} rows/s (batch ${fmt(s.batchRows)}, ${s.inserts} inserts, TabSeparated, ${s.bodyMiB} MiB of TSV); ${s.cpuSeconds.toFixed(3)} s CPU`,
    `  JS encoding: encodeRows alone on the same rows and batches: ${s.encodeAloneSeconds.toFixed(3)} s (${fmt(Math.round(s.rows / s.encodeAloneSeconds))} rows/s)`,
    `  chDB insert calls (parse, MergeTree write, rollup views; overlaps the next batch's encoding): ${s.insertCallSeconds.toFixed(3)} s`,
    `  peak RSS: ${s.peakRssMiB} MiB sampled, ${s.maxRssMiB} MiB maxRSS (${s.rssAfterGenerateMiB} MiB after generating the rows)`,
    `  landed: gpu_samples ${fmt(s.landed.raw)}, gpu_samples_1m sum(samples) ${fmt(s.landed.minute)}, gpu_samples_1h sum(samples) ${fmt(s.landed.hour)}: ${s.ok ? 'all rows stored' : `MISMATCH, expected ${fmt(s.rows)}`}`,
    JSON.stringify(s),
  ]
  process.stdout.write(out.join('\n') + '\n')
}

const fmt = (n: number): string => n.toLocaleString('en-US')
const round3 = (x: number): number => Math.round(x * 1000) / 1000

export const ingestBench: Benchmark = {
  name: 'ingest',
  summary: 'write N synthetic gpu_samples rows through the real writer into chDB; rows/s and peak RSS',
  usage: `--rows N   rows to write (default ${fmt(DEFAULT_ROWS)})
--batch N  writer batchRows (default ${fmt(DEFAULT_BATCH)})
--path DIR chDB data directory (default: a fresh temp dir, removed afterwards)`,
  run,
}
