import { OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi'
import express, { Router, type Express, type RequestHandler } from 'express'
import type { Logger } from '../core/ports'
import { registerAdmissionHook } from '../alerts/admission'
import { ok } from './envelope'
import { errorHandler, notFoundHandler } from './errorHandler'
import type { Metrics } from './metrics'
import { newRegistry, type RouteDeps } from './route'
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
  if (deps.auth) api.use(deps.auth)
  registerRoutes(api, registry, deps.routes)
  const openapi = new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: { title: 'gpuscope API', version: deps.version, description: 'GPU fleet capacity, allocation, utilization, idle work and chargeback. Every answer is {status, data, warnings}.' },
    servers: [{ url: '/' }],
  })
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openapi)
  })
  // Outside the /api/v1 router: the API server calls it without a gpuscope token, and it must fail open.
  registerAdmissionHook(app, deps.routes)
  app.use(api)

  app.use(notFoundHandler)
  app.use(errorHandler(deps.logger))
  return app
}
