import { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import type { Request, Response, Router } from 'express'
import { stringify } from 'csv-stringify/sync'
import type { z } from 'zod'
import type { Config } from '../config/schema'
import { InputError } from '../core/errors'
import type { Logger, QueryFn } from '../core/ports'
import { principalOf, type Principal } from './auth'
import { ok } from './envelope'

/** What every route handler may use. */
export interface RouteDeps {
  query: QueryFn
  config: Config
  logger: Logger
  now: () => number
}

/** One request as a handler sees it: validated query, path params, who asks, when. */
export interface RouteContext<Q> {
  query: Q
  params: Record<string, string>
  principal: Principal
  nowMs: number
}

/** A table for CSV answers: columns in order, rows keyed by column. */
export interface Table {
  columns: string[]
  rows: Array<Record<string, unknown>>
}

/** What a handler returns: the data, partial-failure warnings, and for tabular answers the table CSV is made from. */
export interface RouteResult {
  data: unknown
  warnings?: string[]
  table?: Table
}

/** A GET route: its path, OpenAPI summary, zod query schema and handler. */
export interface RouteDef<Q extends z.ZodObject> {
  path: string
  summary: string
  tag: string
  query: Q
  /** Path parameters, e.g. `{ id: z.string() }`, for the OpenAPI document. */
  params?: z.ZodObject
  /** Response data schema for the OpenAPI document (optional; the envelope is always documented). */
  response?: z.ZodType
  handler: (ctx: RouteContext<z.infer<Q>>) => Promise<RouteResult>
}

/** Collects every route's schemas so /api/v1/openapi.json is generated from the same zod schemas that validate requests. */
export const newRegistry = (): OpenAPIRegistry => new OpenAPIRegistry()

/**
 * Registers a GET route: validates the query with its zod schema (a 400 names
 * every bad parameter), runs the handler, and answers in the envelope as JSON,
 * or as CSV when the answer is tabular and `format=csv` or `Accept: text/csv`.
 */
export function defineRoute<Q extends z.ZodObject>(router: Router, registry: OpenAPIRegistry, def: RouteDef<Q>, now: () => number): void {
  registry.registerPath({
    method: 'get',
    path: def.path.replace(/:(\w+)/g, '{$1}'),
    summary: def.summary,
    tags: [def.tag],
    request: { query: def.query, ...(def.params ? { params: def.params } : {}) },
    responses: {
      200: { description: 'success envelope {status, data, warnings}; text/csv for tabular answers' },
      400: { description: 'bad input: the message names every bad parameter' },
      401: { description: 'missing or unknown token' },
      403: { description: 'the token may not see this' },
    },
  })
  router.get(def.path, async (req: Request, res: Response) => {
    const query = parseQuery(def.query, req.query)
    const result = await def.handler({ query, params: req.params as Record<string, string>, principal: principalOf(res), nowMs: now() })
    if (result.table && wantsCsv(req)) {
      res.type('text/csv').send(toCsv(result.table))
      return
    }
    res.json(ok(result.data, result.warnings ?? []))
  })
}

/** Validates query parameters; one InputError lists every bad one as `name: problem`. */
export function parseQuery<S extends z.ZodObject>(schema: S, raw: unknown): z.infer<S> {
  const { format: _format, ...rest } = (raw ?? {}) as Record<string, unknown>
  const parsed = schema.safeParse(rest)
  if (parsed.success) return parsed.data
  const problems = parsed.error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') return `unknown parameter(s) ${i.keys.map((k) => `'${k}'`).join(', ')}`
    return `${i.path.join('.') || 'query'}: ${i.message}`
  })
  throw new InputError(`bad query: ${problems.join('; ')}`)
}

/** Whether the client asked for CSV. */
export function wantsCsv(req: Request): boolean {
  if (req.query.format === 'csv') return true
  if (req.query.format === 'json') return false
  const accept = req.get('accept') ?? ''
  return /\btext\/csv\b/.test(accept) && !/application\/json/.test(accept.split(',')[0] ?? '')
}

/** The table as RFC 4180 CSV with a header row. */
export function toCsv(table: Table): string {
  return stringify(table.rows, { header: true, columns: table.columns, cast: { boolean: (b) => (b ? 'true' : 'false') } })
}
