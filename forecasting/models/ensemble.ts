/**
 * Equal-weight forecast combination: the mean of its members' forecasts.
 * Combining a seasonal naive with a smoothing model is a well-tried way to
 * beat both (Clemen 1989; the M4 competition): their errors are only partly
 * correlated, and equal weights need no estimation.
 */
import type { Fitted, Model } from './types'

/** The mean of the members' forecasts; needs the longest history any member needs. */
export function ensemble(id: string, label: string, members: readonly Model[]): Model {
  return {
    id,
    label,
    minLength: Math.max(...members.map((m) => m.minLength)),
    naive: false,
    holtWinters: members.flatMap((m) => m.holtWinters ?? []),
    fit(history): Fitted {
      return combine(members, members.map((m) => m.fit(history)))
    },
  }
}

/** The mean forecaster over fitted members; reusing it reuses each member (or refits one that cannot be reused). */
function combine(members: readonly Model[], fitted: readonly Fitted[]): Fitted {
  const params: Record<string, number> = {}
  fitted.forEach((f, i) => {
    for (const [k, v] of Object.entries(f.params)) params[`${members[i]!.id}.${k}`] = v
  })
  return {
    params,
    forecast(horizon) {
      const all = fitted.map((f) => f.forecast(horizon))
      const out = new Array<number>(horizon)
      for (let h = 0; h < horizon; h++) {
        // Summed from 0 in member order, as a reduce would.
        let sum = 0
        for (const f of all) sum += f[h]!
        out[h] = sum / all.length
      }
      return out
    },
    reuse: (history) => combine(members, fitted.map((f, i) => (f.reuse ? f.reuse(history) : members[i]!.fit(history)))),
  }
}
