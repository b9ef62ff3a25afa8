import { describe, expect, it } from 'vitest'
import type { SimPod } from '../sim/cluster'
import { FINISHED_POD_TTL_MS } from '../sim/objects'
import { firstEventAfter, Laps, podEvents } from './timeline'
import { testCluster } from '../../../test/helpers/testCluster'

const T0 = Date.UTC(2026, 2, 2, 10, 0)
const TTL = FINISHED_POD_TTL_MS
const pod = (over: Partial<SimPod>): SimPod => ({ ...(testCluster(T0).pods[0] as SimPod), ...over })

describe('podEvents', () => {
  it.each([
    { name: 'a pod bound later', p: { createdMs: 0, startMs: 10, endMs: 20 }, want: ['create@0', 'start@10', 'end@20', `delete@${20 + TTL}`] },
    { name: 'a pod bound at creation', p: { createdMs: 0, startMs: 0, endMs: 20 }, want: ['create@0', 'end@20', `delete@${20 + TTL}`] },
    { name: 'a pod still running', p: { createdMs: 0, startMs: 5, endMs: undefined }, want: ['create@0', 'start@5'] },
    { name: 'a pod that left the queue unbound', p: { createdMs: 0, startMs: undefined, endMs: 30 }, want: ['create@0', 'end@30', `delete@${30 + TTL}`] },
    { name: 'a pod still pending', p: { createdMs: 7, startMs: undefined, endMs: undefined }, want: ['create@7'] },
  ])('$name', ({ p, want }) => {
    expect(podEvents([pod(p)]).map((e) => `${e.step}@${e.tMs}`)).toEqual(want)
  })

  it('orders the changes of many pods by time, a pod’s own in lifecycle order', () => {
    const events = podEvents([pod({ createdMs: 5, startMs: 9, endMs: undefined }), pod({ createdMs: 0, startMs: 9, endMs: undefined })])
    expect(events.map((e) => `${e.index}:${e.step}@${e.tMs}`)).toEqual(['1:create@0', '0:create@5', '0:start@9', '1:start@9'])
    expect(firstEventAfter(events, 5)).toBe(2)
    expect(firstEventAfter(events, -1)).toBe(0)
    expect(firstEventAfter(events, 9)).toBe(4)
  })
})

describe('Laps', () => {
  const sim = testCluster(T0)
  const period = sim.endMs - sim.beginMs

  it('without looping there is one lap, the trace itself, whatever the time', () => {
    const laps = new Laps(sim, false)
    expect([laps.lapOf(sim.beginMs - 1), laps.lapOf(sim.endMs + 10 * period)]).toEqual([0, 0])
    expect(laps.lap(0).pods).toBe(sim.pods)
  })

  it('with looping, lap k is the trace shifted by k periods, renamed, with open pods closed at the trace end', () => {
    const laps = new Laps(sim, true)
    expect([laps.lapOf(sim.endMs - 1), laps.lapOf(sim.endMs), laps.lapOf(sim.endMs + period)]).toEqual([0, 1, 2])
    const train0 = laps.lap(0).pods.find((p) => p.name === 'train-a-0')
    const train1 = laps.lap(1).pods.find((p) => p.name === 'train-a-0-r1')
    expect(train0).toMatchObject({ endMs: sim.endMs, final: 'Succeeded' })
    expect(train1).toMatchObject({ uid: 'uid-train-a-0-r1', workloadName: 'train-a-r1', startMs: (train0?.startMs as number) + period, endMs: sim.endMs + period })
    expect(laps.lap(1).byNode.get('dgx-a')?.map((p) => p.name)).toContain('train-a-0-r1')
    expect(laps.lap(1).notebooks.get('vision/nb-ana-r1')?.map((p) => p.name)).toEqual(['nb-ana-0-r1'])
    expect(sim.pods.find((p) => p.name === 'train-a-0')?.endMs).toBeUndefined()
  })
})
