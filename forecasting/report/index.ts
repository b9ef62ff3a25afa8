/**
 * The quarterly capacity report: load its data from the store and render it
 * as HTML, Markdown and CSV (forecasting/report/data.ts, render.ts).
 */
import type { Config } from '../../config/schema'
import type { QueryFn } from '../../core/ports'
import { parseWindow, quarterOf } from '../../core/windows'
import { loadQuarterReport } from './data'
import { renderReport, type RenderedReport } from './render'

/** The last complete UTC quarter before the one `nowMs` is in (the default report). */
export function previousQuarter(nowMs: number): string {
  return quarterOf(parseWindow(quarterOf(nowMs), nowMs).fromMs - 1)
}

/** Loads and renders the report of a quarter (default: the last complete one). */
export async function quarterlyReport(query: QueryFn, config: Config, quarter: string | undefined, nowMs: number): Promise<RenderedReport & { quarter: string }> {
  const q = (quarter ?? previousQuarter(nowMs)).toUpperCase()
  return { quarter: q, ...renderReport(await loadQuarterReport(query, config, q, nowMs, quarter === undefined)) }
}

export { loadQuarterReport, nextQuarterOf, type QuarterReport } from './data'
export { renderReport, type RenderedReport } from './render'
