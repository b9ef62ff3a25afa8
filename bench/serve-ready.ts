import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { envMapping } from '../config/load'
import { positiveIntFlag, type Benchmark } from './benchmark'
import { median, secondsSince } from './measure'

/**
 * `serve-ready`: time from spawning `npx tsx cli/main.ts serve` on a fresh
 * data directory until GET /readyz answers 200 (migrations done). Each run
 * gets its own temp dir and port, and the child is stopped afterwards.
 * The simulated-cluster replay is switched off (unless --replay): with no
 * cluster configured it would otherwise start, and /readyz waits for its backfill.
 */

const DEFAULT_RUNS = 3
const DEFAULT_TIMEOUT_MS = 120_000
const POLL_MS = 20
const HOST = '127.0.0.1'
const CLI = join('cli', 'main.ts')
const REPLAY_MODE_ENV = 'GPUSCOPE_REPLAY_MODE'

/** A port the kernel says is free on 127.0.0.1 now (there is a small race until the child binds it). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, HOST, () => {
      const addr = srv.address()
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))))
    })
  })
}

/** The last `max` characters a child wrote, for the error message when it never gets ready. */
function tail(child: ChildProcess, max = 4_000): () => string {
  let text = ''
  const keep = (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-max)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return () => text
}

async function readyzStatus(port: number): Promise<number | undefined> {
  try {
    const res = await fetch(`http://${HOST}:${port}/readyz`, { signal: AbortSignal.timeout(2_000) })
    await res.body?.cancel()
    return res.status
  } catch {
    return undefined // not listening yet
  }
}

/** Stops the child's whole process group (npx -> tsx -> node) and waits for it to exit. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const pid = child.pid
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig)
    } catch {
      // already gone
    }
  }
  signal('SIGTERM')
  const killer = setTimeout(() => signal('SIGKILL'), 10_000)
  await exited
  clearTimeout(killer)
}

/** Environment for one child: its own store and port, and no replay unless asked for. */
function childEnv(dir: string, port: number, replay: boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GPUSCOPE_STORE_PATH: dir, GPUSCOPE_API_HOST: HOST, GPUSCOPE_API_PORT: String(port) }
  // Only set when the schema has it: the loader rejects unknown GPUSCOPE_* variables.
  if (!replay && envMapping().some((m) => m.env === REPLAY_MODE_ENV)) env[REPLAY_MODE_ENV] = 'off'
  return env
}

/** One cold start: seconds until /readyz is 200. */
async function oneRun(timeoutMs: number, replay: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'gpuscope-bench-serve-'))
  const port = await freePort()
  const env = childEnv(dir, port, replay)
  const start = process.hrtime.bigint()
  // Own process group, so stopping it also stops tsx's node grandchild.
  const child = spawn('npx', ['tsx', CLI, 'serve'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const output = tail(child)
  let exitedEarly: string | undefined
  child.once('exit', (code, sig) => {
    exitedEarly = `exited with ${sig ?? `code ${code}`}`
  })
  try {
    while (secondsSince(start) * 1000 < timeoutMs) {
      if (exitedEarly) throw new Error(`serve ${exitedEarly} before /readyz answered 200:\n${output()}`)
      if ((await readyzStatus(port)) === 200) return secondsSince(start)
      await new Promise((r) => setTimeout(r, POLL_MS))
    }
    throw new Error(`/readyz did not answer 200 within ${timeoutMs} ms:\n${output()}`)
  } finally {
    await stop(child)
    rmSync(dir, { recursive: true, force: true })
  }
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { runs: { type: 'string' }, timeout: { type: 'string' }, replay: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: false,
  })
  const runs = positiveIntFlag('runs', values.runs, DEFAULT_RUNS)
  const timeoutMs = positiveIntFlag('timeout', values.timeout, DEFAULT_TIMEOUT_MS)
  if (!existsSync(CLI)) {
    process.stderr.write(`serve-ready: ${CLI} not found (run from the repository root)\n`)
    return 1
  }
  const seconds: number[] = []
  for (let i = 1; i <= runs; i++) {
    const s = await oneRun(timeoutMs, values.replay === true)
    seconds.push(s)
    process.stderr.write(`serve-ready: run ${i}/${runs}: ${s.toFixed(3)} s\n`)
  }
  const summary = { bench: 'serve-ready', runs: seconds.map((s) => Math.round(s * 1000) / 1000), medianSeconds: Math.round(median(seconds) * 1000) / 1000 }
  process.stdout.write(`serve-ready: spawn to /readyz 200: ${summary.runs.map((s) => `${s.toFixed(3)} s`).join(', ')}; median ${summary.medianSeconds.toFixed(3)} s\n${JSON.stringify(summary)}\n`)
  return 0
}

export const serveReadyBench: Benchmark = {
  name: 'serve-ready',
  summary: 'seconds from spawning `gpuscope serve` on a fresh store until /readyz answers 200',
  usage: `--runs N     cold starts to time (default ${DEFAULT_RUNS}); each gets a fresh temp dir and port
--timeout MS give up on one start after this long (default ${DEFAULT_TIMEOUT_MS})
--replay     leave the simulated-cluster replay to the config (auto): /readyz then also waits for its backfill`,
  run,
}
