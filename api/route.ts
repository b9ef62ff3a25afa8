import { OpenApiGeneratorV3, OpenAPIRegistry, type ResponseConfig } from '@asteasolutions/zod-to-openapi'
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

/** What a handler returns: the data, partial-failure warnings, for tabular answers the table CSV is made from, and response headers (set on JSON and CSV alike). */
export interface RouteResult {
  data: unknown
  warnings?: string[]
  table?: Table
  headers?: Record<string, string>
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
 * `format` is json, or json and csv for a tabular route; anything else is a
 * 400, unless the route's own query schema declares `format` (then it is the
 * route's to validate and document).
 */
export function defineRoute<Q extends z.ZodObject>(router: Router, registry: OpenAPIRegistry, def: RouteDef<Q>, now: () => number): void {
  const formats = def.csv ? CSV_FORMATS : JSON_FORMATS
  registry.registerPath({
    method: 'get',
    path: def.path.replace(/:(\w+)/g, '{$1}'),
    summary: def.summary,
    tags: [def.tag],
    request: { query: withFormat(def.query, formats), ...(def.params ? { params: def.params } : {}) },
    responses: envelopeResponses(def.response, { csv: def.csv ?? false }),
  })
  router.get(def.path, async (req: Request, res: Response) => {
    const query = parseQuery(def.query, req.query, formats)
    const result = await def.handler({ query, params: req.params as Record<string, string>, principal: principalOf(res), nowMs: now() })
    if (result.headers) res.set(result.headers)
    if (result.table && wantsCsv(req)) {
      res.type('text/csv').send(toCsv(result.table))
      return
    }
    res.json(ok(result.data, result.warnings ?? []))
  })
}

const JSON_FORMATS = ['json'] as const
const CSV_FORMATS = ['json', 'csv'] as const

/** The query schema with the generic `format` parameter documented, unless the route declares its own. */
function withFormat(query: z.ZodObject, formats: readonly string[]): z.ZodObject {
  if ('format' in query.shape) return query
  const csv = formats.includes('csv')
  const format = z.enum(formats as [string, ...string[]]).optional()
    .describe(csv ? 'json (default) or csv (RFC 4180 with a header row; Accept: text/csv works too)' : 'json, the default and only format: this answer is not tabular')
  return query.safeExtend({ format })
}

/** The 400 problem with a `format` value, or undefined when it is one of `formats` or absent. */
function formatProblem(value: unknown, formats: readonly string[]): string | undefined {
  if (value === undefined || (typeof value === 'string' && formats.includes(value))) return undefined
  const accepted = `expected ${formats.join(' or ')}${formats.includes('csv') ? '' : ' (this answer is not tabular, so there is no csv)'}`
  return typeof value === 'string' ? `format: '${value}' is not accepted: ${accepted}` : `format: give it once: ${accepted}`
}

/** The error statuses every /api/v1 route may answer, each in the error envelope. */
export const ERROR_RESPONSES = {
  400: 'bad input: the message names every bad parameter',
  401: 'missing or unknown bearer token',
  403: 'the token may not see or do this',
  404: 'no such route or object',
  500: 'internal error (details are logged, not sent)',
  503: 'a source did not answer (the store is not open or failed a query); retry later',
} as const

/** Error statuses only some routes answer: documented when the route gives a description. */
export const OPTIONAL_ERROR_RESPONSES = {
  409: 'conflict with the current state',
} as const

type ErrorCode = keyof typeof ERROR_RESPONSES | keyof typeof OPTIONAL_ERROR_RESPONSES

/** The error responses of a route (descriptions may be overridden; 409 only when described), each the error envelope as application/json. */
export function errorResponses(descriptions: Partial<Record<ErrorCode, string>> = {}): Record<string, ResponseConfig> {
  const json = { 'application/json': { schema: errorEnvelopeSchema } }
  const codes: Array<[string, string]> = [
    ...Object.entries(ERROR_RESPONSES),
    ...Object.keys(OPTIONAL_ERROR_RESPONSES).filter((code) => descriptions[Number(code) as ErrorCode] !== undefined).map((code) => [code, ''] as [string, string]),
  ]
  return Object.fromEntries(codes.map(([code, text]) => [code, { description: descriptions[Number(code) as ErrorCode] ?? text, content: json }]))
}

/**
 * The OpenAPI responses of an enveloped route: 200 as `{status: 'success',
 * data, warnings}` (data as `data` says, any JSON when none is given), plus
 * text/csv when the route has a table, and the error envelope for 400, 401,
 * 403, 404, 500 and 503 (and 409 when `errors` describes it).
 */
export function envelopeResponses(data: z.ZodType | undefined, opts: { csv?: boolean; description?: string; errors?: Partial<Record<ErrorCode, string>> } = {}): Record<string, ResponseConfig> {
  const csv = opts.csv ? { 'text/csv': { schema: z.string().describe('RFC 4180 CSV with a header row; format=csv or Accept: text/csv') } } : {}
  return {
    200: {
      description: opts.description ?? (opts.csv ? 'success envelope {status, data, warnings}; text/csv with format=csv' : 'success envelope {status, data, warnings}'),
      content: { 'application/json': { schema: okEnvelopeSchema(data ?? z.unknown()) }, ...csv },
    },
    ...errorResponses(opts.errors),
  }
}

/**
 * Validates query parameters; one InputError lists every bad one as
 * `name: problem`. `format` is left to the schema when it declares one;
 * otherwise it is taken out before validation and, when `formats` is given,
 * must be one of them (callers that read their own `format` pass none).
 */
export function parseQuery<S extends z.ZodObject>(schema: S, raw: unknown, formats?: readonly string[]): z.infer<S> {
  const all = (raw ?? {}) as Record<string, unknown>
  const own = 'format' in schema.shape
  const { format, ...rest } = all
  const parsed = schema.safeParse(own ? all : rest)
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') return `unknown parameter(s) ${i.keys.map((k) => `'${k}'`).join(', ')}`
    return `${i.path.join('.') || 'query'}: ${i.message}`
  })
  const bad = own || !formats ? undefined : formatProblem(format, formats)
  if (bad) problems.push(bad)
  if (parsed.success && problems.length === 0) return parsed.data
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

