import { describe, expect, it } from 'vitest'
import { sharedFixtures } from '../../../test/helpers/fixtures'
import { loadAlibabaV2023 } from '../traces/alibaba'
import { activityAt } from './activity'
import { pendingAt, podGpus, runningAt } from './cluster'
import { clusterFromAlibaba } from './fromAlibaba'

const END = Date.UTC(2026, 10, 27, 0, 0, 0)

describe('simulated cluster from the Alibaba v2023 snapshot', async () => {
  const { nodes, pods } = await loadAlibabaV2023(sharedFixtures('alibaba-pai-gpu-v2023'))
  const sim = clusterFromAlibaba(nodes, pods, END)

  it('holds the trace figures at the snapshot instant: 4,149 running GPU pods on 3,373.3 of 6,212 GPUs, 861 pending', () => {
    const at = END - 1
    const running = sim.pods.filter((p) => runningAt(p, at))
    expect(sim.nodes.reduce((n, x) => n + x.gpus.length, 0)).toBe(6212)
    expect(running).toHaveLength(4149)
    expect(Math.round(running.reduce((n, p) => n + podGpus(p), 0) * 10) / 10).toBe(3373.3)
    expect(sim.pods.filter((p) => pendingAt(p, at))).toHaveLength(861)
  })

  it('binds every started pod to a node of an allowed model', () => {
    const started = sim.pods.filter((p) => p.startMs !== undefined)
    expect(started.every((p) => p.node !== undefined && p.devices.length === p.numGpu)).toBe(true)
  })

  it('reports how many pods had to be over-committed (the trace gives no placement)', () => {
    expect(sim.overcommitted).toBeGreaterThanOrEqual(0)
    expect(sim.overcommitted).toBeLessThan(sim.pods.length * 0.05)
  })

  it('is calibrated to published fleet figures: about a third of GPU workloads average 0% and most under 10%', () => {
    const at = END - 1
    const running = sim.pods.filter((p) => runningAt(p, at))
    const means = running.map((p) => {
      let sum = 0
      const minutes = 7 * 24 * 60
      for (let m = 0; m < minutes; m += 10) sum += activityAt(p.profile, p.startMs as number, at - m * 60_000).grEngineActive
      return sum / (minutes / 10)
    })
    const zero = means.filter((m) => m < 0.005).length / means.length
    const under10 = means.filter((m) => m < 0.1).length / means.length
    expect(zero).toBeGreaterThan(0.28)
    expect(zero).toBeLessThan(0.4)
    expect(under10).toBeGreaterThan(0.55)
  })
})

describe('simulated cluster from the Helios Earth VC sequences', async () => {
  const { loadHeliosVcs } = await import('../traces/helios')
  const { clusterFromHelios } = await import('./fromHelios')
  const { minutes } = await loadHeliosVcs(sharedFixtures('helios', 'Earth_vcs_2020-05'))
  const sim = clusterFromHelios(minutes, END)

  it('has the 856 GPUs of the 16 VCs, in 8-GPU nodes per VC pool', () => {
    expect(sim.nodes.reduce((n, x) => n + x.gpus.length, 0)).toBe(856)
    expect(new Set(sim.nodes.map((n) => n.pool)).size).toBe(16)
  })

  it('matches the trace minute by minute: running and pending GPUs per VC equal the sequence', () => {
    const byKey = new Map(minutes.map((m) => [`${m.vc}|${m.tsMs}`, m]))
    const shift = END - (Date.UTC(2020, 5, 1))
    for (const tTrace of [Date.UTC(2020, 4, 1, 0, 0), Date.UTC(2020, 4, 13, 9, 17), Date.UTC(2020, 4, 31, 23, 59)]) {
      const t = tTrace + shift
      for (const vc of ['vcpDC', 'vchbv', 'vcJkd']) {
        const want = byKey.get(`${vc}|${tTrace}`)
        const mine = sim.pods.filter((p) => p.uid.startsWith(`helios-${vc}-`))
        expect(mine.filter((p) => runningAt(p, t)).reduce((n, p) => n + p.numGpu, 0)).toBe(want?.runningGpus)
        expect(mine.filter((p) => pendingAt(p, t)).reduce((n, p) => n + p.numGpu, 0)).toBe(want?.pendingGpus)
      }
    }
  })

  it('gives every running pod its GPUs on its VC nodes, never two pods on one GPU', () => {
    const t = END - 3 * 86_400_000
    const used = new Set<string>()
    for (const p of sim.pods.filter((x) => runningAt(x, t))) {
      expect(p.devices).toHaveLength(p.numGpu)
      for (const d of p.devices) {
        const key = `${p.node}/${d}`
        expect(used.has(key)).toBe(false)
        used.add(key)
      }
    }
  })
})
