import { paginateDescribeInstanceTypes, type EC2Client, type InstanceTypeInfo } from '@aws-sdk/client-ec2'
import { callAws, collectPages } from './ec2Client'

/** GPUs of one EC2 instance type, from DescribeInstanceTypes' GpuInfo. */
export interface GpuType {
  instanceType: string
  /** Full GPUs, or the fraction of one for partitioned types (g6f.large = 1/8 of an L4). */
  gpus: number
  /** Manufacturer and name as EC2 gives them, e.g. `NVIDIA H100`, `AMD Radeon Pro V520`. */
  gpuModel: string
  gpuMemoryMiB: number
}

/**
 * The GPUs of one instance type, or undefined for a type without GPUs.
 * Partitioned GPUs (g6f, gr6f: Count 0, LogicalGpuCount 1, GpuPartitionSize
 * 0.125) count as their fraction of a GPU, as MIG slices do (DESIGN.md).
 */
export function gpuTypeOf(info: InstanceTypeInfo): GpuType | undefined {
  const devices = info.GpuInfo?.Gpus ?? []
  let gpus = 0
  for (const d of devices) {
    const partition = d.GpuPartitionSize ?? 1
    gpus += d.LogicalGpuCount !== undefined ? d.LogicalGpuCount * partition : (d.Count ?? 0)
  }
  if (!info.InstanceType || gpus <= 0) return undefined
  const models = [...new Set(devices.map((d) => [d.Manufacturer, d.Name].filter(Boolean).join(' ')))]
  return {
    instanceType: info.InstanceType,
    gpus,
    gpuModel: models.join(' + '),
    gpuMemoryMiB: info.GpuInfo?.TotalGpuMemoryInMiB ?? 0,
  }
}

/** Every instance type offered in a region, and the GPU ones among them. */
export interface InstanceTypeCatalog {
  /** Every type name listed, GPU or not: an instance of a type outside it means the catalog is stale. */
  known: ReadonlySet<string>
  gpu: ReadonlyMap<string, GpuType>
  listedAtMs: number
}

/** Lists every instance type of the client's region (DescribeInstanceTypes, all pages). */
export async function listInstanceTypes(client: EC2Client, region: string, secrets: readonly string[], nowMs: number, signal: AbortSignal): Promise<InstanceTypeCatalog> {
  const infos = await callAws('DescribeInstanceTypes', region, secrets, signal, () =>
    collectPages(paginateDescribeInstanceTypes({ client, pageSize: 100, stopOnSameToken: true }, {}, { abortSignal: signal }), (p) => p.InstanceTypes),
  )
  const known = new Set<string>()
  const gpu = new Map<string, GpuType>()
  for (const info of infos) {
    if (info.InstanceType) known.add(info.InstanceType)
    const g = gpuTypeOf(info)
    if (g) gpu.set(g.instanceType, g)
  }
  return { known, gpu, listedAtMs: nowMs }
}

/**
 * A cached instance-type catalog: listed once, again after `ttlMs` or when an
 * instance shows a type the catalog does not know. When listing again fails,
 * the stale catalog is kept and the failure returned as a warning; with no
 * catalog at all the failure is thrown.
 */
export class InstanceTypeCache {
  private catalog: InstanceTypeCatalog | undefined

  constructor(
    private readonly list: (nowMs: number, signal: AbortSignal) => Promise<InstanceTypeCatalog>,
    private readonly ttlMs: number,
  ) {}

  /** The catalog, listed again when older than the TTL or when `force` is set. */
  async get(nowMs: number, signal: AbortSignal, force = false): Promise<{ catalog: InstanceTypeCatalog; warning?: string }> {
    const cached = this.catalog
    if (cached && !force && nowMs - cached.listedAtMs < this.ttlMs) return { catalog: cached }
    try {
      this.catalog = await this.list(nowMs, signal)
      return { catalog: this.catalog }
    } catch (err) {
      if (!cached || signal.aborted) throw err
      return { catalog: cached, warning: `${(err as Error).message} (using instance types listed at ${new Date(cached.listedAtMs).toISOString()})` }
    }
  }
}