/** Name of the bearer-token security scheme in the OpenAPI document. */
export const BEARER_SCHEME = 'bearerAuth'

/**
 * The OpenAPI 3.0 document of the registered routes. With `bearer` (the auth
 * middleware demands tokens) it declares the bearer scheme and requires it on
 * every operation: every documented route sits behind the middleware, while
 * /healthz, /readyz, /metrics and the document itself are served outside it
 * and are not in it. Parameters lose `nullable`: the generator marks one
 * nullable when its schema accepts null (z.coerce.number() does: Number(null)
 * is 0), but a query string cannot carry null.
 */
export function openApiDocument(registry: OpenAPIRegistry, opts: { version: string; bearer: boolean }) {
  if (opts.bearer) {
    registry.registerComponent('securitySchemes', BEARER_SCHEME, {
      type: 'http',
      scheme: 'bearer',
      description: 'A token from the auth.tokens config, as `Authorization: Bearer <token>`; its role (admin, viewer, team:<name>) decides what it sees and does.',
    })
  }
  const auth = opts.bearer ? ' Every route here needs a bearer token; /healthz, /readyz, /metrics and this document do not.' : ''
  const doc = new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: { title: 'gpuscope API', version: opts.version, description: `GPU fleet capacity, allocation, utilization, idle work and chargeback. Every answer is {status, data, warnings}.${auth}` },
    servers: [{ url: '/' }],
    ...(opts.bearer ? { security: [{ [BEARER_SCHEME]: [] }] } : {}),
  })
  for (const item of Object.values(doc.paths ?? {}) as Array<Record<string, { parameters?: Array<{ schema?: { nullable?: boolean } }> }>>) {
    for (const op of Object.values(item)) for (const param of op.parameters ?? []) delete param.schema?.nullable
  }
  return doc
}
