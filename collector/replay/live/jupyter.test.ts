import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jupyterSchema } from '../../../config/jupyter'
import type { NotebookActivity } from '../../../core/model'
import type { StoreSinks } from '../../../core/ports'
import { jupyterKernelsSchema, jupyterStatusSchema, parseJupyterTime } from '../../jupyter/client'
import { pollNotebooks } from '../../jupyter/poll'
import { activityAt, lastNotebookActivity } from '../sim/activity'
import { runningAt, type SimPod } from '../sim/cluster'
import { kernelId, kernelsBody, kernelState, startJupyterServer, statusBody } from './jupyter'
import type { LiveServer } from './exporter'
import { testCluster } from '../../../test/helpers/testCluster'

const MIN = 60_000
const T0 = Date.UTC(2026, 2, 2, 10, 0)
const sim = testCluster(T0)
const nb = sim.pods.find((p) => p.name === 'nb-ana-0') as SimPod
const started = nb.startMs as number
const interactive: SimPod = { ...nb, uid: 'uid-nb-eli-0', profile: { ...nb.profile, seed: 4242, notebook: { behaviour: 'interactive', activeForMs: 0 } } }

/** The first minute from `from` in which the model says the kernel is busy (bounded search). */
function firstBusyMinute(pod: SimPod, from: number): number {
  for (let t = from, i = 0; i < 7 * 24 * 60; i++, t += MIN) if (activityAt(pod.profile, started, t).kernelBusy) return t
  throw new Error('no busy minute in a week')
}

describe('Jupyter bodies of a simulated notebook', () => {
  it('validate against the Jupyter collector’s schemas, with one python3 kernel and zoned RFC 3339 times', () => {
    const kernels = jupyterKernelsSchema.parse(kernelsBody(nb, T0))
    const status = jupyterStatusSchema.parse(statusBody(nb, T0))
    expect(kernels).toHaveLength(1)
    expect(kernels[0]).toMatchObject({ id: kernelId(nb), name: 'python3' })
    expect(kernelId(nb)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(parseJupyterTime(kernels[0]?.last_activity)).toBe(kernelState(nb, T0).lastActivityMs)
    expect(status).toMatchObject({ kernels: 1, started: new Date(started).toISOString() })
    expect(parseJupyterTime(status.last_activity)).toBe(parseJupyterTime(kernels[0]?.last_activity))
  })

  it.each([
    { name: 'an abandoned notebook past its active hours', pod: nb, at: T0 },
    { name: 'an interactive notebook in a busy minute', pod: interactive, at: firstBusyMinute(interactive, T0) + 20_000 },
    { name: 'an interactive notebook a minute after a busy one', pod: interactive, at: firstBusyMinute(interactive, T0) + 20_000 + MIN },
  ])('$name: execution_state and last_activity follow the activity model', ({ pod, at }) => {
    const busy = activityAt(pod.profile, started, at).kernelBusy
    const last = busy ? at : (lastNotebookActivity(pod.profile, started, at) ?? started)
    const [kernel] = kernelsBody(pod, at)
    expect(kernel?.execution_state).toBe(busy ? 'busy' : 'idle')
    expect(parseJupyterTime(kernel?.last_activity)).toBe(Math.min(at, Math.max(started, last)))
    expect(parseJupyterTime(kernel?.last_activity)).toBeLessThanOrEqual(at)
  })
})

describe('Jupyter server', () => {
  let server: LiveServer
  let tMs = T0
  beforeAll(async () => {
    const notebooks = sim.pods.filter((p) => p.kind === 'Notebook')
    server = await startJupyterServer({
      runningNotebook: (ns, name, t) => notebooks.find((p) => p.namespace === ns && p.workloadName === name && runningAt(p, t)),
      now: () => tMs,
    })
  })
  afterAll(() => server.close())

  it('is read by the real Jupyter collector: one row per notebook with the kernel’s state and last activity', async () => {
    const written: NotebookActivity[] = []
    const sinks = { notebookActivity: { write: async (rows: readonly NotebookActivity[]) => void written.push(...rows) } } as unknown as StoreSinks
    const config = jupyterSchema.parse({ urlTemplate: `${server.url}/notebook/{namespace}/{name}` })
    const target = { cluster: sim.name, namespace: 'vision', name: 'nb-ana', baseUrl: '' }
    const result = await pollNotebooks(config, [target], { sinks }, T0, AbortSignal.timeout(10_000))
    expect(result).toEqual({ rows: 1 })
    expect(written).toEqual([
      { tsMs: T0, cluster: sim.name, namespace: 'vision', notebook: 'nb-ana', kernelId: kernelId(nb), executionState: 'idle', lastActivityMs: kernelState(nb, T0).lastActivityMs, connections: 0 },
    ])
  })

  it.each([
    { name: 'an unknown notebook', path: '/notebook/vision/nope/api/kernels', at: T0 },
    { name: 'a notebook not running yet', path: '/notebook/vision/nb-ana/api/kernels', at: started - MIN },
    { name: 'an API it does not serve', path: '/notebook/vision/nb-ana/api/sessions', at: T0 },
  ])('answers 404 for $name', async ({ path, at }) => {
    tMs = at
    const res = await fetch(`${server.url}${path}`)
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ message: 'Not Found', reason: null })
  })
})
