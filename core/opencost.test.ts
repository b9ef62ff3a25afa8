import { describe, expect, it } from 'vitest'
import { InputError } from './errors'
import { columnsOf, parseAggregate, parseBool } from './opencost'
import { parseAccumulate, parseOpenCostWindow, parseStep, planSets } from './opencostPlan'
import { allocationSets, type IdleOptions, type OcAllocUse, type OcCapacityUse } from './opencostSets'

const H = 3_600_000
const D = 24 * H
const U = (s: string) => Date.parse(s)
// Wednesday 2026-07-15 13:37:42.5 UTC.
const NOW = U('2026-07-15T13:37:42.500Z')
const LABELS = { team: ['gpuscope.io/team', 'team'], project: ['gpuscope.io/project'], user: ['owner'] }

describe('parseOpenCostWindow', () => {
  it.each([
    { input: 'today', from: '2026-07-15T00:00:00Z', to: '2026-07-16T00:00:00Z' },
    { input: 'yesterday', from: '2026-07-14T00:00:00Z', to: '2026-07-15T00:00:00Z' },
    { input: 'week', from: '2026-07-12T00:00:00Z', to: '2026-07-15T13:37:42.500Z' },
    { input: 'lastweek', from: '2026-07-05T00:00:00Z', to: '2026-07-12T00:00:00Z' },
    { input: 'month', from: '2026-07-01T00:00:00Z', to: '2026-07-15T13:37:42.500Z' },
    { input: 'lastmonth', from: '2026-06-01T00:00:00Z', to: '2026-07-01T00:00:00Z' },
    // Durations are rounded forward, as OpenCost does: 24h ends at the next whole hour, 7d at the next UTC midnight.
    { input: '30m', from: '2026-07-15T13:08:00Z', to: '2026-07-15T13:38:00Z' },
    { input: '24h', from: '2026-07-14T14:00:00Z', to: '2026-07-15T14:00:00Z' },
    { input: '7d', from: '2026-07-09T00:00:00Z', to: '2026-07-16T00:00:00Z' },
    { input: '2w', from: '2026-07-02T00:00:00Z', to: '2026-07-16T00:00:00Z' },
    { input: '2h offset 1h', from: '2026-07-15T10:37:42.500Z', to: '2026-07-15T12:37:42.500Z' },
    { input: '1586822400,1586908800', from: '2020-04-14T00:00:00Z', to: '2020-04-15T00:00:00Z' },
    { input: '1586822400-1586908800', from: '2020-04-14T00:00:00Z', to: '2020-04-15T00:00:00Z' },
    { input: '2026-07-01T00:00:00Z,2026-07-03T00:00:00Z', from: '2026-07-01T00:00:00Z', to: '2026-07-03T00:00:00Z' },
    { input: '2026-06', from: '2026-06-01T00:00:00Z', to: '2026-07-01T00:00:00Z' },
  ])('$input is [$from, $to)', ({ input, from, to }) => {
    expect(parseOpenCostWindow(input, NOW)).toEqual({ fromMs: U(from), toMs: U(to) })
  })

  it.each([
    { input: 'fortnight', why: /^Invalid 'window' parameter: 'fortnight'; expected today/ },
    { input: '', why: /window is required/ },
    { input: '0d', why: /the duration must be longer than 0/ },
    { input: '1586908800,1586822400', why: /the start must be before the end/ },
    { input: '2026-13', why: /there is no month 13/ },
  ])('refuses $input', ({ input, why }) => {
    expect(() => parseOpenCostWindow(input, NOW)).toThrow(InputError)
    expect(() => parseOpenCostWindow(input, NOW)).toThrow(why)
  })
})

