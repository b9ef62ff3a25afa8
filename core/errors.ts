/**
 * Typed errors shared by every layer. api/errorHandler.ts maps them to HTTP;
 * the CLI maps them to exit codes. Messages name the offending input but never
 * carry a secret value.
 */

/** Base class: every gpuscope error has a stable `type` used in API envelopes. */
export abstract class GpuscopeError extends Error {
  abstract readonly type: string
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** Bad input from a user: a query parameter, a CLI argument, a request body. */
export class InputError extends GpuscopeError {
  readonly type = 'bad_input'
}

/** The thing asked for does not exist. */
export class NotFoundError extends GpuscopeError {
  readonly type = 'not_found'
}

/** The request conflicts with the current state (e.g. an action already taken). */
export class ConflictError extends GpuscopeError {
  readonly type = 'conflict'
}

/** A dependency (ClickHouse, Kubernetes API, Slack, a cloud API) failed. */
export class UpstreamError extends GpuscopeError {
  readonly type = 'upstream'
}

/** One problem found in a configuration: the dotted path and what is wrong. */
export interface ConfigIssue {
  path: string
  message: string
}

/** Invalid configuration: lists every problem at once, each by its path. */
export class ConfigError extends GpuscopeError {
  readonly type = 'config'
  readonly issues: readonly ConfigIssue[]
  constructor(issues: ConfigIssue[], source?: string) {
    const where = source ? ` (${source})` : ''
    const lines = issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`)
    super(`invalid configuration${where}: ${issues.length} problem(s)\n${lines.join('\n')}`)
    this.issues = issues
  }
}
