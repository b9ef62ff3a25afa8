/**
 * MSTL decomposition (daily and weekly seasons) with an AutoETS trend, from
 * Grafana's augurs library compiled to WASM (`@bsull/augurs`). On Node the
 * WASM bytes are read from the package folder and instantiated synchronously
 * with `initSync`, once per process.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { initSync, MSTL } from '@bsull/augurs/mstl'
import { DAY_HOURS, requireLength, WEEK_HOURS } from '../series'
import type { Fitted, Model } from './types'

let ready = false

/** Instantiates the MSTL WASM module once (the package's default loader fetches a URL, which Node cannot). */
function ensureWasm(): void {
  if (ready) return
  const entry = createRequire(import.meta.url).resolve('@bsull/augurs/mstl')
  initSync({ module: readFileSync(join(dirname(entry), 'mstl_bg.wasm')) })
  ready = true
}

/** MSTL (24 h and 168 h seasons) + AutoETS on the trend; needs two weeks of history. */
export function mstlEts(): Model {
  const label = 'MSTL + AutoETS (augurs)'
  const model: Model = {
    id: 'mstl-ets',
    label,
    minLength: 2 * WEEK_HOURS,
    naive: false,
    fit(history): Fitted {
      requireLength(history.length, model.minLength, label)
      ensureWasm()
      const mstl = MSTL.ets([DAY_HOURS, WEEK_HOURS])
      mstl.fit(Float64Array.from(history))
      const cache = new Map<number, number[]>()
      return {
        params: {},
        forecast(horizon) {
          const hit = cache.get(horizon)
          if (hit) return hit.slice()
          const point = mstl.predict(horizon).point
          cache.set(horizon, point)
          return point.slice()
        },
      }
    },
  }
  return model
}
