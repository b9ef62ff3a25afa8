import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import type { Router } from 'express'
import type { RouteDeps } from '../route'

/** Registers /burst and the actions audit routes. */
export function registerAlertRoutes(_router: Router, _registry: OpenAPIRegistry, _deps: RouteDeps): void {
  // SCAFFOLD: the routes land with issue 7.
}