describe('query words', () => {
  it.each([
    { text: undefined, want: ['cluster', 'node', 'namespace', 'pod'], columns: ['cluster', 'node', 'namespace', 'pod'] },
    { text: 'controller', want: ['controller'], columns: ['workloadKind', 'workloadName'] },
    { text: 'namespace,controllerKind', want: ['namespace', 'controllerKind'], columns: ['namespace', 'workloadKind'] },
    { text: 'label:team,label:gpuscope_io_project', want: ['label', 'label'], columns: ['team', 'project'] },
    { text: 'annotation:owner', want: ['annotation'], columns: ['user'] },
    { text: 'team,owner', want: ['team', 'owner'], columns: ['team', 'user'] },
  ])('aggregate $text reads $columns', ({ text, want, columns }) => {
    const terms = parseAggregate(text, LABELS)
    expect(terms.map((t) => t.property)).toEqual(want)
    expect(columnsOf(terms, false)).toEqual(columns)
  })

  it('puts the team column first for a team-scoped caller, once', () => {
    expect(columnsOf(parseAggregate('namespace,label:team', LABELS), true)).toEqual(['team', 'namespace'])
  })

  it.each(['container', 'service', 'all', 'label:app', 'annotation:gpuscope.io/pool'])('refuses aggregate %s', (text) => {
    expect(() => parseAggregate(text, LABELS)).toThrow(/^Invalid 'aggregate' parameter/)
  })

  it.each([
    { accumulate: undefined, by: undefined, want: 'none' },
    { accumulate: 'true', by: undefined, want: 'all' },
    { accumulate: '1', by: undefined, want: 'all' },
    { accumulate: 'false', by: undefined, want: 'none' },
    { accumulate: 'week', by: undefined, want: 'week' },
    { accumulate: 'true', by: 'day', want: 'day' },
    { accumulate: 'true', by: 'none', want: 'none' },
  ])('accumulate=$accumulate accumulateBy=$by is $want', ({ accumulate, by, want }) => {
    expect(parseAccumulate(accumulate, by)).toBe(want)
  })

  it('reads booleans as Go does and refuses others', () => {
    expect(['t', 'TRUE', '1'].map((t) => parseBool('x', t, false))).toEqual([true, true, true])
    expect(parseBool('x', undefined, true)).toBe(true)
    expect(() => parseBool('idle', 'yes', true)).toThrow("Invalid 'idle' parameter: 'yes' is not a boolean")
  })

  it.each([
    { text: '1h', want: H },
    { text: 'day', want: D },
    { text: '1h30m', want: 90 * 60_000 },
  ])('step $text is $want ms', ({ text, want }) => expect(parseStep(text)).toBe(want))

  it.each(['90s', 'month', 'soon'])('refuses step %s', (text) => expect(() => parseStep(text)).toThrow(/^Invalid step parameter/))
})

describe('planSets', () => {
  const w = { fromMs: U('2026-07-13T06:00:00Z'), toMs: U('2026-07-15T06:00:00Z') }
  const iso = (ms: number) => new Date(ms).toISOString()

  it('cuts one set per step from the window start, on a grid that tiles the step', () => {
    const plan = planSets(w, 90 * 60_000, 'none', NOW, 11_000)
    expect(plan.sets).toHaveLength(32)
    expect(plan.grid).toEqual({ originMs: w.fromMs, stepMs: 30 * 60_000 })
  })

  it('cuts calendar days at UTC midnight, and leaves out sets that start after now', () => {
    const plan = planSets({ fromMs: w.fromMs, toMs: U('2026-07-17T00:00:00Z') }, undefined, 'day', NOW, 11_000)
    expect(plan.sets.map((s) => [iso(s.fromMs), iso(s.toMs)])).toEqual([
      ['2026-07-13T06:00:00.000Z', '2026-07-14T00:00:00.000Z'],
      ['2026-07-14T00:00:00.000Z', '2026-07-15T00:00:00.000Z'],
      ['2026-07-15T00:00:00.000Z', '2026-07-16T00:00:00.000Z'],
    ])
    expect(plan.grid).toEqual({ originMs: U('2026-07-13T00:00:00Z'), stepMs: D })
  })

  it.each([
    { accumulate: 'week' as const, want: ['2026-06-25', '2026-06-28', '2026-07-05', '2026-07-12'] },
    { accumulate: 'month' as const, want: ['2026-06-25', '2026-07-01'] },
  ])('starts weeks on Sunday and months on the 1st ($accumulate)', ({ accumulate, want }) => {
    const plan = planSets({ fromMs: U('2026-06-25T00:00:00Z'), toMs: U('2026-07-14T00:00:00Z') }, undefined, accumulate, NOW, 11_000)
    expect(plan.sets.map((s) => iso(s.fromMs).slice(0, 10))).toEqual(want)
  })

  it('makes one set of the whole window without a step, read by day like /chargeback', () => {
    const plan = planSets(w, undefined, 'none', NOW, 11_000)
    expect(plan.sets).toEqual([w])
    expect(plan.grid).toEqual({ originMs: U('2026-07-13T00:00:00Z'), stepMs: D })
  })

  it('refuses a grid with too many buckets', () => {
    expect(() => planSets({ fromMs: 0, toMs: 30 * D }, 60_000, 'none', NOW, 11_000)).toThrow(/more than 11000: use a larger step/)
  })
})

