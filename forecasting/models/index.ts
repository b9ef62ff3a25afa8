/**
 * The model catalogue: every model a series may be forecast with, by id.
 * Model choice per series is by rolling-origin backtest (forecasting/choose.ts)
 * among the configured candidates; seasonal naive (24 h) is the baseline.
 */
import { InputError } from '../../core/errors'
import { DAY_HOURS, WEEK_HOURS } from '../series'
import { BASELINE_ID, MODEL_IDS, type ModelId } from './ids'
import { ensemble } from './ensemble'
import { holtWinters } from './holtWinters'
import { linearTrend } from './linear'
import { mstlEts } from './mstl'
import { seasonalNaive } from './naive'
import type { Model } from './types'

/** Builds the model with this id. */
export function modelById(id: ModelId): Model {
  switch (id) {
    case 'snaive24':
      return seasonalNaive(DAY_HOURS)
    case 'snaive168':
      return seasonalNaive(WEEK_HOURS)
    case 'linear':
      return linearTrend()
    case 'hw-daily':
      return holtWinters({ weekly: false, damped: false })
    case 'hw-damped-daily':
      return holtWinters({ weekly: false, damped: true })
    case 'hw-weekly':
      return holtWinters({ weekly: true, damped: false })
    case 'hw-damped-weekly':
      return holtWinters({ weekly: true, damped: true })
    case 'combo-daily':
      return ensemble(id, 'mean of seasonal naive (24 h) and Holt-Winters damped (daily)', [seasonalNaive(DAY_HOURS), holtWinters({ weekly: false, damped: true })])
    case 'combo-weekly':
      return ensemble(id, 'mean of seasonal naive (24 h) and Holt-Winters damped (daily + weekly)', [seasonalNaive(DAY_HOURS), holtWinters({ weekly: true, damped: true })])
    case 'mstl-ets':
      return mstlEts()
  }
}

/** Parses a comma-separated list of model ids; InputError names every unknown one and the known ids. */
export function parseModelIds(text: string): ModelId[] {
  const ids = text.split(',').map((s) => s.trim()).filter(Boolean)
  const unknown = ids.filter((id) => !(MODEL_IDS as readonly string[]).includes(id))
  if (unknown.length > 0 || ids.length === 0) {
    throw new InputError(`unknown model(s) ${unknown.map((u) => `'${u}'`).join(', ') || '(none given)'}: known models are ${MODEL_IDS.join(', ')}`)
  }
  return [...new Set(ids as ModelId[])]
}

/** The candidate models for the ids, the baseline always among them (first). */
export function candidates(ids: readonly ModelId[]): Model[] {
  return [BASELINE_ID, ...ids.filter((id) => id !== BASELINE_ID)].map(modelById)
}

export type { Fitted, Model } from './types'
export { BASELINE_ID, defaultModelIds, MODEL_IDS, type ModelId } from './ids'
