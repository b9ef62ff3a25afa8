import { paginateDescribeSpotPriceHistory, type DescribeSpotPriceHistoryCommandInput, type EC2Client, type SpotPrice } from '@aws-sdk/client-ec2'
import type { Price } from '../../core/model'
import { callAws, collectPages } from './ec2Client'
import type { GpuType } from './instanceTypes'

/** Instance types per DescribeSpotPriceHistory call, so a long GPU list never makes an oversized request. */
const TYPES_PER_CALL = 100

/** The latest spot price of one instance type in one availability zone. */
export interface ZoneSpotPrice {
  instanceType: string
  zone: string
  usdPerHour: number
  sinceMs: number
}

/** What one spot-price read needs. */
export interface SpotQuery {
  client: EC2Client
  region: string
  secrets: readonly string[]
  productDescription: string
  nowMs: number
  signal: AbortSignal
}

/**
 * Reads the spot price in effect now for each GPU type in each zone of the
 * region: DescribeSpotPriceHistory with StartTime = EndTime = now returns, per
 * type and zone, the last price change before that time (all pages followed).
 */
export async function readSpotPrices(q: SpotQuery, instanceTypes: readonly string[]): Promise<ZoneSpotPrice[]> {
  const history: SpotPrice[] = []
  for (let i = 0; i < instanceTypes.length; i += TYPES_PER_CALL) {
    const input: DescribeSpotPriceHistoryCommandInput = {
      StartTime: new Date(q.nowMs),
      EndTime: new Date(q.nowMs),
      // The SDK types instance types as a closed union; EC2 adds types faster than SDK releases, and these come from EC2 itself.
      InstanceTypes: instanceTypes.slice(i, i + TYPES_PER_CALL) as DescribeSpotPriceHistoryCommandInput['InstanceTypes'],
      ProductDescriptions: [q.productDescription],
    }
    const pages = paginateDescribeSpotPriceHistory({ client: q.client, pageSize: 1000, stopOnSameToken: true }, input, { abortSignal: q.signal })
    history.push(...(await callAws('DescribeSpotPriceHistory', q.region, q.secrets, q.signal, () => collectPages(pages, (p) => p.SpotPriceHistory))))
  }
  return latestPerZone(history)
}

/** Keeps the newest record per (instance type, zone); records without a type, zone, time or a readable price are dropped. */
export function latestPerZone(history: readonly SpotPrice[]): ZoneSpotPrice[] {
  const latest = new Map<string, ZoneSpotPrice>()
  for (const h of history) {
    const usdPerHour = Number(h.SpotPrice)
    const sinceMs = h.Timestamp?.getTime()
    if (!h.InstanceType || !h.AvailabilityZone || h.SpotPrice === undefined || !Number.isFinite(usdPerHour) || sinceMs === undefined || !Number.isFinite(sinceMs)) continue
    const key = `${h.InstanceType}\u0000${h.AvailabilityZone}`
    const prev = latest.get(key)
    if (!prev || sinceMs > prev.sinceMs) latest.set(key, { instanceType: h.InstanceType, zone: h.AvailabilityZone, usdPerHour, sinceMs })
  }
  return [...latest.values()]
}

/**
 * One spot price per instance type for the region: the mean of its zones'
 * current prices, effective from the newest zone change. The prices table is
 * keyed by region (no zone column yet), and the mean is what an instance
 * placed in any zone costs on average. The same prices give the same row, so
 * repeated polls store nothing new (prices is a ReplacingMergeTree).
 */
export function regionSpotPrices(zones: readonly ZoneSpotPrice[], region: string, types: ReadonlyMap<string, GpuType>): Price[] {
  const byType = new Map<string, ZoneSpotPrice[]>()
  for (const z of zones) byType.set(z.instanceType, [...(byType.get(z.instanceType) ?? []), z])
  const out: Price[] = []
  for (const [instanceType, list] of byType) {
    const gpu = types.get(instanceType)
    if (!gpu) continue
    const mean = list.reduce((s, z) => s + z.usdPerHour, 0) / list.length
    out.push({
      provider: 'aws',
      region,
      instanceType,
      lifecycle: 'spot',
      gpus: gpu.gpus,
      usdPerHour: Math.round(mean * 1e6) / 1e6,
      effectiveFromMs: Math.max(...list.map((z) => z.sinceMs)),
    })
  }
  return out.sort((a, b) => a.instanceType.localeCompare(b.instanceType))
}
