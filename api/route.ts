import { OpenAPIRegistry, type ResponseConfig } from '@asteasolutions/zod-to-openapi'
import type { Request, Response, Router } from 'express'
import { stringify } from 'csv-stringify/sync'
import { z } from 'zod'
import type { Config } from '../config/schema'
import { InputError } from '../core/errors'
import type { Logger, QueryFn } from '../core/ports'
import { principalOf, type Principal } from './auth'
import { errorEnvelopeSchema, ok, okEnvelopeSchema } from './envelope'

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
  /** Schema of the envelope's `data` for the OpenAPI document (optional; the envelope is always documented). */
  response?: z.ZodType
  /** The route answers text/csv too (its handler returns a table). */
  csv?: boolean
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
    responses: envelopeResponses(def.response, { csv: def.csv ?? false }),
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

/** The error statuses every /api/v1 route may answer, each in the error envelope. */
export const ERROR_RESPONSES = {
  400: 'bad input: the message names every bad parameter',
  401: 'missing or unknown bearer token',
  403: 'the token may not see or do this',
  404: 'no such route or object',
  500: 'internal error (details are logged, not sent)',
} as const

/** The error responses of a route (descriptions may be overridden), each the error envelope as application/json. */
export function errorResponses(descriptions: Partial<Record<keyof typeof ERROR_RESPONSES, string>> = {}): Record<string, ResponseConfig> {
  const json = { 'application/json': { schema: errorEnvelopeSchema } }
  return Object.fromEntries(Object.entries(ERROR_RESPONSES).map(([code, text]) => [code, { description: descriptions[Number(code) as keyof typeof ERROR_RESPONSES] ?? text, content: json }]))
}

/**
 * The OpenAPI responses of an enveloped route: 200 as `{status: 'success',
 * data, warnings}` (data as `data` says, any JSON when none is given), plus
 * text/csv when the route has a table, and the error envelope for 400, 401,
 * 403, 404 and 500.
 */
export function envelopeResponses(data: z.ZodType | undefined, opts: { csv?: boolean; description?: string; errors?: Partial<Record<keyof typeof ERROR_RESPONSES, string>> } = {}): Record<string, ResponseConfig> {
  const csv = opts.csv ? { 'text/csv': { schema: z.string().describe('RFC 4180 CSV with a header row; format=csv or Accept: text/csv') } } : {}
  return {
    200: {
      description: opts.description ?? (opts.csv ? 'success envelope {status, data, warnings}; text/csv with format=csv' : 'success envelope {status, data, warnings}'),
      content: { 'application/json': { schema: okEnvelopeSchema(data ?? z.unknown()) }, ...csv },
    },
    ...errorResponses(opts.errors),
  }
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
