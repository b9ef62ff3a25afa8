import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT, spawnScript } from './helpers/serveProcess'

const dir = mkdtempSync(join(tmpdir(), 'gpuscope-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function run(args: string[], env: Record<string, string> = {}) {
  const child = spawnScript('bin/gpuscope.mjs', args, env)
  const { code } = await child.exit
  return { code, stdout: child.stdout.join('\n'), stderr: child.stderr.join('\n') }
}

describe('gpuscope CLI', () => {
  it('migrate is idempotent: the second run applies nothing', async () => {
    const env = { GPUSCOPE_STORE_PATH: join(dir, 'data') }
    const first = await run(['migrate'], env)
    expect(first.code).toBe(0)
    expect(first.stdout).toContain('applied 0001_core_tables.sql')
    const second = await run(['migrate'], env)
    expect(second).toMatchObject({ code: 0 })
    expect(second.stdout).toMatch(/\(0 applied, 5 already applied\)/)
  })

  it('config print shows the effective config with secrets redacted; --config goes before the subcommand', async () => {
    const r = await run(['--config', 'test/fixtures/config/good/server.yaml', 'config', 'print'], { GPUSCOPE_STORE_PASSWORD: 'hunter2-env', GPUSCOPE_API_PORT: '9401' })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('port: 9401')
    expect(r.stdout).toContain('password: <redacted>')
    expect(r.stdout).toContain('# env: GPUSCOPE_API_PORT, GPUSCOPE_STORE_PASSWORD')
    expect(r.stdout + r.stderr).not.toContain('hunter2-env')
    expect(r.stdout).not.toContain('s3cr3t-pw')
  })

  it('a bad config prints every problem and exits non-zero', async () => {
    const r = await run(['--config', 'test/fixtures/config/bad/many-problems.yaml', 'migrate'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('5 problem(s)')
  })

  it('an unknown command is a usage error', async () => {
    const r = await run(['frobnicate'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("unknown command 'frobnicate'")
  })

  it('a bad option value exits 2 (usage), a trace folder that is not there 1: each with one line naming what was typed, no stack', async () => {
    const [usage, missing] = await Promise.all([
      run(['forecast', 'backtest', '--origins', 'abc']),
      run(['forecast', 'backtest', '--alibaba', '/nonexistent/pai'], { GPUSCOPE_STORE_PATH: join(dir, 'unused') }),
    ])
    expect(usage).toEqual({ code: 2, stdout: '', stderr: "gpuscope: bad --origins 'abc': expected a whole number from 2 to 60" })
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringMatching(/^gpuscope: no Alibaba PAI v2023 trace in \/nonexistent\/pai: it lacks csv\/openb_node_list_gpu_node\.csv and [^\n]*$/) })
  })

  it('on the store of another running process: one line saying the store is in use, exit 1, no stack', async () => {
    const path = join(dir, 'held')
    // Another process holding the embedded store, as `npm start` does.
    const holder = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      `const { createStore } = await import('./store/client.ts'); await createStore({ path: ${JSON.stringify(path)}, database: 'gpuscope' }); console.log('open'); setInterval(() => {}, 1000)`,
    ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      await once(createInterface({ input: holder.stdout! }), 'line')
      const r = await run(['forecast', 'list'], { GPUSCOPE_STORE_PATH: path })
      expect(r.code).toBe(1)
      // libchdb itself prints its "Cannot lock file" line to stderr first; gpuscope adds one line of its own.
      expect(r.stderr.split('\n').filter((l) => l.startsWith('gpuscope:'))).toEqual([
        `gpuscope: the store at ${path} is in use by another gpuscope process (pid ${holder.pid}, e.g. \`npm start\`); stop it, or point the CLI at a ClickHouse server with store.url`,
      ])
      expect(r.stderr).not.toMatch(/^\s+at /m)
    } finally {
      holder.kill()
    }
  })
})
