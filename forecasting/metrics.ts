/**
 * Forecast accuracy measures. Definitions (the backtest report and DESIGN's
 * "bar" use these exactly):
 *
 * - sMAPE = mean over points of 2·|F − A| / (|A| + |F|), shown in percent
 *   (0..200 %); a point where both are 0 counts as a perfect 0.
 * - MASE "vs seasonal naive" = MAE of the model / MAE of seasonal naive (24 h)
 *   on the same origins and the same target hours. This is the out-of-sample
 *   (relative-MAE) scaling, not Hyndman's in-sample one, so MASE < 1 reads
 *   directly as "beats seasonal naive on these forecasts".
 * - coverage = share of actuals inside [lower, upper] of an interval.
 */

/** Mean of 2|F−A|/(|A|+|F|) as a ratio (0..2); 0/0 points count 0. Throws on length mismatch or no points. */
export function smape(actual: readonly number[], forecast: readonly number[]): number {
  assertPairs(actual, forecast)
  let total = 0
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number
    const f = forecast[i] as number
    const den = Math.abs(a) + Math.abs(f)
    if (den > 0) total += (2 * Math.abs(f - a)) / den
  }
  return total / actual.length
}

/** Mean absolute error. */
export function mae(actual: readonly number[], forecast: readonly number[]): number {
  assertPairs(actual, forecast)
  let total = 0
  for (let i = 0; i < actual.length; i++) total += Math.abs((forecast[i] as number) - (actual[i] as number))
  return total / actual.length
}

/** MAE of the model over MAE of the baseline on the same targets; null when the baseline is perfect (0). */
export function relativeMae(modelMae: number, baselineMae: number): number | null {
  return baselineMae > 0 ? modelMae / baselineMae : null
}

/** Share of actuals within [lower, upper] (inclusive). */
export function coverage(actual: readonly number[], lower: readonly number[], upper: readonly number[]): number {
  assertPairs(actual, lower)
  assertPairs(actual, upper)
  let inside = 0
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number
    if (a >= (lower[i] as number) && a <= (upper[i] as number)) inside++
  }
  return inside / actual.length
}

function assertPairs(a: readonly number[], b: readonly number[]): void {
  if (a.length !== b.length) throw new RangeError(`metric: ${a.length} actuals and ${b.length} forecasts`)
  if (a.length === 0) throw new RangeError('metric: no points')
}
