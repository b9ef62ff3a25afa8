import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import type { Router } from 'express'
import type { RouteDeps } from '../route'

/** Registers /forecast, /capacity-plan and /reports/quarterly. */
export function registerForecastRoutes(_router: Router, _registry: OpenAPIRegistry, _deps: RouteDeps): void {
  // SCAFFOLD: the routes land with issue 6.
}
