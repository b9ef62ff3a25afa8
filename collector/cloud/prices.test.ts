import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { staticPriceSchema } from '../../config/cloud'
import { sharedFixtures } from '../../test/helpers/fixtures'
import { ALWAYS_MS, awsOnDemandPrices, builtInAwsOnDemandPrices, staticPriceRow } from './prices'

describe('built-in AWS on-demand prices', () => {
  it('are exactly the on-demand Price of each (type, region) in the SkyPilot catalog rows they were derived from', () => {
    const [header, ...lines] = readFileSync(sharedFixtures('aws-ec2', 'skypilot-catalog_v7_aws_vms_p4d-p5_rows.csv'), 'utf8').trim().split('\n')
    const cols = (header as string).split(',')
    const want = new Map<string, { region: string; instanceType: string; gpus: number; usdPerHour: number }>()
    for (const line of lines) {
      const row = Object.fromEntries(line.split(',').map((v, i) => [cols[i], v])) as Record<string, string>
      if (row.Price === '') continue
      const p = { region: row.Region as string, instanceType: row.InstanceType as string, gpus: Number(row.AcceleratorCount), usdPerHour: Number(row.Price) }
      const key = `${p.instanceType}@${p.region}`
      expect(want.get(key) ?? p, `zones of ${key} disagree`).toEqual(p)
      want.set(key, p)
    }
    const sortKey = (p: { region: string; instanceType: string }) => `${p.instanceType}@${p.region}`
    expect(builtInAwsOnDemandPrices().sort((a, b) => sortKey(a).localeCompare(sortKey(b)))).toEqual([...want.values()].sort((a, b) => sortKey(a).localeCompare(sortKey(b))))
  })

  it.each([
    { name: 'no override', configured: [], want: ['p4d.24xlarge', 'p5.48xlarge', 'p5en.48xlarge'] },
    { name: 'overridden in this region', configured: [{ provider: 'aws', region: 'us-east-1', instanceType: 'p5.48xlarge', usdPerHour: 55 }], want: ['p4d.24xlarge', 'p5en.48xlarge'] },
    { name: 'overridden for every region', configured: [{ provider: 'aws', instanceType: 'p4d.24xlarge', usdPerHour: 20 }], want: ['p5.48xlarge', 'p5en.48xlarge'] },
    { name: 'another region does not override', configured: [{ provider: 'aws', region: 'us-west-2', instanceType: 'p5.48xlarge', usdPerHour: 55 }], want: ['p4d.24xlarge', 'p5.48xlarge', 'p5en.48xlarge'] },
    { name: 'a spot price does not override', configured: [{ provider: 'aws', region: 'us-east-1', instanceType: 'p5.48xlarge', lifecycle: 'spot', usdPerHour: 25 }], want: ['p4d.24xlarge', 'p5.48xlarge', 'p5en.48xlarge'] },
  ])('for us-east-1 with $name', ({ configured, want }) => {
    const rows = awsOnDemandPrices('us-east-1', configured.map((c) => staticPriceSchema.parse(c)))
    expect(rows.map((r) => r.instanceType).sort()).toEqual(want)
    expect(rows.every((r) => r.provider === 'aws' && r.lifecycle === 'on-demand' && r.effectiveFromMs === ALWAYS_MS && r.gpus === 8)).toBe(true)
  })
})

describe('static price rows', () => {
  it.each([
    { name: 'on-prem amortised $/GPU-hour, always', entry: { provider: 'onprem', instanceType: 'H100', usdPerHour: 2.1 }, want: { provider: 'onprem', region: '', instanceType: 'H100', lifecycle: 'on-demand', gpus: 1, usdPerHour: 2.1, effectiveFromMs: ALWAYS_MS } },
    { name: 'dated cloud price', entry: { provider: 'gcp', region: 'us-central1', instanceType: 'a3-highgpu-8g', gpus: 8, usdPerHour: 88.25, effectiveFrom: '2025-06-01T02:00:00+02:00' }, want: { provider: 'gcp', region: 'us-central1', instanceType: 'a3-highgpu-8g', lifecycle: 'on-demand', gpus: 8, usdPerHour: 88.25, effectiveFromMs: Date.parse('2025-06-01T00:00:00Z') } },
  ])('$name', ({ entry, want }) => {
    expect(staticPriceRow(staticPriceSchema.parse(entry))).toEqual(want)
  })

  it('rejects an effectiveFrom that is not an ISO time', () => {
    const parsed = staticPriceSchema.safeParse({ provider: 'onprem', instanceType: 'H100', usdPerHour: 2, effectiveFrom: 'June 2025' })
    expect(parsed.error?.issues[0]?.path).toEqual(['effectiveFrom'])
  })
})
