import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import type { Router } from 'express'
import { z } from 'zod'
import { InputError } from '../../core/errors'
import { FINAL_STATES, parseFinalStateBy, summarizeFinalStates, type FinalStateGroup } from '../../core/finalStates'
import { parsePeriod } from '../../core/usage'
import { parseWindow, type TimeWindow } from '../../core/windows'
import { finalStateRows } from '../../store/queries/finalStates'
import { teamScope, type Principal } from '../auth'
import { ForbiddenError } from '../authErrors'
import { otherTeam } from '../authMiddleware'
import { finalStatesData } from '../schemas/waste'
import { defineRoute, type RouteDeps, type Table } from '../route'

const finalStatesQuery = z.strictObject({
  period: z.string().optional().describe('a month (2026-09), a quarter (2026-Q3) or a window (30d, FROM,TO); default: this month so far'),
  by: z.string().optional().describe('team, kind or team,kind (default team)'),
  top: z.coerce.number().int().min(0).max(100).default(10).describe('how many repeat offenders (users with 2 or more failed or cancelled pods) to list'),
  team: z.string().min(1).optional().describe('only this team (a team token sees only its own)'),
})


/** The team a request may see: its token's team, or the `team` parameter; a team token asking for another team is refused. */
function scopedTeam(principal: Principal, team: string | undefined): string | undefined {
  const scope = teamScope(principal)
  if (scope !== undefined && team !== undefined && team !== scope) throw new ForbiddenError(otherTeam(scope, team))
  return scope ?? team
}

const iso = (ms: number) => new Date(ms).toISOString()

/** The CSV: one line per group, GPU-hours and pods per final state. */
function finalStatesTable(groups: readonly FinalStateGroup[], by: readonly string[]): Table {
  const columns = [
    ...by, ...FINAL_STATES.map((s) => `${s}GpuHours`), 'totalGpuHours', 'failedOrCancelledGpuHours', 'failedOrCancelledRatio', ...FINAL_STATES.map((s) => `${s}Pods`),
  ]
  return {
    columns,
    rows: groups.map((g) => ({
      ...(g.team !== undefined ? { team: g.team } : {}), ...(g.kind !== undefined ? { kind: g.kind } : {}),
      ...Object.fromEntries(FINAL_STATES.map((s) => [`${s}GpuHours`, g.gpuHours[s]])),
      totalGpuHours: g.totalGpuHours, failedOrCancelledGpuHours: g.failedOrCancelledGpuHours, failedOrCancelledRatio: g.failedOrCancelledRatio ?? '',
      ...Object.fromEntries(FINAL_STATES.map((s) => [`${s}Pods`, g.pods[s]])),
    })),
  }
}

/** Registers /waste/final-states. */
export function registerWasteRoutes(router: Router, registry: OpenAPIRegistry, deps: RouteDeps): void {
  defineRoute(router, registry, {
    path: '/api/v1/waste/final-states',
    summary: 'GPU-hours by final state (succeeded, failed, cancelled, running) per team and/or workload kind, with the top repeat offenders',
    tag: 'waste',
    query: finalStatesQuery,
    response: finalStatesData,
    csv: true,
    handler: async ({ query, principal, nowMs }) => {
      const by = parseFinalStateBy(query.by)
      const team = scopedTeam(principal, query.team)
      const period = parsePeriod(query.period, nowMs)
      if (period.fromMs >= nowMs) throw new InputError(`period '${query.period}' starts after now: no GPU-hours yet`)
      const upTo = { fromMs: period.fromMs, toMs: Math.min(period.toMs, nowMs) }
      const rows = await finalStateRows(deps.query, { ...upTo, nowMs, team })
      const summary = summarizeFinalStates(rows, by, query.top)
      const warnings: string[] = []
      if (period.toMs > nowMs) warnings.push(`the period is not over: GPU-hours up to now (${iso(nowMs)}); running work may still fail or be cancelled`)
      if (summary.totals.gpuHours.unknown > 0) warnings.push(`${summary.totals.pods.unknown} pods ended without a final phase in the store (state unknown)`)
      if (team !== undefined && teamScope(principal) !== undefined) warnings.push(`scoped to team '${team}'`)
      return {
        data: { period: { input: query.period ?? null, from: iso(upTo.fromMs), to: iso(upTo.toMs) }, team: team ?? null, ...summary },
        warnings,
        table: finalStatesTable(summary.groups, by),
      }
    },
  }, deps.now)
}
