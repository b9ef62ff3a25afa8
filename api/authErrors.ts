/**
 * Access errors for the HTTP API. They live beside the auth middleware rather
 * than in core/errors.ts because only the API speaks of tokens and scopes;
 * api/errorHandler.ts maps them to 401 and 403.
 */
import { GpuscopeError } from '../core/errors'

/** No usable credentials: a missing, malformed or unknown bearer token (HTTP 401). */
export class UnauthorizedError extends GpuscopeError {
  readonly type = 'unauthorized'
}

/** Valid credentials that may not see or do this, e.g. a team token asking for another team's workload (HTTP 403). */
export class ForbiddenError extends GpuscopeError {
  readonly type = 'forbidden'
}
