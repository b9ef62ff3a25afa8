import { describe, expect, it } from 'vitest'
import { InputError } from './errors'
import { finalStateOf, parseFinalStateBy, repeatOffenders, summarizeFinalStates, type FinalStateRow } from './finalStates'

const row = (team: string, kind: string, user: string, state: FinalStateRow['state'], pods: number, gpuHours: number): FinalStateRow => ({ team, kind, user, state, pods, gpuHours })

// vision: 60 succeeded, 30 cancelled, 10 failed, 20 running; nlp: 40 succeeded, 40 failed (by one user, twice).
const ROWS: FinalStateRow[] = [
  row('vision', 'Job', 'ana', 'succeeded', 3, 60),
  row('vision', 'Job', 'ana', 'cancelled', 2, 30),
  row('vision', 'Notebook', 'bo', 'failed', 1, 10),
  row('vision', 'Job', 'bo', 'running', 1, 20),
  row('nlp', 'Job', 'cy', 'succeeded', 4, 40),
  row('nlp', 'Job', 'cy', 'failed', 2, 40),
]

describe('finalStateOf', () => {
  it.each([
    { name: 'succeeded pod', phase: 'Succeeded', ended: true, want: 'succeeded' },
    { name: 'failed pod', phase: 'Failed', ended: true, want: 'failed' },
    { name: 'pod deleted before it finished is cancelled', phase: 'Deleted', ended: true, want: 'cancelled' },
    { name: 'open interval is running, whatever its phase', phase: 'Pending', ended: false, want: 'running' },
    { name: 'ended in an unknown phase is unknown, not succeeded', phase: 'Unknown', ended: true, want: 'unknown' },
    { name: 'ended while Running (no final phase seen) is unknown', phase: 'Running', ended: true, want: 'unknown' },
  ])('$name', ({ phase, ended, want }) => expect(finalStateOf(phase, ended)).toBe(want))
})

describe('parseFinalStateBy', () => {
  it.each([
    { text: undefined, want: ['team'] },
    { text: 'kind', want: ['kind'] },
    { text: 'kind,team', want: ['team', 'kind'] },
    { text: ' team , kind ', want: ['team', 'kind'] },
  ])('reads $text as $want', ({ text, want }) => expect(parseFinalStateBy(text)).toEqual(want))

  it.each([
    { text: 'user', message: "bad by 'user': unknown key 'user'; expected team, kind or team,kind" },
    { text: ',', message: "bad by ',': expected team, kind or team,kind" },
  ])('refuses $text', ({ text, message }) => expect(() => parseFinalStateBy(text)).toThrow(new InputError(message)))
})

describe('summarizeFinalStates', () => {
  it('sums GPU-hours by state, with shares of all GPU-hours and failed+cancelled over ended GPU-hours', () => {
    const { totals } = summarizeFinalStates(ROWS, ['team'], 10)
    expect(totals.gpuHours).toEqual({ succeeded: 100, failed: 50, cancelled: 30, running: 20, unknown: 0 })
    expect(totals.pods).toEqual({ succeeded: 7, failed: 3, cancelled: 2, running: 1, unknown: 0 })
    expect(totals.totalGpuHours).toBe(200)
    expect(totals.shares).toEqual({ succeeded: 0.5, failed: 0.25, cancelled: 0.15, running: 0.1, unknown: 0 })
    expect(totals.failedOrCancelledGpuHours).toBe(80)
    // Running work has not ended yet: it is neither success nor loss.
    expect(totals.failedOrCancelledRatio).toBeCloseTo(80 / 180, 12)
  })

  it('ranks groups by failed + cancelled GPU-hours, a tie by total GPU-hours', () => {
    const { groups } = summarizeFinalStates([...ROWS, row('speech', 'Job', 'di', 'failed', 1, 41)], ['team'], 10)
    expect(groups.map((g) => [g.team, g.failedOrCancelledGpuHours, g.failedOrCancelledRatio])).toEqual([['speech', 41, 1], ['vision', 40, 0.4], ['nlp', 40, 0.5]])
    expect(groups[0]).not.toHaveProperty('kind')
  })

  it('groups by team and kind together', () => {
    const { groups } = summarizeFinalStates(ROWS, ['team', 'kind'], 10)
    expect(groups.map((g) => `${g.team}/${g.kind}:${g.totalGpuHours}`)).toEqual(['nlp/Job:80', 'vision/Job:110', 'vision/Notebook:10'])
  })

  it('has null shares and ratio when there is nothing, never 0 of 0', () => {
    const s = summarizeFinalStates([row('a', 'Job', 'u', 'running', 1, 5)], ['kind'], 10)
    expect(s.totals.failedOrCancelledRatio).toBeNull()
    expect(summarizeFinalStates([], ['team'], 10).totals.shares.succeeded).toBeNull()
    expect(summarizeFinalStates([], ['team'], 10).groups).toEqual([])
  })
})

describe('repeatOffenders', () => {
  it('lists users with at least two failed or cancelled runs, most GPU-hours lost first', () => {
    expect(repeatOffenders(ROWS, 10)).toEqual([
      { team: 'nlp', user: 'cy', failedPods: 2, cancelledPods: 0, endedPods: 6, failedGpuHours: 40, cancelledGpuHours: 0, failedOrCancelledGpuHours: 40, failedOrCancelledRatio: 0.5 },
      { team: 'vision', user: 'ana', failedPods: 0, cancelledPods: 2, endedPods: 5, failedGpuHours: 0, cancelledGpuHours: 30, failedOrCancelledGpuHours: 30, failedOrCancelledRatio: 30 / 90 },
    ])
  })

  it('keeps a user with one failed and one cancelled run across kinds, and cuts to top', () => {
    const rows = [...ROWS, row('vision', 'Job', 'bo', 'cancelled', 1, 1)]
    expect(repeatOffenders(rows, 10).map((o) => o.user)).toEqual(['cy', 'ana', 'bo'])
    expect(repeatOffenders(rows, 1).map((o) => o.user)).toEqual(['cy'])
  })

  it('tells users of the same name in two teams apart', () => {
    const rows = [row('a', 'Job', 'x', 'failed', 1, 1), row('b', 'Job', 'x', 'failed', 1, 1)]
    expect(repeatOffenders(rows, 10)).toEqual([])
  })
})
