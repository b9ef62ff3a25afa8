import type { ErrorRequestHandler, RequestHandler } from 'express'
import { ConflictError, GpuscopeError, InputError, NotFoundError, UpstreamError } from '../core/errors'
import type { Logger } from '../core/ports'
import { ForbiddenError, UnauthorizedError } from './authErrors'
import { fail } from './envelope'

/** HTTP status for an error: the one place errors map to HTTP (like Backstage's getStatusCode). */
export function statusOf(err: unknown): number {
  if (err instanceof InputError) return 400
  if (err instanceof UnauthorizedError) return 401
  if (err instanceof ForbiddenError) return 403
  if (err instanceof NotFoundError) return 404
  if (err instanceof ConflictError) return 409
  if (err instanceof UpstreamError) return 503
  if (isBodyParserError(err)) return 400
  return 500
}

function isBodyParserError(err: unknown): err is { status: number; type: string } {
  return typeof err === 'object' && err !== null && 'status' in err && (err as { status: unknown }).status === 400 && 'type' in err
}

/** Express error middleware: answers in the error envelope and logs only server-side (5xx) failures. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const status = statusOf(err)
    const type = err instanceof GpuscopeError ? err.type : status === 400 ? 'bad_input' : 'internal'
    // Unknown errors may carry driver internals; only typed errors speak to clients.
    const message = err instanceof GpuscopeError || status === 400 ? (err as Error).message : 'internal error'
    if (status >= 500) logger.error({ err: err instanceof Error ? err.message : String(err), path: req.path, status }, 'request failed')
    res.status(status).json(fail(type, message))
  }
}

/** 404 for routes that do not exist, in the same envelope. */
export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json(fail('not_found', `no route ${req.method} ${req.path}`))
}
