import type { GpuSample } from '../core/model'
import { mulberry32 as prng } from '../collector/replay/sim/random'

/**
 * Synthetic dcgm-exporter scrapes for benchmarks: a fleet of H100 nodes, most
 * GPUs held by training or notebook pods, some idle, and some nodes without
 * DCGM profiling metrics (those stay undefined, as the exporter leaves them).
 * Deterministic for a given seed so runs compare like for like.
 */

/** Shape of the synthetic fleet. */
export interface FleetShape {
  clusters: readonly string[]
  nodes: number
  gpusPerNode: number
  scrapeIntervalMs: number
  /** Share of nodes whose exporter reports no DCGM_FI_PROF_* metrics. */
  noProfilingShare: number
  /** Share of GPUs that no pod holds. */
  idleShare: number
  seed: number
}

/** 1,000 nodes x 8 H100s in two clusters, scraped every 15 s. */
export const defaultFleet = (): FleetShape => ({
  clusters: ['us-east-prod', 'eu-west-prod'],
  nodes: 1_000,
  gpusPerNode: 8,
  scrapeIntervalMs: 15_000,
  noProfilingShare: 0.2,
  idleShare: 0.25,
  seed: 42,
})

/** Raw rows older than the 30-day TTL are dropped on insert, so every timestamp stays within the last day. */
const WINDOW_MS = 23 * 3_600_000

const MODELS = ['NVIDIA H100 80GB HBM3', 'NVIDIA H100 80GB HBM3', 'NVIDIA H100 80GB HBM3', 'NVIDIA H100 NVL']
const NAMESPACES = ['ml-research', 'nlp', 'vision', 'recsys', 'speech', 'platform', 'notebooks']
const WORKLOADS = ['train-llama3-70b', 'finetune-mistral', 'eval-harness', 'ray-worker', 'jupyter', 'triton-infer']
const FB_TOTAL_BYTES = 81_559 * 1_048_576

interface GpuSlot {
  cluster: string
  node: string
  gpuUuid: string
  gpuIndex: number
  model: string
  profiling: boolean
  namespace: string
  pod: string
  container: string
  /** Typical load of the pod on this GPU, 0..1. */
  load: number
  /** Placement of this node's scrape within the interval. */
  jitterMs: number
}


const hex = (rand: () => number, n: number): string => {
  let s = ''
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16)
  return s
}

const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T

/** Rounds like the exporter prints: ratios to 6 decimals, watts to 3. */
const round = (x: number, decimals: number): number => {
  const f = 10 ** decimals
  return Math.round(x * f) / f
}

function buildSlots(shape: FleetShape, rand: () => number): GpuSlot[] {
  const slots: GpuSlot[] = []
  for (let n = 0; n < shape.nodes; n++) {
    const cluster = shape.clusters[n % shape.clusters.length] as string
    const node = `gpu-node-${String(n).padStart(4, '0')}`
    const model = pick(rand, MODELS)
    const profiling = rand() >= shape.noProfilingShare
    const jitterMs = Math.floor(rand() * 1_000)
    // One multi-GPU job per node most of the time, as training jobs are scheduled.
    const ns = pick(rand, NAMESPACES)
    const pod = `${pick(rand, WORKLOADS)}-${hex(rand, 5)}-worker-${Math.floor(rand() * 16)}`
    for (let g = 0; g < shape.gpusPerNode; g++) {
      const idle = rand() < shape.idleShare
      slots.push({
        cluster,
        node,
        gpuUuid: `GPU-${hex(rand, 8)}-${hex(rand, 4)}-${hex(rand, 4)}-${hex(rand, 4)}-${hex(rand, 12)}`,
        gpuIndex: g,
        model,
        profiling,
        namespace: idle ? '' : ns,
        pod: idle ? '' : pod,
        container: idle ? '' : 'main',
        load: idle ? 0 : 0.3 + rand() * 0.7,
        jitterMs,
      })
    }
  }
  return slots
}

function sampleOf(slot: GpuSlot, tsMs: number, rand: () => number): GpuSample {
  const busy = Math.min(1, Math.max(0, slot.load + (rand() - 0.5) * 0.2))
  const fbUsedBytes = slot.load === 0 ? 0 : Math.floor((0.4 + rand() * 0.55) * FB_TOTAL_BYTES / 1_048_576) * 1_048_576
  const row: GpuSample = {
    tsMs,
    cluster: slot.cluster,
    node: slot.node,
    gpuUuid: slot.gpuUuid,
    gpuIndex: slot.gpuIndex,
    model: slot.model,
    migProfile: '',
    migInstance: undefined,
    namespace: slot.namespace,
    pod: slot.pod,
    container: slot.container,
    grEngineActiveRatio: undefined,
    smActiveRatio: undefined,
    smOccupancyRatio: undefined,
    tensorActiveRatio: undefined,
    dramActiveRatio: undefined,
    gpuUtilRatio: Math.round(busy * 100) / 100,
    fbUsedBytes,
    fbFreeBytes: FB_TOTAL_BYTES - fbUsedBytes,
    powerWatts: round(70 + busy * 600, 3),
    temperatureC: Math.round(30 + busy * 45),
  }
  if (slot.profiling) {
    row.grEngineActiveRatio = round(busy, 6)
    row.smActiveRatio = round(busy * 0.9, 6)
    row.smOccupancyRatio = round(busy * 0.5, 6)
    row.tensorActiveRatio = round(busy * 0.6, 6)
    row.dramActiveRatio = round(busy * 0.4, 6)
  }
  return row
}

/**
 * `rows` samples grouped by scrape (one array per scrape, as a collector
 * writes them), oldest first, the newest scrape ending just before `nowMs`.
 */
export function syntheticScrapes(rows: number, nowMs: number, shape: FleetShape = defaultFleet()): GpuSample[][] {
  const rand = prng(shape.seed)
  const slots = buildSlots(shape, rand)
  const scrapes = Math.ceil(rows / slots.length)
  const perWindow = Math.floor(WINDOW_MS / shape.scrapeIntervalMs)
  const newest = Math.floor(nowMs / shape.scrapeIntervalMs) * shape.scrapeIntervalMs - shape.scrapeIntervalMs
  const out: GpuSample[][] = []
  let left = rows
  for (let s = 0; s < scrapes; s++) {
    // Past one day the scrape times wrap around (duplicate times are fine for a write benchmark).
    const age = (scrapes - 1 - s) % perWindow
    const base = newest - age * shape.scrapeIntervalMs
    const n = Math.min(left, slots.length)
    const scrape = new Array<GpuSample>(n)
    for (let i = 0; i < n; i++) {
      const slot = slots[i] as GpuSlot
      scrape[i] = sampleOf(slot, base + slot.jitterMs, rand)
    }
    out.push(scrape)
    left -= n
  }
  return out
}
