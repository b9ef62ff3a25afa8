import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { InputError } from '../../../core/errors'
import { loadCsv, type LoadReport } from './csv'

/**
 * Loader for the Alibaba PAI GPU cluster trace v2023 ("openb", ATC'23) in
 * ../shared/fixtures/alibaba-pai-gpu-v2023. Times in the pod list are seconds
 * from the trace start; `gpu_milli` is the share of each GPU (0..1000), so a
 * pod holds num_gpu × gpu_milli / 1000 GPUs.
 */

/** A GPU node of the trace. */
export interface AlibabaNode {
  name: string
  cpuMilli: number
  memoryMib: number
  gpus: number
  /** Card model code: P100, T4, V100M16, V100M32, A10, G1..G3 (undisclosed). */
  model: string
}

/** Final phase recorded for a pod in the snapshot. */
export type AlibabaPhase = 'Running' | 'Pending' | 'Succeeded' | 'Failed'

/** A pod of the trace. */
export interface AlibabaPod {
  name: string
  cpuMilli: number
  memoryMib: number
  numGpu: number
  /** Thousandths of each requested GPU (1000 = whole GPUs). */
  gpuMilli: number
  /** GPU model constraint such as `V100M16|V100M32`; '' for any. */
  gpuSpec: string
  qos: string
  phase: AlibabaPhase
  creationS: number
  /** Undefined when the trace leaves it empty. */
  deletionS: number | undefined
  /** Undefined for pods never scheduled (pending). */
  scheduledS: number | undefined
  line: number
}

const int = z.string().regex(/^\d+$/, 'expected a non-negative integer').transform(Number)
const optInt = z.union([z.literal('').transform(() => undefined), int])

const nodeRow = z.object({ sn: z.string().min(1), cpu_milli: int, memory_mib: int, gpu: int, model: z.string() })
const podRow = z
  .object({
    name: z.string().min(1),
    cpu_milli: int,
    memory_mib: int,
    num_gpu: int,
    gpu_milli: int.refine((v) => v <= 1000, 'gpu_milli must be at most 1000'),
    gpu_spec: z.string(),
    qos: z.string(),
    pod_phase: z.enum(['Running', 'Pending', 'Succeeded', 'Failed']),
    creation_time: int,
    deletion_time: optInt,
    scheduled_time: optInt,
  })
  .refine((r) => r.scheduled_time === undefined || r.scheduled_time >= r.creation_time, { message: 'scheduled before created', path: ['scheduled_time'] })
  .refine((r) => r.deletion_time === undefined || r.deletion_time >= r.creation_time, { message: 'deleted before created', path: ['deletion_time'] })

/** The trace's files, relative to the fixture folder. */
export const ALIBABA_FILES = {
  nodes: 'csv/openb_node_list_gpu_node.csv',
  pods: 'csv/openb_pod_list_default.csv',
} as const

/** Loads the GPU nodes and the pods; every bad row is skipped and reported by file and line. */
export async function loadAlibabaV2023(dir: string): Promise<{ nodes: AlibabaNode[]; pods: AlibabaPod[]; reports: LoadReport[] }> {
  const missing = Object.values(ALIBABA_FILES).filter((f) => !existsSync(join(dir, f)))
  if (missing.length > 0) {
    throw new InputError(`no Alibaba PAI v2023 trace in ${dir}: it lacks ${missing.join(' and ')} (the trace's files, as in ../shared/fixtures/alibaba-pai-gpu-v2023)`)
  }
  const nodes = await loadCsv(join(dir, ALIBABA_FILES.nodes), nodeRow, (r) => ({
    name: r.sn, cpuMilli: r.cpu_milli, memoryMib: r.memory_mib, gpus: r.gpu, model: r.model,
  }))
  const pods = await loadCsv(join(dir, ALIBABA_FILES.pods), podRow, (r, line) => ({
    name: r.name, cpuMilli: r.cpu_milli, memoryMib: r.memory_mib, numGpu: r.num_gpu, gpuMilli: r.gpu_milli, gpuSpec: r.gpu_spec,
    qos: r.qos, phase: r.pod_phase, creationS: r.creation_time, deletionS: r.deletion_time, scheduledS: r.scheduled_time, line,
  }))
  return { nodes: nodes.rows, pods: pods.rows, reports: [nodes.report, pods.report] }
}

/** GPUs a trace pod holds: num_gpu × gpu_milli / 1000 (a shared GPU counts as its share). */
export const podGpus = (p: Pick<AlibabaPod, 'numGpu' | 'gpuMilli'>): number => (p.numGpu * p.gpuMilli) / 1000
