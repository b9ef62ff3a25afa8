/**
 * Bearer-token authentication for /api/v1. Tokens and roles come from config
 * (config/auth.ts). A presented token is hashed to a fixed length and compared
 * with every configured token's hash in constant time, so neither the match
 * nor its position leaks through timing. The token itself is never logged,
 * echoed or put in an error.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Request, RequestHandler, Response } from 'express'
import type { AuthConfig, AuthToken } from '../config/auth'
import { setPrincipal, teamScope, type Principal } from './auth'
import { ForbiddenError, UnauthorizedError } from './authErrors'
import { fail } from './envelope'

/** 401 message when no bearer token came with the request. */
export const MISSING_TOKEN = "missing bearer token: send the header 'Authorization: Bearer <token>'"
/** 401 message when the token matches none configured. */
export const UNKNOWN_TOKEN = 'unknown bearer token'
/** 403 message for a request that changes state without an admin token. */
export const ADMIN_ONLY = 'this request changes state and needs an admin token'

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i

interface Entry {
  digest: Buffer
  principal: Principal
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest()

/** The principal a configured token stands for. */
export function principalFor(token: Pick<AuthToken, 'name' | 'role'>): Principal {
  if (token.role === 'admin') return { role: 'admin', name: token.name }
  if (token.role === 'viewer') return { role: 'viewer', name: token.name }
  return { role: 'team', name: token.name, team: token.role.slice('team:'.length) }
}

/** 403 message for a team token that asked about another team. */
export const otherTeam = (own: string, asked: string): string => `a token of team '${own}' may not see team '${asked}'`

/**
 * Matches a presented token against every entry; all entries are compared,
 * whatever matched, so the time taken does not depend on which one did.
 */
function match(entries: readonly Entry[], presented: string): Principal | undefined {
  const d = digest(presented)
  let found: Principal | undefined
  for (const e of entries) if (timingSafeEqual(d, e.digest) && found === undefined) found = e.principal
  return found
}

/** Raises the access error a request deserves, or returns its principal. */
function authenticate(entries: readonly Entry[], req: Request): Principal {
  const header = req.get('authorization')
  const token = header === undefined ? undefined : BEARER.exec(header)?.[1]
  if (token === undefined) throw new UnauthorizedError(MISSING_TOKEN)
  const principal = match(entries, token)
  if (!principal) throw new UnauthorizedError(UNKNOWN_TOKEN)
  authorize(principal, req)
  return principal
}

/**
 * Checks that hold for every route: only admins change state, and a team
 * token may not filter on another team (routes also confine team tokens to
 * their team, and refuse another team's workload by id).
 */
function authorize(principal: Principal, req: Request): void {
  if (!READ_METHODS.has(req.method) && principal.role !== 'admin') throw new ForbiddenError(ADMIN_ONLY)
  const own = teamScope(principal)
  const asked = req.query.team
  if (own !== undefined && asked !== undefined) {
    for (const team of Array.isArray(asked) ? asked : [asked]) {
      if (typeof team === 'string' && team !== '' && team !== own) throw new ForbiddenError(otherTeam(own, team))
    }
  }
}

function answer(res: Response, err: UnauthorizedError | ForbiddenError): void {
  if (err instanceof UnauthorizedError) {
    // RFC 6750: invalid_token only when a token was presented.
    const detail = err.message === UNKNOWN_TOKEN ? ', error="invalid_token"' : ''
    res.set('WWW-Authenticate', `Bearer realm="gpuscope"${detail}`)
    res.status(401).json(fail(err.type, err.message))
    return
  }
  res.status(403).json(fail(err.type, err.message))
}

const bearerHandlers = new WeakSet<RequestHandler>()

/** Whether the handler is a createAuth middleware that demands bearer tokens (auth enabled), so the OpenAPI document declares them. */
export const demandsBearer = (handler: RequestHandler): boolean => bearerHandlers.has(handler)

/**
 * Express middleware for /api/v1: with auth disabled every request is
 * anonymous; otherwise a known bearer token is required (401 with
 * `WWW-Authenticate: Bearer` when it is missing or unknown) and its role is
 * attached as the request's principal (403 for what the role may not do).
 */
export function createAuth(config: AuthConfig): RequestHandler {
  if (!config.enabled) {
    return (_req, res, next) => {
      setPrincipal(res, { role: 'anonymous' })
      next()
    }
  }
  const entries: Entry[] = config.tokens.map((t) => ({ digest: digest(t.token), principal: principalFor(t) }))
  const handler: RequestHandler = (req, res, next) => {
    try {
      setPrincipal(res, authenticate(entries, req))
    } catch (err) {
      if (err instanceof UnauthorizedError || err instanceof ForbiddenError) return answer(res, err)
      return next(err)
    }
    next()
  }
  bearerHandlers.add(handler)
  return handler
}
