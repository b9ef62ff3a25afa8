import type { Request, Response } from 'express'

/**
 * Who is asking. `admin` sees and does everything; `viewer` sees every team;
 * `team` sees only its own team's workloads, idle list and chargeback. With
 * auth disabled every request is `anonymous`, which sees everything (local
 * use only; the README says so).
 */
export type Principal =
  | { role: 'anonymous' }
  | { role: 'viewer'; name: string }
  | { role: 'admin'; name: string }
  | { role: 'team'; name: string; team: string }

const KEY = 'principal'

/** The principal the auth middleware attached to this request (anonymous when none did). */
export function principalOf(res: Response): Principal {
  return (res.locals[KEY] as Principal | undefined) ?? { role: 'anonymous' }
}

/** Attaches the principal (used by the auth middleware). */
export function setPrincipal(res: Response, principal: Principal): void {
  res.locals[KEY] = principal
}

/** The team a request is confined to, or undefined when it may see every team. */
export function teamScope(p: Principal): string | undefined {
  return p.role === 'team' ? p.team : undefined
}

/** Whether the request came with a token at all (for 401 vs 403 decisions by the middleware). */
export const hasBearer = (req: Request): boolean => /^Bearer\s+\S+/i.test(req.get('authorization') ?? '')
