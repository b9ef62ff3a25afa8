import { readFileSync } from 'node:fs'
import type { SpotPrice } from '@aws-sdk/client-ec2'
import { describe, expect, it } from 'vitest'
import { sharedFixtures } from '../../test/helpers/fixtures'
import type { GpuType } from './instanceTypes'
import { latestPerZone, regionSpotPrices, type ZoneSpotPrice } from './spotPrices'

// The documented DescribeSpotPriceHistory output (aws-cli example), as the SDK returns it (Timestamp as a Date).
const example = (JSON.parse(readFileSync(sharedFixtures('aws-ec2', 'aws-cli_describe-spot-price-history_example.json'), 'utf8')) as { SpotPriceHistory: Array<Record<string, string>> })
  .SpotPriceHistory.map((h): SpotPrice => ({ ...h, Timestamp: new Date(h.Timestamp as string) }))

describe('latest spot price per type and zone', () => {
  it('keeps one price per zone from the documented example', () => {
    expect(latestPerZone(example)).toEqual([
      { instanceType: 'm1.xlarge', zone: 'us-west-1a', usdPerHour: 0.08, sinceMs: Date.parse('2014-01-06T04:32:53.000Z') },
      { instanceType: 'm1.xlarge', zone: 'us-west-1c', usdPerHour: 0.08, sinceMs: Date.parse('2014-01-05T11:28:26.000Z') },
    ])
  })

  it('keeps the newest record of a zone, whatever the order, and drops records it cannot read', () => {
    const at = (iso: string) => new Date(iso)
    const history: SpotPrice[] = [
      { InstanceType: 'p5.48xlarge', AvailabilityZone: 'us-east-1a', SpotPrice: '31.0', Timestamp: at('2025-01-01T00:00:00Z') },
      { InstanceType: 'p5.48xlarge', AvailabilityZone: 'us-east-1a', SpotPrice: '30.326000', Timestamp: at('2025-01-02T00:00:00Z') },
      { InstanceType: 'p5.48xlarge', AvailabilityZone: 'us-east-1a', SpotPrice: '29.0', Timestamp: at('2024-12-31T00:00:00Z') },
      { InstanceType: 'p5.48xlarge', AvailabilityZone: 'us-east-1b', SpotPrice: 'n/a', Timestamp: at('2025-01-02T00:00:00Z') },
      { InstanceType: 'p5.48xlarge', SpotPrice: '1.0', Timestamp: at('2025-01-02T00:00:00Z') },
      { InstanceType: 'p5.48xlarge', AvailabilityZone: 'us-east-1c', SpotPrice: '1.0' },
    ]
    expect(latestPerZone(history)).toEqual([{ instanceType: 'p5.48xlarge', zone: 'us-east-1a', usdPerHour: 30.326, sinceMs: Date.parse('2025-01-02T00:00:00Z') }])
  })
})

describe('region spot prices', () => {
  const types = new Map<string, GpuType>([['p4d.24xlarge', { instanceType: 'p4d.24xlarge', gpus: 8, gpuModel: 'NVIDIA A100', gpuMemoryMiB: 327_680 }]])
  const zone = (instanceType: string, z: string, usdPerHour: number, sinceMs: number): ZoneSpotPrice => ({ instanceType, zone: z, usdPerHour, sinceMs })

  it('averages the zones of a GPU type, effective from the newest zone change, and skips types without GPUs', () => {
    // us-east-1 p4d.24xlarge SpotPrice values of the SkyPilot catalog rows (shared/fixtures/aws-ec2).
    const zones = [zone('p4d.24xlarge', 'us-east-1a', 6.7915, 1_000), zone('p4d.24xlarge', 'us-east-1b', 9.6107, 3_000), zone('p4d.24xlarge', 'us-east-1f', 5.0933, 2_000), zone('m5.xlarge', 'us-east-1a', 0.07, 1_000)]
    expect(regionSpotPrices(zones, 'us-east-1', types)).toEqual([
      { provider: 'aws', region: 'us-east-1', instanceType: 'p4d.24xlarge', lifecycle: 'spot', gpus: 8, usdPerHour: 7.165167, effectiveFromMs: 3_000 },
    ])
  })
})
