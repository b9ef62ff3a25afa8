import type { GpuSample } from '../../../core/model'
import { activityAt } from './activity'
import type { WorkloadProfile } from './profiles'
import { hash32, normalN } from './random'

/** What the simulated exporter knows about a GPU model. */
export interface GpuSpec {
  /** As GPU feature discovery labels it (`nvidia.com/gpu.product`) and dcgm-exporter's modelName. */
  product: string
  memBytes: number
  idleWatts: number
  maxWatts: number
  /** DCGM profiling (DCP) metrics such as GR_ENGINE_ACTIVE exist on Volta and later, not on Pascal. */
  profiling: boolean
}

const MiB = 1024 ** 2
const GiB = 1024 * MiB

/**
 * Trace GPU codes to specs. G1-G3 are undisclosed in the Alibaba trace; they
 * are simulated as generic 32 GB data-centre GPUs with profiling metrics.
 */
export const GPU_SPECS: Record<string, GpuSpec> = {
  P100: { product: 'Tesla-P100-PCIE-16GB', memBytes: 16 * GiB, idleWatts: 30, maxWatts: 250, profiling: false },
  T4: { product: 'Tesla-T4', memBytes: 16 * GiB, idleWatts: 10, maxWatts: 70, profiling: true },
  V100M16: { product: 'Tesla-V100-SXM2-16GB', memBytes: 16 * GiB, idleWatts: 40, maxWatts: 300, profiling: true },
  V100M32: { product: 'Tesla-V100-SXM2-32GB', memBytes: 32 * GiB, idleWatts: 40, maxWatts: 300, profiling: true },
  A10: { product: 'NVIDIA-A10', memBytes: 24 * GiB, idleWatts: 20, maxWatts: 150, profiling: true },
  G1: { product: 'Alibaba-G1', memBytes: 32 * GiB, idleWatts: 40, maxWatts: 300, profiling: true },
  G2: { product: 'Alibaba-G2', memBytes: 32 * GiB, idleWatts: 40, maxWatts: 300, profiling: true },
  G3: { product: 'Alibaba-G3', memBytes: 32 * GiB, idleWatts: 40, maxWatts: 300, profiling: true },
}

/** The spec for a trace code, with a generic fallback for codes the table does not know. */
export const gpuSpecOf = (code: string): GpuSpec => GPU_SPECS[code] ?? { product: code, memBytes: 32 * GiB, idleWatts: 40, maxWatts: 300, profiling: true }

/** A workload's hold on one GPU: its profile, its share of the GPU (1 = whole) and where it runs. */
export interface GpuHolder {
  profile: WorkloadProfile
  share: number
  startMs: number
  namespace: string
  pod: string
}

/** One simulated GPU. */
export interface SimGpu {
  /** hash32(uuid), seed of the GPU's own noise. */
  seed: number
  cluster: string
  node: string
  uuid: string
  index: number
  spec: GpuSpec
}

/**
 * The sample dcgm-exporter would report for a GPU at `tMs`, given who holds
 * it. The pod labels name the largest holder (as the exporter maps one pod per
 * device). DEV_GPU_UTIL reads higher than GR_ENGINE_ACTIVE, in whole percent,
 * as on real GPUs; Pascal GPUs report no profiling metrics (undefined, not 0),
 * and SM_ACTIVE is never reported (it is off in the exporter's default set).
 */
export function gpuSampleAt(gpu: SimGpu, holders: readonly GpuHolder[], tMs: number): GpuSample {
  let gr = 0
  let fb = 0
  let top: GpuHolder | undefined
  for (const h of holders) {
    gr += activityAt(h.profile, h.startMs, tMs).grEngineActive * h.share
    fb += h.profile.fbHeldRatio * h.share
    if (!top || h.share > top.share) top = h
  }
  gr = Math.min(1, gr)
  // Whole MiB, as dcgm-exporter reports FB_USED.
  const fbUsed = Math.round((Math.min(1, fb + 0.005) * gpu.spec.memBytes) / MiB) * MiB
  const utilPct = Math.min(100, Math.round(gr * 125 + (gr > 0 ? 2 : 0)))
  const jitter = normalN(gpu.seed, Math.floor(tMs / 60_000), 23)
  return {
    tsMs: tMs, cluster: gpu.cluster, node: gpu.node, gpuUuid: gpu.uuid, gpuIndex: gpu.index, model: gpu.spec.product, migProfile: '',
    namespace: top?.namespace ?? '', pod: top?.pod ?? '', container: top ? 'main' : '',
    grEngineActiveRatio: gpu.spec.profiling ? round3(gr) : undefined,
    tensorActiveRatio: gpu.spec.profiling ? round3(gr * 0.3) : undefined,
    dramActiveRatio: gpu.spec.profiling ? round3(gr * 0.45) : undefined,
    gpuUtilRatio: utilPct / 100,
    fbUsedBytes: fbUsed,
    fbFreeBytes: gpu.spec.memBytes - fbUsed,
    powerWatts: Math.round((gpu.spec.idleWatts + gr * (gpu.spec.maxWatts - gpu.spec.idleWatts) + 2 * jitter) * 10) / 10,
    temperatureC: Math.round(32 + 45 * gr + jitter),
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000

/** A simulated GPU with its seed. */
export const simGpu = (cluster: string, node: string, index: number, spec: GpuSpec): SimGpu => {
  const uuid = `GPU-${node}-${index}`
  return { seed: hash32(uuid), cluster, node, uuid, index, spec }
}
