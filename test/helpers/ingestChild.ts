// Test helper: runs the real `serve` composition and writes GPU samples through its
// writers, printing "ack N" each time a write is acknowledged (N = rows acknowledged so
// far). On SIGTERM it stops writing, shuts the service down gracefully and prints
// "submitted N" (every row it handed to the writers). Used by test/serve.test.ts.
import { loadConfig } from '../../config/load'
import type { GpuSample } from '../../core/model'
import { startService } from '../../cli/serve'

const service = await startService(loadConfig({ env: process.env }))
const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000
let submitted = 0
let acked = 0
let stopping = false

process.on('SIGTERM', () => {
  stopping = true
  void service.stop('SIGTERM').then(() => {
    console.log(`submitted ${submitted}`)
    process.exit(0)
  })
})

const batch = (start: number, n: number): GpuSample[] =>
  Array.from({ length: n }, (_, i) => ({
    tsMs: T0 + start + i, cluster: 'kill-test', node: `n${(start + i) % 16}`, gpuUuid: `GPU-${(start + i) % 128}`, gpuIndex: (start + i) % 8,
    model: 'NVIDIA A100-SXM4-80GB', migProfile: '', namespace: 'ml', pod: `p${i % 50}`, container: 'c', gpuUtilRatio: ((start + i) % 100) / 100,
  }))

const pending = new Set<Promise<void>>()
while (!stopping) {
  const rows = batch(submitted, 2_000)
  submitted += rows.length
  const p = service.sinks.gpuSamples.write(rows).then(() => {
    acked += rows.length
    console.log(`ack ${acked}`)
  })
  pending.add(p)
  void p.finally(() => pending.delete(p))
  if (pending.size >= 8) await Promise.race(pending)
  else await new Promise((r) => setImmediate(r))
}
