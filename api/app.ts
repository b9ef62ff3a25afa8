import express, { Router, type Express, type RequestHandler } from 'express'
import type { Logger } from '../core/ports'
import { registerAdmissionHook } from '../alerts/admission'
import { demandsBearer } from './authMiddleware'
import { ok } from './envelope'
import { errorHandler, notFoundHandler } from './errorHandler'
import type { Metrics } from './metrics'
import { newRegistry, openApiDocument, type RouteDeps } from './route'
import { registerRoutes } from './routes/index'

/** What the HTTP app needs; the composition root (cli/serve.ts) builds it. */
export interface AppDeps {
  logger: Logger
  metrics: Metrics
  /** Readiness: migrations done and the store answers. Returns the reasons it is not ready. */
  readiness: () => Promise<string[]>
  version: string
  /** Store, config and clock for the /api/v1 routes. */
  routes: RouteDeps
  /** Authentication (sets the request's principal, answers 401/403); none = anonymous. */
  auth?: RequestHandler
  /** Serve /api/v1, the OpenAPI document and the admission hook (default true; false for collector and scheduler roles). */
  serveApi?: boolean
}

/**
 * Builds the Express app. Routes added by later issues mount under /api/v1;
 * every answer uses the envelope, every error goes through errorHandler.
 * Auth guards the paths the API router serves (/api/v1/* and OpenCost's
 * /allocation/*); /healthz, /readyz, /metrics, /api/v1/openapi.json, the
 * admission hook and unknown paths (404) need no token.
 */
export function createApp(deps: AppDeps): Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('query parser', 'simple')
  app.use((req, res, next) => {
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched'
      deps.metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) })
    })
    next()
  })

  app.get('/healthz', (_req, res) => {
    res.json(ok({ alive: true, version: deps.version }))
  })
  app.get('/readyz', async (_req, res) => {
    const problems = await deps.readiness()
    res.status(problems.length === 0 ? 200 : 503).json(ok({ ready: problems.length === 0, problems }))
  })
  // No token on /metrics even with auth on, so Prometheus can scrape it; it does expose fleet gauges with
  // per-team allocation (gpuscope_allocated_gpus{team}), so who may reach the port is the NetworkPolicy's
  // job (docs/operations.md, step Network), not a token's.
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics())
  })

  if (deps.serveApi === false) {
    app.use(notFoundHandler)
    app.use(errorHandler(deps.logger))
    return app
  }
  const api = Router()
  const registry = newRegistry()
  registerRoutes(api, registry, deps.routes)
  const openapi = openApiDocument(registry, { version: deps.version, bearer: deps.auth !== undefined && demandsBearer(deps.auth) })
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openapi)
  })
  // Outside the /api/v1 router: the API server calls it without a gpuscope token, and it must fail open.
  registerAdmissionHook(app, deps.routes)
  if (deps.auth) app.use(onServedPaths(api, deps.auth))
  app.use(api)

  app.use(notFoundHandler)
  app.use(errorHandler(deps.logger))
  return app
}

/** A router layer as the `router` package keeps it (Express 5): `match` is pure and says whether it serves a path. */
interface PathLayer {
  match(path: string): unknown
}

/**
 * Runs `guard` (auth) for requests to a path the router serves, with any
 * method, and lets every other request pass on to the 404 handler: an
 * unknown path answers 404 without a token, a known one still 401s. The
 * router's own layers decide, so the guard and the routing cannot disagree.
 */
function onServedPaths(router: Router, guard: RequestHandler): RequestHandler {
  const layers = router.stack as unknown as PathLayer[]
  return (req, res, next) => (layers.some((layer) => layer.match(req.path) !== false) ? guard(req, res, next) : next())
}