describe('allocationSets', () => {
  const plan = planSets({ fromMs: 0, toMs: 10 * H }, undefined, 'all', 10 * H, 11_000)
  const terms = parseAggregate('namespace', LABELS)
  const columns = columnsOf(terms, false)
  const alloc = (ns: string, cluster: string, gpuMs: number): OcAllocUse => ({
    group: [ns], cluster, scopeNode: '', bucketMs: 0, gpuMs, gpuModel: 'X', pool: 'p', provider: 'onprem', cloudUsdPerGpuHour: null, firstMs: 0, lastMs: 10 * H, shared: false,
  })
  const cap = (cluster: string, gpuMs: number): OcCapacityUse => ({ cluster, scopeNode: '', bucketMs: 0, gpuMs, gpuModel: 'X', pool: 'p', provider: 'onprem', cloudUsdPerGpuHour: null })
  // $1/GPU-hour: c1 has 3 GPUs (a: 1, b: 1, idle 1), c2 has 1 GPU nobody uses; 10 hours.
  const inputs = { allocation: [alloc('a', 'c1', 10 * H), alloc('b', 'c1', 10 * H)], capacity: [cap('c1', 30 * H), cap('c2', 10 * H)], util: [] }
  const card = { defaultUsdPerGpuHour: 1, rates: [] }
  const run = (idle: Partial<IdleOptions>) =>
    allocationSets(plan, terms, columns, inputs, { include: true, share: false, split: 'weighted', byNode: false, ...idle }, card, 10 * H)
  const money = (r: ReturnType<typeof run>) => r.sets[0]!.rows.map((x) => [x.name, x.costCents, x.idleCents])

  it('leaves unallocated capacity in one __idle__ row', () => {
    expect(money(run({}))).toEqual([['a', 1000, 0], ['b', 1000, 0], ['__idle__', 2000, 0]])
  })

  it('shares a cluster\'s idle only with that cluster\'s rows; idle of a cluster with no allocation stays __idle__, with a warning', () => {
    const r = run({ share: true })
    expect(money(r)).toEqual([['a', 1500, 500], ['b', 1500, 500], ['__idle__', 1000, 0]])
    expect(r.warnings).toEqual(["idle cost of cluster 'c2' has no allocation to be shared with: it stays in __idle__"])
  })

  it('drops idle entirely when idle is not included', () => {
    expect(money(run({ include: false }))).toEqual([['a', 1000, 0], ['b', 1000, 0]])
  })

  it('reports utilization unknown (null), never 0, when no bucket has samples', () => {
    const row = run({}).sets[0]!.rows[0]!
    expect(row).toMatchObject({ usedGpuHours: null, utilUnknownGpuHours: 10 })
  })
})
