import { afterEach, describe, expect, it } from 'vitest'
import { configSchema } from '../../../config/schema'
import { notebookBaseUrl } from '../../jupyter/client'
import type { SimCluster } from '../sim/cluster'
import { startLiveReplay, type LiveReplay, type LiveReplayOptions } from './driver'
import type { KubeObj, KubeResource } from './kubeApi'
import { testCluster } from '../../../test/helpers/testCluster'

const MIN = 60_000
const T0 = Date.UTC(2026, 2, 2, 10, 0)
const SPEED = 60
const replays: LiveReplay[] = []
let realMs = 0
afterEach(async () => {
  await Promise.all(replays.splice(0).map((r) => r.stop()))
})

async function start(sim: SimCluster, opts: Partial<LiveReplayOptions> = {}): Promise<LiveReplay> {
  realMs = 0
  const replay = await startLiveReplay(sim, { startMs: T0, speed: SPEED, now: () => realMs, loop: false, ...opts })
  replays.push(replay)
  return replay
}

/** Moves the replay's virtual time to `virtualMs` and applies what is due. */
function moveTo(replay: LiveReplay, virtualMs: number): void {
  realMs += (virtualMs - replay.now()) / SPEED
  replay.tick()
}

const names = (r: LiveReplay, resource: KubeResource) => r.kube.list(resource).map((o) => o.metadata.name)
const phaseOf = (r: LiveReplay, ns: string, name: string) => (r.kube.get('pods', ns, name)?.status as { phase?: string } | undefined)?.phase
const ready = (o: KubeObj | undefined) => (o?.status as { readyReplicas?: number } | undefined)?.readyReplicas

describe('startLiveReplay: the cluster at start', () => {
  it('publishes the nodes, a namespace per team, the pods listed at the start time, and their owner chains', async () => {
    const r = await start(testCluster(T0))
    expect(names(r, 'nodes')).toEqual(['dgx-a', 'old-p'])
    expect(names(r, 'namespaces')).toEqual(['nlp', 'speech', 'vision'])
    expect(names(r, 'pods')).toEqual(['serve-b-7f9c4-x2x9q', 'train-c-0', 'short-0', 'nb-ana-0', 'train-a-0'])
    expect(names(r, 'jobs')).toEqual(['train-c', 'short', 'train-a'])
    expect(r.kube.list('replicasets').map((o) => (o.metadata.ownerReferences as Array<{ kind: string; name: string }>)[0])).toMatchObject([{ kind: 'Deployment', name: 'serve-b' }])
    expect(r.kube.list('statefulsets').map((o) => (o.metadata.ownerReferences as Array<{ kind: string; name: string }>)[0])).toMatchObject([{ kind: 'Notebook', name: 'nb-ana' }])
    expect(ready(r.kube.get('notebooks', 'vision', 'nb-ana'))).toBe(1)
    expect([phaseOf(r, 'vision', 'train-a-0'), phaseOf(r, 'nlp', 'train-c-0')]).toEqual(['Running', 'Pending'])
  })

  it('gives a config overlay that the config schema accepts and that points at its servers', async () => {
    const r = await start(testCluster(T0))
    const { collector } = configSchema.parse({ collector: r.collectorConfig() })
    expect(collector.kubernetes.clusters.map((c) => [c.name, c.server])).toEqual([['mini', r.urls.kube]])
    expect(collector.dcgm.targets).toEqual([
      { cluster: 'mini', url: `${r.urls.exporter}/nodes/dgx-a/metrics`, node: 'dgx-a' },
      { cluster: 'mini', url: `${r.urls.exporter}/nodes/old-p/metrics`, node: 'old-p' },
    ])
    const base = notebookBaseUrl({ cluster: 'mini', namespace: 'vision', name: 'nb-ana', baseUrl: '' }, collector.jupyter.urlTemplate)
    expect(base).toBe(`${r.urls.jupyter}/notebook/vision/nb-ana`)
    expect((await fetch(`${base}/api/kernels`)).status).toBe(200)
    expect(r.urls.kube).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  })
})

