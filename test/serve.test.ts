import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { defaultConfig } from '../config/schema'
import { createStore } from '../store/client'
import { listeningPort, spawnScript, waitFor200 } from './helpers/serveProcess'

const dirs: string[] = []
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'gpuscope-serve-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** Counts the rows the kill test wrote, opening the data dir in this process after the child is gone. */
async function countRows(path: string): Promise<number> {
  const store = await createStore({ ...defaultConfig().store, path })
  try {
    const [row] = await store.query<{ n: number }>("SELECT count() AS n FROM gpu_samples WHERE cluster = 'kill-test'")
    return row?.n ?? -1
  } finally {
    await store.close()
  }
}

function promtool(): string | undefined {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' })
    return 'promtool'
  } catch {
    return undefined
  }
}

describe('gpuscope serve', () => {
  it('answers /healthz and /readyz, serves /metrics that promtool accepts, and exits 0 on SIGTERM', async () => {
    const child = spawnScript('cli/main.ts', ['serve'], { GPUSCOPE_STORE_PATH: tempDir(), GPUSCOPE_API_PORT: '0', GPUSCOPE_REPLAY_MODE: 'off' })
    try {
      const port = await listeningPort(child)
      const health = await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()
      expect(health).toMatchObject({ status: 'success', data: { alive: true } })
      const ready = await (await waitFor200(`http://127.0.0.1:${port}/readyz`)).json()
      expect(ready).toEqual({ status: 'success', data: { ready: true, problems: [] }, warnings: [] })
      const res = await fetch(`http://127.0.0.1:${port}/metrics`)
      const text = await res.text()
      expect(res.headers.get('content-type')).toContain('text/plain')
      expect(text).toContain('gpuscope_store_rows_written_total{table="gpu_samples"} 0')
      expect(text).toContain('process_cpu_seconds_total')
      const tool = promtool()
      // CI installs Debian's prometheus (.ci/run); locally the check runs when promtool is present.
      if (process.env.CI && !tool) throw new Error('promtool is not installed: .ci/run must apt-get install prometheus')
      if (tool) expect(execFileSync(tool, ['check', 'metrics'], { input: text }).toString()).toBe('')
      child.proc.kill('SIGTERM')
      expect(await child.exit).toEqual({ code: 0, signal: null })
      expect(child.stderr.join('\n')).toContain('"msg":"stopped"')
    } finally {
      child.proc.kill('SIGKILL')
    }
  })

  it('loses no acknowledged row when killed with SIGKILL mid-write', async () => {
    const path = tempDir()
    const child = spawnScript('test/helpers/ingestChild.ts', [], { GPUSCOPE_STORE_PATH: path, GPUSCOPE_API_PORT: '0', GPUSCOPE_REPLAY_MODE: 'off', GPUSCOPE_STORE_WRITER_BATCH_ROWS: '5000', GPUSCOPE_STORE_WRITER_FLUSH_INTERVAL_MS: '50' })
    await child.waitForLine(/^ack ([3-9]\d{4}|\d{6,})$/, 60_000)
    child.proc.kill('SIGKILL')
    await child.exit
    const acked = Math.max(...child.stdout.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4))))
    expect(acked).toBeGreaterThanOrEqual(30_000)
    expect(await countRows(path)).toBeGreaterThanOrEqual(acked)
  })

  it('stores every submitted row when stopped with SIGTERM mid-write (graceful flush)', async () => {
    const path = tempDir()
    const child = spawnScript('test/helpers/ingestChild.ts', [], { GPUSCOPE_STORE_PATH: path, GPUSCOPE_API_PORT: '0', GPUSCOPE_REPLAY_MODE: 'off', GPUSCOPE_STORE_WRITER_BATCH_ROWS: '10000', GPUSCOPE_STORE_WRITER_FLUSH_INTERVAL_MS: '60000' })
    await child.waitForLine(/^ack /, 60_000)
    child.proc.kill('SIGTERM')
    const line = await child.waitForLine(/^submitted \d+$/, 60_000)
    expect(await child.exit).toMatchObject({ code: 0 })
    expect(await countRows(path)).toBe(Number(line.split(' ')[1]))
  })

  it('with no cluster configured, replays a public trace: backfills history, then turns ready with data in the store', async () => {
    const path = tempDir()
    const child = spawnScript('cli/main.ts', ['serve'], {
      GPUSCOPE_STORE_PATH: path, GPUSCOPE_API_PORT: '0', GPUSCOPE_REPLAY_BACKFILL_DAYS: '2', GPUSCOPE_REPLAY_SAMPLE_DAYS: '1', GPUSCOPE_REPLAY_LIVE: 'false',
    })
    try {
      const port = await listeningPort(child)
      await child.waitForLine(/"msg":"simulated cluster built"/, 60_000)
      await child.waitForLine(/SIMULATED cluster replayed from a public trace/, 120_000)
      await waitFor200(`http://127.0.0.1:${port}/readyz`)
      child.proc.kill('SIGTERM')
      expect(await child.exit).toEqual({ code: 0, signal: null })
      const store = await createStore({ ...defaultConfig().store, path })
      try {
        const [s] = await store.query<{ n: number }>("SELECT count() AS n FROM gpu_samples WHERE cluster = 'helios-earth'")
        const [w] = await store.query<{ n: number }>("SELECT count() AS n FROM workload_intervals FINAL WHERE cluster = 'helios-earth'")
        expect(s?.n).toBe(856 * 288)
        expect(w?.n).toBeGreaterThan(100)
      } finally {
        await store.close()
      }
    } finally {
      child.proc.kill('SIGKILL')
    }
  })

  it('exits 2 and names every bad field when the config is bad', async () => {
    const child = spawnScript('cli/main.ts', ['--config', 'test/fixtures/config/bad/many-problems.yaml', 'serve'], {})
    expect(await child.exit).toEqual({ code: 2, signal: null })
    const err = child.stderr.join('\n')
    for (const path of ['api.port', 'store.url', 'store.database', 'store.writer.batchRows', 'log.level']) expect(err).toContain(`- ${path}:`)
  })
})
