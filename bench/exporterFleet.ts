// Child process of the collector and fleet benchmarks: serves dcgm-exporter text for a synthetic
// fleet of H100 nodes, every GPU held by a job, on one loopback server; prints its URL.
// Run apart from the collector so the benchmark measures the collector's CPU alone.
//
//   exporterFleet.ts <nodes> [gpusPerNode = 8] [firstNode = 0]
//
// serves nodes firstNode .. firstNode + nodes - 1, so several children can split one fleet.
import { pathToFileURL } from 'node:url'
import { startExporterServer } from '../collector/replay/live/exporter'
import type { SimNode, SimPod } from '../collector/replay/sim/cluster'
import { gpuSpecOf, simGpu } from '../collector/replay/sim/gpus'
import { profileOf } from '../collector/replay/sim/profiles'

/** A simulated fleet: nodes by name and the one job holding each node's GPUs. */
export interface SimFleet {
  byName: Map<string, SimNode>
  pods: Map<string, SimPod[]>
}

/** The name of fleet node `i`, as the exporters label it (Hostname) and serve it (`/nodes/<name>/metrics`). */
export const fleetNodeName = (i: number): string => `gpu-node-${String(i).padStart(4, '0')}`

/**
 * Nodes `first .. first + count - 1` of the synthetic fleet, each with `gpusPerNode`
 * H100s wholly held by one training Job that started an hour before `nowMs`. The
 * same index always gives the same node, GPU UUIDs and workload profile.
 */
export function simFleet(count: number, gpusPerNode = 8, first = 0, nowMs = Date.now()): SimFleet {
  const spec = { ...gpuSpecOf('V100M32'), product: 'NVIDIA H100 80GB HBM3' }
  const t0 = nowMs - 3_600_000
  const byName = new Map<string, SimNode>()
  const pods = new Map<string, SimPod[]>()
  const devices = Array.from({ length: gpusPerNode }, (_, g) => g)
  for (let i = first; i < first + count; i++) {
    const name = fleetNodeName(i)
    byName.set(name, { name, pool: 'h100', gpuCode: 'H100', spec, instanceType: 'p5.48xlarge', provider: 'onprem', createdMs: t0, gpus: devices.map((g) => simGpu('bench', name, g, spec)) })
    const uid = `bench-${name}`
    pods.set(name, [{ uid, name: `train-${i}`, namespace: 'ml', profile: profileOf(uid, 'Job'), kind: 'Job', workloadName: `train-${i}`, numGpu: gpusPerNode, share: 1, createdMs: t0, startMs: t0, final: 'Running', node: name, devices }])
  }
  return { byName, pods }
}

async function main(): Promise<void> {
  const [nodes = 1250, gpusPerNode = 8, first = 0] = process.argv.slice(2).map(Number)
  const fleet = simFleet(nodes, gpusPerNode, first)
  const server = await startExporterServer({ node: (n) => fleet.byName.get(n), podsOn: (n) => fleet.pods.get(n) ?? [], now: Date.now })
  console.log(server.url)
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)))
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`exporter fleet: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}
