/**
 * The Holt-Winters filter's in-sample squared error for several parameter
 * sets at once ("lanes"), for fitting variants side by side. One filter step
 * is a chain of dependent multiplications and additions, so a single filter
 * leaves most of the CPU's arithmetic units idle; four independent filters
 * interleaved in one loop cost about twice one, not four times.
 *
 * Every lane computes exactly the expressions of holtWinters.ts' `run`, in
 * the same order, so each lane's error is bit for bit the one a lone filter
 * gives. A lane without the weekly season runs with a weekly season of zeros
 * and ω = 0: x + 0, x − 0 and 1 · x are exact, so its values are unchanged.
 */

/** A filter state before the first hour: what holtWinters.ts' initState builds. */
export interface LaneState {
  level: number
  trend: number
  daily: Float64Array
  weekly: Float64Array | null
}

/** Smoothing parameters of one lane (ω = 0 and φ = 1 where the variant has none). */
export interface LaneParams {
  alpha: number
  beta: number
  gamma: number
  omega: number
  phi: number
}

/** One lane: its initial state and parameters; errors count from hour `burnIn` (the first longest season). */
export interface Lane {
  state: LaneState
  params: LaneParams
  burnIn: number
}

const DAY = 24
const WEEK = 168
const NO_WEEKLY = new Float64Array(WEEK)

/** Interleaved seasons of up to four lanes. */
interface Scratch {
  daily: Float64Array
  weekly: Float64Array
}

/** Scratch seasons for `sseLanes`, reused across calls of one fit. */
export const laneScratch = (): Scratch => ({ daily: new Float64Array(4 * DAY), weekly: new Float64Array(4 * WEEK) })

/**
 * Squared one-step errors of one to four lanes over y from hour 0 into `out`.
 * Three lanes run as four with the last repeated (its extra answer dropped):
 * a fourth lane costs little next to a separate pass.
 */
export function sseLanes(y: Float64Array, lanes: readonly Lane[], scratch: Scratch, out: Float64Array): void {
  if (lanes.length < 1 || lanes.length > 4) throw new RangeError(`sseLanes: ${lanes.length} lanes, expected 1 to 4`)
  if (lanes.length <= 2) sseTwo(y, lanes[0]!, lanes[1] ?? lanes[0]!, scratch, out)
  else sseFour(y, lanes, scratch, out)
}

/** Two lanes interleaved: lane l's seasons at index 2·d + l. */
function sseTwo(y: Float64Array, l0: Lane, l1: Lane, scratch: Scratch, out: Float64Array): void {
  const D = scratch.daily
  const W = scratch.weekly
  ;[l0, l1].forEach((lane, l) => {
    for (let j = 0; j < DAY; j++) D[2 * j + l] = lane.state.daily[j]!
    const weekly = lane.state.weekly ?? NO_WEEKLY
    for (let j = 0; j < WEEK; j++) W[2 * j + l] = weekly[j]!
  })
  const { alpha: a0, beta: b0, gamma: g0, omega: o0, phi: f0 } = l0.params
  const { alpha: a1, beta: b1, gamma: g1, omega: o1, phi: f1 } = l1.params
  const n0 = l0.burnIn
  const n1 = l1.burnIn
  let v0 = l0.state.level
  let v1 = l1.state.level
  let t0 = l0.state.trend
  let t1 = l1.state.trend
  let s0 = 0
  let s1 = 0
  let d = 0
  let w = 0
  for (let i = 0; i < y.length; i++) {
    const value = y[i]!
    let dv = D[d]!
    let wv = W[w]!
    let e = value - (v0 + f0 * t0 + dv + wv)
    if (i >= n0) s0 += e * e
    let prev = v0
    v0 = a0 * (value - dv - wv) + (1 - a0) * (prev + f0 * t0)
    t0 = b0 * (v0 - prev) + (1 - b0) * f0 * t0
    D[d] = g0 * (value - v0 - wv) + (1 - g0) * dv
    W[w] = o0 * (value - v0 - dv) + (1 - o0) * wv

    dv = D[d + 1]!
    wv = W[w + 1]!
    e = value - (v1 + f1 * t1 + dv + wv)
    if (i >= n1) s1 += e * e
    prev = v1
    v1 = a1 * (value - dv - wv) + (1 - a1) * (prev + f1 * t1)
    t1 = b1 * (v1 - prev) + (1 - b1) * f1 * t1
    D[d + 1] = g1 * (value - v1 - wv) + (1 - g1) * dv
    W[w + 1] = o1 * (value - v1 - dv) + (1 - o1) * wv

    d += 2
    if (d === 2 * DAY) d = 0
    w += 2
    if (w === 2 * WEEK) w = 0
  }
  out[0] = s0
  out[1] = s1
}