describe('startLiveReplay: as virtual time passes', () => {
  it('applies each change when virtual time reaches it, and only the changes due', async () => {
    const r = await start(testCluster(T0))
    const rv0 = r.kube.resourceVersion
    moveTo(r, T0 + 5 * MIN - 1)
    expect(r.kube.resourceVersion).toBe(rv0)
    moveTo(r, T0 + 5 * MIN)
    expect(phaseOf(r, 'speech', 'short-0')).toBe('Succeeded')
    expect(r.kube.resourceVersion).toBe(rv0 + 1)
    moveTo(r, T0 + 6 * MIN)
    expect([phaseOf(r, 'speech', 'late-0'), r.kube.has('jobs', 'speech', 'late')]).toEqual(['Pending', true])
    moveTo(r, T0 + 7 * MIN)
    expect(r.kube.get('pods', 'speech', 'late-0')).toMatchObject({ spec: { nodeName: 'dgx-a' }, status: { phase: 'Running' } })
    moveTo(r, T0 + 15 * MIN)
    expect([r.kube.has('pods', 'speech', 'short-0'), r.kube.has('jobs', 'speech', 'short')]).toEqual([false, false])
  })

  it('a clock that goes back changes nothing', async () => {
    const r = await start(testCluster(T0))
    moveTo(r, T0 + 6 * MIN)
    const rv = r.kube.resourceVersion
    moveTo(r, T0 + 2 * MIN)
    expect(r.kube.resourceVersion).toBe(rv)
    expect(phaseOf(r, 'speech', 'late-0')).toBe('Pending')
  })

  it('without looping (Alibaba), the end state holds after the trace: running pods keep running, pending ones wait', async () => {
    const sim = testCluster(T0)
    const r = await start(sim)
    moveTo(r, T0 + 20 * MIN)
    const rv = r.kube.resourceVersion
    moveTo(r, sim.endMs + 24 * 60 * MIN)
    expect(r.kube.resourceVersion).toBe(rv)
    expect([phaseOf(r, 'vision', 'train-a-0'), phaseOf(r, 'nlp', 'train-c-0'), phaseOf(r, 'speech', 'late-0')]).toEqual(['Running', 'Pending', 'Running'])
  })

  it('with looping and the trace running on past the start (traceEndMs), pods open at the start keep running until the trace ends', async () => {
    const sim: SimCluster = { ...testCluster(T0), endMs: T0, traceEndMs: T0 + 60 * MIN }
    const r = await start(sim, { startMs: sim.endMs, loop: true })
    expect([phaseOf(r, 'vision', 'train-a-0'), phaseOf(r, 'vision', 'nb-ana-0'), phaseOf(r, 'nlp', 'train-c-0')]).toEqual(['Running', 'Running', 'Pending'])
    expect(names(r, 'pods').filter((n) => n.endsWith('-r1'))).toEqual([])
    moveTo(r, T0 + 59 * MIN)
    expect([phaseOf(r, 'vision', 'train-a-0'), phaseOf(r, 'vision', 'nb-ana-0')]).toEqual(['Running', 'Running'])
    moveTo(r, T0 + 61 * MIN)
    expect([phaseOf(r, 'vision', 'train-a-0'), phaseOf(r, 'vision', 'nb-ana-0')]).toEqual(['Succeeded', 'Succeeded'])
  })

  it('with looping (Helios), open pods finish at the trace end and the next lap replays the trace with -r1 pods and workloads', async () => {
    const sim = testCluster(T0)
    const period = sim.endMs - sim.beginMs
    const r = await start(sim, { loop: true })
    moveTo(r, sim.endMs + MIN)
    expect([phaseOf(r, 'vision', 'train-a-0'), phaseOf(r, 'nlp', 'train-c-0')]).toEqual(['Succeeded', 'Failed'])
    expect(ready(r.kube.get('notebooks', 'vision', 'nb-ana'))).toBe(0)
    // Lap 1 at T0 + period is the trace at T0 again.
    moveTo(r, T0 + period)
    expect(names(r, 'pods')).toEqual(['serve-b-7f9c4-x2x9q-r1', 'train-c-0-r1', 'short-0-r1', 'nb-ana-0-r1', 'train-a-0-r1'])
    expect(names(r, 'notebooks')).toEqual(['nb-ana-r1'])
    expect(phaseOf(r, 'vision', 'train-a-0-r1')).toBe('Running')
    const metrics = await (await fetch(`${r.urls.exporter}/nodes/dgx-a/metrics`)).text()
    expect(metrics).toContain('pod="train-a-0-r1"')
    expect((await fetch(`${r.urls.jupyter}/notebook/vision/nb-ana-r1/api/kernels`)).status).toBe(200)
    expect((await fetch(`${r.urls.jupyter}/notebook/vision/nb-ana/api/kernels`)).status).toBe(404)
  })
})
