/**
 * Model ids on their own (no model code), so config validation can name them
 * without loading the models.
 */

/** Every model id, in the order tables list them. */
export const MODEL_IDS = [
  'snaive24',
  'snaive168',
  'linear',
  'hw-daily',
  'hw-damped-daily',
  'hw-weekly',
  'hw-damped-weekly',
  'combo-daily',
  'combo-weekly',
  'mstl-ets',
] as const

/** One model id. */
export type ModelId = (typeof MODEL_IDS)[number]

/** The baseline of MASE and of the bar: seasonal naive with a daily season. */
export const BASELINE_ID: ModelId = 'snaive24'

/** Candidates when config names none: all but MSTL (it is ~10× slower and did not beat naive on Helios: DESIGN.md). */
export const defaultModelIds = (): ModelId[] => MODEL_IDS.filter((id) => id !== 'mstl-ets')