/** Four lanes interleaved: lane l's seasons at index 4·d + l. */
function sseFour(y: Float64Array, lanes: readonly Lane[], scratch: Scratch, out: Float64Array): void {
  const l0 = lanes[0]!
  const l1 = lanes[1] ?? l0
  const l2 = lanes[2] ?? l1
  const l3 = lanes[3] ?? l2
  const D = scratch.daily
  const W = scratch.weekly
  ;[l0, l1, l2, l3].forEach((lane, l) => {
    for (let j = 0; j < DAY; j++) D[4 * j + l] = lane.state.daily[j]!
    const weekly = lane.state.weekly ?? NO_WEEKLY
    for (let j = 0; j < WEEK; j++) W[4 * j + l] = weekly[j]!
  })
  const { alpha: a0, beta: b0, gamma: g0, omega: o0, phi: f0 } = l0.params
  const { alpha: a1, beta: b1, gamma: g1, omega: o1, phi: f1 } = l1.params
  const { alpha: a2, beta: b2, gamma: g2, omega: o2, phi: f2 } = l2.params
  const { alpha: a3, beta: b3, gamma: g3, omega: o3, phi: f3 } = l3.params
  const [n0, n1, n2, n3] = [l0.burnIn, l1.burnIn, l2.burnIn, l3.burnIn]
  let v0 = l0.state.level
  let v1 = l1.state.level
  let v2 = l2.state.level
  let v3 = l3.state.level
  let t0 = l0.state.trend
  let t1 = l1.state.trend
  let t2 = l2.state.trend
  let t3 = l3.state.trend
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let d = 0
  let w = 0
  for (let i = 0; i < y.length; i++) {
    const value = y[i]!
    // Lane 0; lanes 1-3 are the same lines with their own variables.
    let dv = D[d]!
    let wv = W[w]!
    let e = value - (v0 + f0 * t0 + dv + wv)
    if (i >= n0) s0 += e * e
    let prev = v0
    v0 = a0 * (value - dv - wv) + (1 - a0) * (prev + f0 * t0)
    t0 = b0 * (v0 - prev) + (1 - b0) * f0 * t0
    D[d] = g0 * (value - v0 - wv) + (1 - g0) * dv
    W[w] = o0 * (value - v0 - dv) + (1 - o0) * wv

    dv = D[d + 1]!
    wv = W[w + 1]!
    e = value - (v1 + f1 * t1 + dv + wv)
    if (i >= n1) s1 += e * e
    prev = v1
    v1 = a1 * (value - dv - wv) + (1 - a1) * (prev + f1 * t1)
    t1 = b1 * (v1 - prev) + (1 - b1) * f1 * t1
    D[d + 1] = g1 * (value - v1 - wv) + (1 - g1) * dv
    W[w + 1] = o1 * (value - v1 - dv) + (1 - o1) * wv

    dv = D[d + 2]!
    wv = W[w + 2]!
    e = value - (v2 + f2 * t2 + dv + wv)
    if (i >= n2) s2 += e * e
    prev = v2
    v2 = a2 * (value - dv - wv) + (1 - a2) * (prev + f2 * t2)
    t2 = b2 * (v2 - prev) + (1 - b2) * f2 * t2
    D[d + 2] = g2 * (value - v2 - wv) + (1 - g2) * dv
    W[w + 2] = o2 * (value - v2 - dv) + (1 - o2) * wv

    dv = D[d + 3]!
    wv = W[w + 3]!
    e = value - (v3 + f3 * t3 + dv + wv)
    if (i >= n3) s3 += e * e
    prev = v3
    v3 = a3 * (value - dv - wv) + (1 - a3) * (prev + f3 * t3)
    t3 = b3 * (v3 - prev) + (1 - b3) * f3 * t3
    D[d + 3] = g3 * (value - v3 - wv) + (1 - g3) * dv
    W[w + 3] = o3 * (value - v3 - dv) + (1 - o3) * wv

    d += 4
    if (d === 4 * DAY) d = 0
    w += 4
    if (w === 4 * WEEK) w = 0
  }
  const sums = [s0, s1, s2, s3]
  for (let l = 0; l < lanes.length; l++) out[l] = sums[l]!
}
