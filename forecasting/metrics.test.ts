import { describe, expect, it } from 'vitest'
import { coverage, mae, relativeMae, smape } from './metrics'

describe('accuracy measures', () => {
  it.each([
    { name: 'a perfect forecast', a: [10, 20], f: [10, 20], want: 0 },
    { name: 'zero forecast for zero demand counts as perfect', a: [0, 10], f: [0, 10], want: 0 },
    { name: 'a forecast of 0 for real demand is the maximum, 2', a: [10], f: [0], want: 2 },
    { name: 'half of a point off', a: [100, 100], f: [100, 50], want: (2 * 50) / 150 / 2 },
  ])('sMAPE of $name', ({ a, f, want }) => {
    expect(smape(a, f)).toBeCloseTo(want, 12)
  })

  it('MAE, and MASE as MAE over the baseline MAE (null for a perfect baseline)', () => {
    expect(mae([1, 2, 3], [2, 2, 5])).toBe(1)
    expect(relativeMae(1, 2)).toBe(0.5)
    expect(relativeMae(1, 0)).toBeNull()
  })

  it('counts an actual on the interval bound as covered', () => {
    expect(coverage([1, 5, 9], [1, 6, 0], [2, 8, 9])).toBeCloseTo(2 / 3, 12)
  })

  it('refuses mismatched lengths rather than scoring part of them', () => {
    expect(() => smape([1, 2], [1])).toThrow('metric: 2 actuals and 1 forecasts')
  })
})
