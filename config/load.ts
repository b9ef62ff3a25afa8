import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml'
import type { z } from 'zod'
import { ConfigError, type ConfigIssue } from '../core/errors'
import { configSchema, type Config } from './schema'

/** File read when no --config is given and it exists in the working directory. */
export const DEFAULT_CONFIG_FILE = 'gpuscope.yaml'
/** Env var naming the config file, for containers where flags are awkward. */
export const CONFIG_FILE_ENV = 'GPUSCOPE_CONFIG'
const ENV_PREFIX = 'GPUSCOPE_'

export interface LoadOptions {
  /** Path given with --config; it must exist. */
  file?: string | undefined
  /** Environment to overlay; process.env when omitted. */
  env?: NodeJS.ProcessEnv
  /** Directory that holds the default gpuscope.yaml. */
  cwd?: string
}

/** A loaded configuration and where it came from (for `config print`). */
export interface LoadedConfig {
  config: Config
  file: string | undefined
  envVars: string[]
}

/**
 * Loads the configuration: schema defaults, then the YAML file, then GPUSCOPE_*
 * env vars. Returns a deeply frozen object or throws one ConfigError listing
 * every problem by path. This module is the only reader of process.env.
 */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env
  const cwd = opts.cwd ?? process.cwd()
  const file = pickFile(opts.file ?? env[CONFIG_FILE_ENV], cwd)
  const issues: ConfigIssue[] = []
  const fromFile = file ? readYaml(file, issues) : { value: {}, locate: () => '' }
  const { values: fromEnv, origins } = envOverlay(env, issues)
  const merged = deepMerge(fromFile.value, fromEnv)
  const parsed = configSchema.safeParse(merged)
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys.join(', ')] : issue.path
      const dotted = path.map(String).join('.')
      const origin = origins.get(dotted) ?? fromFile.locate(path)
      issues.push({ path: dotted, message: origin ? `${issue.message} (${origin})` : issue.message })
    }
  }
  if (issues.length > 0) throw new ConfigError(issues, file)
  return { config: deepFreeze(parsed.data as Config), file, envVars: [...origins.values()].map((o) => o.replace(/^env /, '')) }
}

function pickFile(given: string | undefined, cwd: string): string | undefined {
  if (given !== undefined && given !== '') {
    const path = resolve(cwd, given)
    if (!existsSync(path)) throw new ConfigError([{ path: '', message: `config file '${given}' does not exist` }])
    return path
  }
  const fallback = resolve(cwd, DEFAULT_CONFIG_FILE)
  return existsSync(fallback) ? fallback : undefined
}

interface YamlValue {
  value: unknown
  /** Where a path sits in the file, as `line N`, for error messages. */
  locate: (path: readonly PropertyKey[]) => string
}

function readYaml(file: string, issues: ConfigIssue[]): YamlValue {
  const text = readFileSync(file, 'utf8')
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true })
  for (const err of doc.errors) {
    const pos = err.linePos?.[0]
    const text = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')
    issues.push({ path: '', message: `YAML: ${text}${pos ? ` (line ${pos.line})` : ''}` })
  }
  if (doc.errors.length > 0) return { value: {}, locate: () => '' }
  const value = doc.toJS() ?? {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    issues.push({ path: '', message: 'the config file must hold a mapping of sections (api, store, ...)' })
    return { value: {}, locate: () => '' }
  }
  // The line of the key itself (not of its value, which for a mapping starts one line lower).
  const locate = (path: readonly PropertyKey[]): string => {
    for (let n = path.length; n > 0; n--) {
      const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1) as unknown[], true)
      if (!isMap(parent)) continue
      const pair = parent.items.find((it) => isScalar(it.key) && String(it.key.value) === String(path[n - 1]))
      const range = isScalar(pair?.key) ? pair.key.range : undefined
      if (range) return `line ${lineCounter.linePos(range[0]).line}`
    }
    return ''
  }
  return { value, locate }
}

type Leaf = { path: string[]; kind: 'string' | 'number' | 'boolean' | 'array' | 'other' }

/** Every scalar field of the schema with its GPUSCOPE_* env name (store.writer.batchRows -> GPUSCOPE_STORE_WRITER_BATCH_ROWS). */
export function envMapping(): Array<{ env: string; path: string; kind: Leaf['kind'] }> {
  return leaves(configSchema, []).map((l) => ({ env: envName(l.path), path: l.path.join('.'), kind: l.kind }))
}

function envName(path: string[]): string {
  return ENV_PREFIX + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')
}

function leaves(schema: z.ZodType, path: string[]): Leaf[] {
  const def = (schema as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } } })._zod.def
  switch (def.type) {
    case 'default':
    case 'optional':
    case 'nullable':
    case 'prefault':
      return leaves(def.innerType as z.ZodType, path)
    case 'pipe':
      return leaves(def.in as z.ZodType, path)
    case 'object': {
      const shape = (schema as unknown as { shape: Record<string, z.ZodType> }).shape
      return Object.entries(shape).flatMap(([k, v]) => leaves(v, [...path, k]))
    }
    case 'string':
    case 'enum':
    case 'literal':
      return [{ path, kind: 'string' }]
    case 'number':
    case 'int':
      return [{ path, kind: 'number' }]
    case 'boolean':
      return [{ path, kind: 'boolean' }]
    case 'array':
      return [{ path, kind: 'array' }]
    default:
      return [{ path, kind: 'other' }]
  }
}

function envOverlay(env: NodeJS.ProcessEnv, issues: ConfigIssue[]): { values: Record<string, unknown>; origins: Map<string, string> } {
  const byEnv = new Map(leaves(configSchema, []).map((l) => [envName(l.path), l]))
  const values: Record<string, unknown> = {}
  const origins = new Map<string, string>()
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || name === CONFIG_FILE_ENV || raw === undefined) continue
    const leaf = byEnv.get(name)
    if (!leaf || leaf.kind === 'other') {
      issues.push({ path: '', message: `unknown environment variable ${name} (see README, Configuration)` })
      continue
    }
    setIn(values, leaf.path, coerce(raw, leaf.kind))
    origins.set(leaf.path.join('.'), `env ${name}`)
  }
  return { values, origins }
}

/** Env values are strings; convert the ones that clearly are numbers or booleans and let the schema judge the rest. */
function coerce(raw: string, kind: Leaf['kind']): unknown {
  const s = raw.trim()
  if (kind === 'number' && s !== '' && Number.isFinite(Number(s))) return Number(s)
  if (kind === 'boolean' && /^(true|false|1|0|yes|no)$/i.test(s)) return /^(true|1|yes)$/i.test(s)
  if (kind === 'array') return s === '' ? [] : s.split(',').map((x) => x.trim())
  return raw
}

function setIn(target: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = target
  for (const key of path.slice(0, -1)) {
    const next = cur[key]
    if (typeof next !== 'object' || next === null) cur[key] = {}
    cur = cur[key] as Record<string, unknown>
  }
  cur[path[path.length - 1] as string] = value
}

function deepMerge(base: unknown, over: Record<string, unknown>): unknown {
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return Object.keys(over).length ? over : base
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) }
  for (const [k, v] of Object.entries(over)) {
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? deepMerge(out[k], v as Record<string, unknown>) : v
  }
  return out
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
