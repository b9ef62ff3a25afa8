// Child process of the collector benchmark: serves dcgm-exporter text for a synthetic fleet of
// <nodes> 8-GPU H100 nodes, every GPU held by a job, on one loopback server; prints its URL.
// Run apart from the collector so the benchmark measures the collector's CPU alone.
import { startExporterServer } from '../collector/replay/live/exporter'
import type { SimNode, SimPod } from '../collector/replay/sim/cluster'
import { gpuSpecOf, simGpu } from '../collector/replay/sim/gpus'
import { profileOf } from '../collector/replay/sim/profiles'

const nodes = Number(process.argv[2] ?? '1250')
const spec = { ...gpuSpecOf('V100M32'), product: 'NVIDIA H100 80GB HBM3' }
const t0 = Date.now() - 3_600_000
const byName = new Map<string, SimNode>()
const pods = new Map<string, SimPod[]>()
for (let i = 0; i < nodes; i++) {
  const name = `gpu-node-${String(i).padStart(4, '0')}`
  byName.set(name, { name, pool: 'h100', gpuCode: 'H100', spec, instanceType: 'p5.48xlarge', provider: 'onprem', createdMs: t0, gpus: Array.from({ length: 8 }, (_, g) => simGpu('bench', name, g, spec)) })
  const uid = `bench-${name}`
  pods.set(name, [{ uid, name: `train-${i}`, namespace: 'ml', profile: profileOf(uid, 'Job'), kind: 'Job', workloadName: `train-${i}`, numGpu: 8, share: 1, createdMs: t0, startMs: t0, final: 'Running', node: name, devices: [0, 1, 2, 3, 4, 5, 6, 7] }])
}
const server = await startExporterServer({ node: (n) => byName.get(n), podsOn: (n) => pods.get(n) ?? [], now: Date.now })
console.log(server.url)
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)))
