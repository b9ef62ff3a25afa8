import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import type { Router } from 'express'
import type { RouteDeps } from '../route'
import { registerAlertRoutes } from './alerts'
import { registerForecastRoutes } from './forecast'
import { registerIdleRoutes } from './idle'
import { registerOpenCostRoutes } from './opencost'
import { registerUsageRoutes } from './usage'
import { registerWhatifRoutes } from './whatif'
import { registerWasteRoutes } from './waste'
import { registerWorkloadRoutes } from './workloads'

/** Mounts every /api/v1 route on the router and records it in the OpenAPI registry. */
export function registerRoutes(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  registerUsageRoutes(router, registry, deps)
  registerIdleRoutes(router, registry, deps)
  registerWorkloadRoutes(router, registry, deps)
  registerForecastRoutes(router, registry, deps)
  registerAlertRoutes(router, registry, deps)
  registerWhatifRoutes(router, registry, deps)
  registerOpenCostRoutes(router, registry, deps)
  registerWasteRoutes(router, registry, deps)
}
