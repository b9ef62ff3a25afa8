import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { spawnScript } from './helpers/serveProcess'

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
    expect(second.stdout).toMatch(/\(0 applied, 4 already applied\)/)
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
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("unknown command 'frobnicate'")
  })
})
