/**
 * Model choice per series (DESIGN.md, Forecasting: the bar): a model other
 * than seasonal naive is chosen only when it beats the best seasonal naive on
 * sMAPE and beats seasonal naive (24 h) on MAE (MASE < 1) over the same
 * backtest; among those the lowest sMAPE wins. Otherwise the best naive is
 * the choice, and the answer says so.
 */
import type { HorizonBacktest, ModelScore } from './backtest'
import { formatHours } from './series'

/** The model chosen for a series and why. */
export interface Choice {
  modelId: string
  label: string
  /** True when seasonal naive is the choice (no model beat it). */
  naive: boolean
  reason: string
  /** The horizon whose backtest decided. */
  horizonHours: number
  score: ModelScore
  /** The best seasonal naive's score, the bar. */
  bar: ModelScore
}

const pct = (r: number) => `${(r * 100).toFixed(1)}%`

/** Picks the model for a series from its backtest. */
export function chooseModel(bt: HorizonBacktest): Choice {
  const naive = bt.scores.filter((s) => s.naive).sort((a, b) => a.smapeRatio - b.smapeRatio)
  const bar = naive[0]
  if (!bar) throw new Error('chooseModel: the backtest scored no seasonal naive model')
  const beats = bt.scores
    .filter((s) => !s.naive && s.smapeRatio < bar.smapeRatio && s.mase !== null && s.mase < 1)
    .sort((a, b) => a.smapeRatio - b.smapeRatio)
  const best = beats[0]
  const at = `${formatHours(bt.horizonHours)} backtest, ${bt.originsMs.length} origins`
  if (!best) {
    return {
      modelId: bar.modelId, label: bar.label, naive: true, horizonHours: bt.horizonHours, score: bar, bar,
      reason: `naive is the choice: no model beat ${bar.label} (sMAPE ${pct(bar.smapeRatio)}) in the ${at}`,
    }
  }
  return {
    modelId: best.modelId, label: best.label, naive: false, horizonHours: bt.horizonHours, score: best, bar,
    reason: `${best.label} beats ${bar.label} in the ${at}: sMAPE ${pct(best.smapeRatio)} vs ${pct(bar.smapeRatio)}, MASE ${best.mase!.toFixed(2)}`,
  }
}
