/**
 * `POST /api/v1/whatif`: replays stored history under the candidate idle and
 * burst policy in the JSON body (config/whatif.ts, the same shape as the
 * policy file of `gpuscope whatif`) and answers the report in the envelope.
 * defineRoute (api/route.ts) registers GET routes with a query schema only,
 * so this POST route is mounted on the router directly, with the same
 * envelope, error handling (errors go to api/errorHandler.ts) and OpenAPI
 * registration. Read only: nothing is stopped, scaled, sent or written.
 */
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import express, { type Request, type Response, type Router } from 'express'
import { runWhatif } from '../../alerts/whatif/run'
import { resolveWhatifPolicy, whatifPolicySchema } from '../../config/whatif'
import { InputError } from '../../core/errors'
import { principalOf, teamScope } from '../auth'
import { ForbiddenError } from '../authErrors'
import { ok } from '../envelope'
import { envelopeResponses, type RouteDeps } from '../route'
import { whatifData } from '../schemas/whatif'

/** The path of the what-if route. */
export const WHATIF_PATH = '/api/v1/whatif'

/** Registers POST /api/v1/whatif. */
export function registerWhatifRoutes(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  registry.registerPath({
    method: 'post',
    path: WHATIF_PATH,
    summary: 'Policy what-if: replay stored history under a candidate idle and burst policy (reads only); GPU-hours reclaimed, warnings, stops, false stops, cloud burst, pending wait avoided',
    tags: ['alerts'],
    request: { body: { description: 'the candidate policy: overrides of idle, burst and enforcer on top of the current config, window and step', content: { 'application/json': { schema: whatifPolicySchema } } } },
    responses: envelopeResponses(whatifData, { errors: { 400: 'bad policy: the message names every bad field', 403: 'only an admin token may run it; a team token may not replay the whole fleet' } }),
  })
  router.post(WHATIF_PATH, express.json({ limit: '256kb' }), async (req: Request, res: Response) => {
    const scope = teamScope(principalOf(res))
    if (scope !== undefined) throw new ForbiddenError(`a what-if replays every team's workloads: the token of team '${scope}' may not run it`)
    const resolved = resolveWhatifPolicy(req.body ?? {}, deps.config)
    if ('issues' in resolved) throw new InputError(`bad policy: ${resolved.issues.map((i) => `${i.path || 'body'}: ${i.message}`).join('; ')}`)
    const result = await runWhatif({ query: deps.query, config: deps.config, nowMs: deps.now() }, resolved.policy)
    res.json(ok(result, result.warnings))
  })
}
