import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../core/errors'
import { envMapping, loadConfig } from './load'
import { REDACTED, redact } from './redact'

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../test/fixtures/config')
const badDir = join(fixtures, 'bad')

function loadError(opts: Parameters<typeof loadConfig>[0]): ConfigError {
  try {
    loadConfig(opts)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

describe('bad config files: each yields exactly the errors in its .err file', () => {
  const cases = readdirSync(badDir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => ({ name: f, file: join(badDir, f), want: readFileSync(join(badDir, f.replace(/\.yaml$/, '.err')), 'utf8') }))
  it('has cases', () => expect(cases.length).toBeGreaterThanOrEqual(8))
  it.each(cases)('$name', ({ file, want }) => {
    const err = loadError({ file, env: {} })
    for (const line of want.split('\n').filter(Boolean)) expect(err.message).toContain(line)
  })
  it('never echoes a secret value in the error', () => {
    const err = loadError({ file: join(badDir, 'secret-not-echoed.yaml'), env: {} })
    expect(err.message).not.toContain('12345')
  })
})

describe('loadConfig', () => {
  it('gives working embedded defaults with no file and no env', () => {
    const { config, file } = loadConfig({ env: {}, cwd: badDir })
    expect(file).toBeUndefined()
    expect(config.api).toEqual({ host: '127.0.0.1', port: 8080 })
    expect(config.store.path).toBe('./data')
    expect(config.store.url).toBeUndefined()
    expect(config.store.writer.batchRows).toBe(100_000)
  })

  it('reads gpuscope.yaml from the working directory when no --config is given', () => {
    const { config, file } = loadConfig({ env: {}, cwd: join(fixtures, 'cwd-default') })
    expect(file).toMatch(/gpuscope\.yaml$/)
    expect(config.api.port).toBe(9999)
  })

  it.each([
    { name: 'API port', env: { GPUSCOPE_API_PORT: '9090' }, path: ['api', 'port'], want: 9090 },
    { name: 'embedded data dir', env: { GPUSCOPE_STORE_PATH: '/var/lib/gpuscope' }, path: ['store', 'path'], want: '/var/lib/gpuscope' },
    { name: 'server url', env: { GPUSCOPE_STORE_URL: 'http://127.0.0.1:8123' }, path: ['store', 'url'], want: 'http://127.0.0.1:8123' },
    { name: 'nested camelCase', env: { GPUSCOPE_STORE_WRITER_BATCH_ROWS: '5000' }, path: ['store', 'writer', 'batchRows'], want: 5000 },
    { name: 'env beats file', env: { GPUSCOPE_API_HOST: '10.0.0.1' }, path: ['api', 'host'], want: '10.0.0.1' },
  ])('env $name overlays the file', ({ env, path, want }) => {
    const { config } = loadConfig({ file: join(fixtures, 'good/server.yaml'), env })
    let v: unknown = config
    for (const p of path) v = (v as Record<string, unknown>)[p]
    expect(v).toEqual(want)
  })

  it('keeps file values that env does not override', () => {
    const { config } = loadConfig({ file: join(fixtures, 'good/server.yaml'), env: { GPUSCOPE_API_PORT: '1' } })
    expect(config.store.ttl).toEqual({ rawDays: 14, minuteDays: 180, hourDays: 1095 })
    expect(config.store.database).toBe('gpuscope_prod')
  })

  it.each([
    { name: 'non-numeric port', env: { GPUSCOPE_API_PORT: 'http' }, want: 'api.port: Invalid input: expected number, received string (env GPUSCOPE_API_PORT)' },
    { name: 'unknown variable', env: { GPUSCOPE_API_PROT: '1' }, want: 'unknown environment variable GPUSCOPE_API_PROT' },
  ])('a bad env var is named: $name', ({ env, want }) => {
    expect(loadError({ env, cwd: badDir }).message).toContain(want)
  })

  it('lists file and env problems together in one error', () => {
    const err = loadError({ file: join(badDir, 'port-out-of-range.yaml'), env: { GPUSCOPE_LOG_LEVEL: 'loud' } })
    expect(err.issues.map((i) => i.path).sort()).toEqual(['api.port', 'log.level'])
  })

  it('rejects a --config file that does not exist', () => {
    expect(loadError({ file: 'nope.yaml', env: {}, cwd: badDir }).message).toContain("config file 'nope.yaml' does not exist")
  })

  it('returns a frozen config', () => {
    const { config } = loadConfig({ env: {}, cwd: badDir })
    expect(Object.isFrozen(config.store.writer)).toBe(true)
  })

  it('maps every scalar field to a GPUSCOPE_ variable', () => {
    const names = envMapping().map((m) => m.env)
    expect(names).toEqual(expect.arrayContaining(['GPUSCOPE_API_PORT', 'GPUSCOPE_STORE_PATH', 'GPUSCOPE_STORE_URL', 'GPUSCOPE_STORE_TTL_RAW_DAYS']))
  })
})

describe('redact', () => {
  it('hides secrets and URL credentials but keeps the rest', () => {
    const { config } = loadConfig({ file: join(fixtures, 'good/server.yaml'), env: {} })
    const shown = redact({ ...config, store: { ...config.store, url: 'https://u:pw@ch.local:8443' } }) as typeof config
    expect(shown.store.password).toBe(REDACTED)
    expect(shown.store.url).toBe(`https://u:${REDACTED}@ch.local:8443`)
    expect(shown.store.username).toBe('gpuscope')
    expect(JSON.stringify(shown)).not.toContain('s3cr3t-pw')
  })
  it('leaves an unset secret empty so it reads as unset', () => {
    expect(redact({ password: '' })).toEqual({ password: '' })
  })
})
