import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

/**
 * Runs Debian's real `prometheus` server on loopback for tests: a temp
 * config and TSDB directory, a free port, scraping the given targets every
 * second. Not a fake — the name matches test/fakes because it plays the same
 * role: the real component a test talks to over HTTP.
 */

/** One scrape job: loopback targets plus optional static target labels. */
export interface PromJob {
  name: string
  /** `127.0.0.1:<port>` of each target (FakeExporter.hostPort). */
  targets: string[]
  /** Target labels Prometheus attaches; with honorLabels false a clash renames the scraped label to `exported_<name>`. */
  labels?: Record<string, string>
  honorLabels?: boolean
  metricsPath?: string
}

/** A running Prometheus. */
export interface RunningPrometheus {
  /** `http://127.0.0.1:<port>` */
  url: string
  /** Runs an instant query and returns the decoded JSON body. */
  query(promql: string): Promise<{ status: string; data?: { result?: unknown[] } }>
  /** Resolves once every target has been scraped successfully at least `scrapes` times; throws after `deadlineMs`. */
  waitForScrapes(scrapes: number, deadlineMs?: number): Promise<void>
  /** Output the server printed, for failure messages. */
  logs(): string
  stop(): Promise<void>
}

/** Path of the `prometheus` binary: /usr/bin/prometheus (Debian), else the first on PATH; undefined when none. */
export function findPrometheus(): string | undefined {
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter)]
  for (const dir of dirs) {
    const path = join(dir, 'prometheus')
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // not here
    }
  }
  return undefined
}

/** Starts Prometheus with a 1 s scrape interval over `jobs`; resolves once it answers /-/ready. */
export async function startPrometheus(bin: string, jobs: PromJob[]): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'gpuscope-prom-'))
  const configFile = join(dir, 'prometheus.yml')
  // JSON is YAML: no quoting rules to get wrong.
  writeFileSync(configFile, JSON.stringify(promConfig(jobs), null, 2))
  let lastError: unknown
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort()
    const proc = spawn(bin, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] })
    const output: string[] = []
    proc.stdout?.on('data', (d: Buffer) => output.push(d.toString()))
    proc.stderr?.on('data', (d: Buffer) => output.push(d.toString()))
    const running = handle(proc, `http://127.0.0.1:${port}`, output, dir)
    try {
      await waitReady(running.url, proc, 30_000)
      return running
    } catch (err) {
      lastError = err
      await running.stop()
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw new Error(`prometheus did not start: ${(lastError as Error).message}`)
}

function promConfig(jobs: PromJob[]): object {
  return {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    scrape_configs: jobs.map((j) => ({
      job_name: j.name,
      honor_labels: j.honorLabels ?? false,
      metrics_path: j.metricsPath ?? '/metrics',
      static_configs: [{ targets: j.targets, labels: j.labels ?? {} }],
    })),
  }
}

function handle(proc: ChildProcess, url: string, output: string[], dir: string): RunningPrometheus {
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  let stopped = false
  const query = async (promql: string) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5_000) })
    return (await res.json()) as { status: string; data?: { result?: unknown[] } }
  }
  return {
    url,
    query,
    logs: () => output.join(''),
    async waitForScrapes(scrapes, deadlineMs = 30_000) {
      const until = Date.now() + deadlineMs
      const promql = `count(count_over_time(up[1h]) >= ${scrapes} and up == 1) == count(up)`
      for (let i = 0; i < 1_000 && Date.now() < until; i++) {
        const body = await query(promql).catch(() => undefined)
        if ((body?.data?.result?.length ?? 0) > 0) return
        await sleep(200)
      }
      throw new Error(`targets not scraped ${scrapes} time(s) within ${deadlineMs} ms; prometheus said:\n${output.join('')}`)
    },
    async stop() {
      if (!stopped) {
        stopped = true
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill('SIGTERM')
          const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
          await exited
          clearTimeout(killer)
        }
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function waitReady(url: string, proc: ChildProcess, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs
  for (let i = 0; i < 1_000 && Date.now() < until; i++) {
    if (proc.exitCode !== null) throw new Error(`prometheus exited with code ${proc.exitCode}`)
    const ok = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false)
    if (ok) return
    await sleep(100)
  }
  throw new Error(`prometheus not ready within ${deadlineMs} ms`)
}

/** A port that was free a moment ago (Prometheus cannot report the port it picked for :0). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolvePort(port))
    })
  })
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
