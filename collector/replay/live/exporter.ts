import type { GpuSample } from '../../../core/model'
import type { SimNode, SimPod } from '../sim/cluster'
import { nodeSamplesAt } from '../sim/samples'
import { closeServer, listenLoopback, segmentsAfter, send } from './http'

/**
 * dcgm-exporter for every simulated node, on one loopback server: GET
 * `/nodes/<node>/metrics` answers what the node's exporter DaemonSet pod
 * would, in the text exposition format (version 0.0.4) with `# HELP` /
 * `# TYPE` lines, the exporter's label set (gpu, UUID, pci_bus_id, device,
 * modelName, Hostname, DCGM_FI_DRIVER_VERSION, and container / namespace /
 * pod / pod_uid when a pod holds the GPU, as with `-k`) and its number
 * formats (integers for integer fields, `%f` for floats). Values are the
 * simulation's samples at the current virtual time (sim/samples.ts).
 *
 * The metric set is the exporter's default one restricted to what gpuscope
 * reads: DCGM_FI_PROF_SM_ACTIVE is off by default and is not served, and
 * Pascal GPUs (no DCP profiling) serve no DCGM_FI_PROF_* metric at all.
 * modelName is the GPU feature discovery product name the node is labelled
 * with, so gpu_samples.model and node_state.gpu_model agree, as in the backfill.
 */

/** One served metric: its help text as in dcgm-exporter's default-counters.csv, and how a sample gives its value. */
interface ServedMetric {
  name: string
  help: string
  /** Integer fields print as integers, float fields with six decimals (the exporter's `%f`). */
  format: 'int' | 'float'
  value: (s: GpuSample) => number | undefined
}

const MIB = 1024 * 1024
const perMib = (bytes: number | undefined) => (bytes === undefined ? undefined : Math.round(bytes / MIB))

/** In the order the exporter emits them (shared/fixtures/dcgm-exporter/kops-aws-L4-1gpu.prom). */
const METRICS: readonly ServedMetric[] = [
  { name: 'DCGM_FI_DEV_GPU_TEMP', help: 'GPU temperature (in C).', format: 'int', value: (s) => s.temperatureC },
  { name: 'DCGM_FI_DEV_POWER_USAGE', help: 'Power draw (in W).', format: 'float', value: (s) => s.powerWatts },
  { name: 'DCGM_FI_DEV_GPU_UTIL', help: 'GPU utilization (in %).', format: 'int', value: (s) => (s.gpuUtilRatio === undefined ? undefined : Math.round(s.gpuUtilRatio * 100)) },
  { name: 'DCGM_FI_DEV_FB_FREE', help: 'Framebuffer memory free (in MiB).', format: 'int', value: (s) => perMib(s.fbFreeBytes) },
  { name: 'DCGM_FI_DEV_FB_USED', help: 'Framebuffer memory used (in MiB).', format: 'int', value: (s) => perMib(s.fbUsedBytes) },
  { name: 'DCGM_FI_PROF_GR_ENGINE_ACTIVE', help: 'Ratio of time the graphics engine is active.', format: 'float', value: (s) => s.grEngineActiveRatio },
  { name: 'DCGM_FI_PROF_PIPE_TENSOR_ACTIVE', help: 'Ratio of cycles the tensor (HMMA) pipe is active.', format: 'float', value: (s) => s.tensorActiveRatio },
  {
    name: 'DCGM_FI_PROF_DRAM_ACTIVE', help: 'Ratio of cycles the device memory interface is active sending or receiving data.', format: 'float',
    value: (s) => s.dramActiveRatio,
  },
]

/** The driver version every simulated exporter reports. */
export const SIM_DRIVER_VERSION = '535.183.01'

/** Content type dcgm-exporter answers with. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Path of one node's exporter on the server. */
export const exporterPath = (node: string): string => `/nodes/${encodeURIComponent(node)}/metrics`

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
const pciBusId = (index: number) => `00000000:${(0x10 + index * 0x11).toString(16).toUpperCase().padStart(2, '0').slice(-2)}:00.0`

/** The label block of one GPU's series, in the exporter's order. */
function labelBlock(s: GpuSample): string {
  const labels: Array<[string, string]> = [
    ['gpu', String(s.gpuIndex)], ['UUID', s.gpuUuid], ['pci_bus_id', pciBusId(s.gpuIndex)], ['device', `nvidia${s.gpuIndex}`],
    ['modelName', s.model], ['Hostname', s.node], ['DCGM_FI_DRIVER_VERSION', SIM_DRIVER_VERSION],
  ]
  if (s.pod !== '') labels.push(['container', s.container], ['namespace', s.namespace], ['pod', s.pod], ['pod_uid', ''])
  return `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`
}

/**
 * One node's /metrics body for its GPU samples: per metric a HELP and a TYPE
 * line, then one series per GPU. A metric no GPU reports (DCP on Pascal) is
 * left out entirely, as the exporter does when the field cannot be watched.
 */
export function exporterText(samples: readonly GpuSample[]): string {
  const labels = samples.map(labelBlock)
  const out: string[] = []
  for (const m of METRICS) {
    const lines: string[] = []
    samples.forEach((s, i) => {
      const v = m.value(s)
      if (v !== undefined) lines.push(`${m.name}${labels[i] as string} ${m.format === 'int' ? String(Math.round(v)) : v.toFixed(6)}`)
    })
    if (lines.length === 0) continue
    out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} gauge`, ...lines)
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`
}

/** What the exporter server reads from the replay. */
export interface ExporterView {
  /** The node by name, or undefined. */
  node(name: string): SimNode | undefined
  /** Pods that may hold a GPU of the node at `tMs` (nodeSamplesAt keeps those running then). */
  podsOn(node: string, tMs: number): readonly SimPod[]
  /** The virtual time. */
  now(): number
}

/** A running loopback server of the replay. */
export interface LiveServer {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string
  close(): Promise<void>
}

/** Starts the exporter server on 127.0.0.1 (`port` 0 = a free one); unknown nodes answer 404. */
export async function startExporterServer(view: ExporterView, port = 0): Promise<LiveServer> {
  const { server, url } = await listenLoopback((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
    const parts = segmentsAfter(path, '/nodes/')
    const node = parts?.length === 2 && parts[1] === 'metrics' ? view.node(parts[0] as string) : undefined
    if (!node) return send(res, 404, 'text/plain; charset=utf-8', '404 page not found\n')
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n')
    const tMs = view.now()
    send(res, 200, EXPOSITION_CONTENT_TYPE, exporterText(nodeSamplesAt(node, view.podsOn(node.name, tMs), tMs)))
  }, port)
  return { url, close: () => closeServer(server) }
}
