import type { SimCluster, SimNode, SimPod } from '../../collector/replay/sim/cluster'
import { gpuSpecOf, simGpu } from '../../collector/replay/sim/gpus'
import { profileOf, type SimKind, type WorkloadProfile } from '../../collector/replay/sim/profiles'

/**
 * A tiny hand-made simulated cluster for tests of the live replay: small
 * enough to reason about pod by pod, with every case the replay must serve.
 * Times are relative to `t0`, the moment a test starts the replay at.
 *
 * - node `dgx-a`: 4 × V100 (DCP profiling); node `old-p`: 2 × P100 (no DCP);
 * - `train-a-0`: Job `train-a`, 2 GPUs on dgx-a 0-1, running since t0 − 59 min, busy;
 * - `nb-ana-0`: Notebook `nb-ana` (user ana), 1 GPU on dgx-a 2, running since
 *   t0 − 3 h, abandoned after its first hour (kernel idle now);
 * - `serve-b-7f9c4-x2x9q`: Deployment `serve-b`, 1 GPU on old-p 0, running since t0 − 2 h;
 * - `train-c-0`: Job `train-c`, 4 GPUs, pending since t0 − 10 min;
 * - `short-0`: Job `short`, 1 GPU on dgx-a 3 from t0 − 30 min to t0 + 5 min (Succeeded);
 * - `late-0`: Job `late`, created t0 + 6 min, bound to dgx-a 3 at t0 + 7 min;
 * - `done-0`: Job `done`, finished at t0 − 4 h (deleted long before t0).
 */
export function testCluster(t0: number, name = 'mini'): SimCluster {
  const MIN = 60_000
  const v100 = gpuSpecOf('V100M32')
  const p100 = gpuSpecOf('P100')
  const node = (nodeName: string, gpus: number, code: string): SimNode => {
    const spec = code === 'P100' ? p100 : v100
    return {
      name: nodeName, pool: code === 'P100' ? 'legacy' : 'dgx', gpuCode: code, spec, instanceType: code === 'P100' ? 'pascal-2x' : 'dgx-1v',
      provider: 'onprem', createdMs: t0 - 24 * 60 * MIN, gpus: Array.from({ length: gpus }, (_, i) => simGpu(name, nodeName, i, spec)),
    }
  }
  return {
    name, trace: 'helios-earth-2020-05', overcommitted: 0, beginMs: t0 - 6 * 60 * MIN, endMs: t0 + 60 * MIN,
    nodes: [node('dgx-a', 4, 'V100M32'), node('old-p', 2, 'P100')],
    pods: [
      pod({ name: 'train-a-0', kind: 'Job', workload: 'train-a', team: 'vision', gpus: 2, node: 'dgx-a', devices: [0, 1], created: t0 - 60 * MIN, start: t0 - 59 * MIN, util: 0.7 }),
      pod({ name: 'nb-ana-0', kind: 'Notebook', workload: 'nb-ana', team: 'vision', user: 'ana', gpus: 1, node: 'dgx-a', devices: [2], created: t0 - 180 * MIN, start: t0 - 180 * MIN }),
      pod({ name: 'serve-b-7f9c4-x2x9q', kind: 'Deployment', workload: 'serve-b', team: 'nlp', gpus: 1, node: 'old-p', devices: [0], created: t0 - 120 * MIN, start: t0 - 120 * MIN, util: 0.3 }),
      pod({ name: 'train-c-0', kind: 'Job', workload: 'train-c', team: 'nlp', gpus: 4, created: t0 - 10 * MIN }),
      pod({ name: 'short-0', kind: 'Job', workload: 'short', team: 'speech', gpus: 1, node: 'dgx-a', devices: [3], created: t0 - 30 * MIN, start: t0 - 30 * MIN, end: t0 + 5 * MIN, util: 0.5 }),
      pod({ name: 'late-0', kind: 'Job', workload: 'late', team: 'speech', gpus: 1, node: 'dgx-a', devices: [3], created: t0 + 6 * MIN, start: t0 + 7 * MIN, util: 0.5 }),
      pod({ name: 'done-0', kind: 'Job', workload: 'done', team: 'speech', gpus: 1, node: 'dgx-a', devices: [3], created: t0 - 300 * MIN, start: t0 - 300 * MIN, end: t0 - 240 * MIN }),
    ],
  }
}

interface PodSpec {
  name: string
  kind: SimKind
  workload: string
  team: string
  user?: string
  gpus: number
  node?: string
  devices?: number[]
  created: number
  start?: number
  end?: number
  /** Mean GR_ENGINE_ACTIVE of a job or service. */
  util?: number
}

function pod(s: PodSpec): SimPod {
  const uid = `uid-${s.name}`
  const base = profileOf(uid, s.kind)
  const profile: WorkloadProfile = {
    ...base, team: s.team, project: `${s.team}-main`, user: s.user ?? 'bo', fbHeldRatio: 0.5,
    ...(s.kind === 'Notebook'
      ? { utilClass: 'idle', meanUtil: 0, notebook: { behaviour: 'abandoned', activeForMs: 60 * 60_000 } }
      : { utilClass: (s.util ?? 0) > 0.5 ? 'high' : 'medium', meanUtil: s.util ?? 0 }),
  }
  return {
    uid, name: s.name, namespace: s.team, profile, kind: s.kind, workloadName: s.workload, numGpu: s.gpus, share: 1,
    createdMs: s.created, startMs: s.start, endMs: s.end, final: s.end !== undefined ? 'Succeeded' : s.start !== undefined ? 'Running' : 'Pending',
    node: s.node, devices: s.devices ?? [],
  }
}
