import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configSchema } from '../config/schema'
import { burstPrices } from '../store/queries/demand'
import { openTestStore, type TestStore } from '../test/helpers/store'
import { pickBurstPrices } from './plan'
import { burstSourcesOf, coveringPolicies } from './service'

// Burst prices as the capacity plan reads them (store/queries/demand.ts BURST_PRICES on chDB),
// and the sources it takes from the rest of the config: on-prem providers and burst policies.
const AT = Date.parse('2026-06-01T00:00:00Z')
const NOW = Date.parse('2026-07-01T00:00:00Z')
let ts: TestStore

beforeAll(async () => {
  ts = await openTestStore()
  const row = (provider: string, instanceType: string, lifecycle: 'spot' | 'on-demand', gpus: number, usdPerHour: number) => ({ provider, region: provider === 'aws' ? 'us-east-1' : '', instanceType, lifecycle, gpus, usdPerHour, effectiveFromMs: AT })
  await ts.writers.sinks.prices.write([
    // The static prices collector's on-prem row: an amortised rate, cheaper than any cloud.
    row('onprem', 'V100', 'on-demand', 1, 1.2),
    row('dgx', 'H100', 'on-demand', 1, 1.5),
    row('aws', 'p4d.24xlarge', 'on-demand', 8, 32.7726),
    row('aws', 'p4d.24xlarge', 'spot', 8, 6.7915),
  ])
  await ts.writers.flush()
}, 120_000)

afterAll(async () => {
  await ts?.close()
})

const ANY = { provider: '', region: '', instanceType: '' }
const settings = { fallbackSpotUsdPerGpuHour: 0.85, fallbackOnDemandUsdPerGpuHour: 4.1 }

describe('BURST_PRICES', () => {
  it.each([
    { name: "leaves out 'onprem' rows with no provider filter (the default)", onPrem: undefined, want: ['aws p4d.24xlarge on-demand', 'aws p4d.24xlarge spot', 'dgx H100 on-demand'] },
    { name: "leaves out a cluster's defaultProvider rows too when told", onPrem: ['dgx'], want: ['aws p4d.24xlarge on-demand', 'aws p4d.24xlarge spot'] },
  ])('$name', async ({ onPrem, want }) => {
    const rows = await burstPrices(ts.store.query, ANY, NOW, onPrem)
    expect(rows.map((r) => `${r.provider} ${r.instanceType} ${r.lifecycle}`).sort()).toEqual(want)
  })

  it('returns nothing for a provider filter naming an on-prem provider, so the plan falls back and warns', async () => {
    expect(await burstPrices(ts.store.query, { ...ANY, provider: 'onprem' }, NOW)).toEqual([])
  })

  it('prices on-demand bursting at AWS, not at the on-prem V100 rate', async () => {
    const p = pickBurstPrices(await burstPrices(ts.store.query, ANY, NOW, ['dgx']), settings, { onPremProviders: ['dgx'] })
    expect(p.onDemand.source).toBe('prices table: aws us-east-1 p4d.24xlarge on-demand')
    expect(p.onDemand.usdPerGpuHour).toBeCloseTo(32.7726 / 8, 9)
  })
})

describe('burst sources from the config', () => {
  const config = configSchema.parse({
    collector: { kubernetes: { clusters: [{ name: 'a', defaultProvider: 'dgx' }, { name: 'b' }] } },
    alerts: {
      burst: {
        pools: [
          { cluster: 'a', pool: 'train', maxBurstGpus: 32, monthlyBudgetUsd: 1000, targets: [{ name: 'aws-spot', provider: 'aws', pool: 'burst', gpusPerNode: 8, maxNodes: 2, usdPerGpuHour: 0.9, adapter: { type: 'webhook', webhookUrl: 'https://hooks.example/scale' } }] },
          { cluster: 'b', pool: 'infer', maxBurstGpus: 8, monthlyBudgetUsd: 1000, targets: [{ name: 'gcp-od', provider: 'gcp', lifecycle: 'on-demand', pool: 'burst', gpusPerNode: 4, maxNodes: 1, usdPerGpuHour: 3, adapter: { type: 'webhook', webhookUrl: 'https://hooks.example/scale' } }] },
        ],
      },
    },
  })
  const sources = burstSourcesOf(config)

  it("takes 'onprem' and every cluster's defaultProvider as on-prem", () => {
    expect(sources.onPremProviders).toEqual(['', 'onprem', 'dgx'])
  })

  it.each([
    { selector: 'fleet', want: ['a/train', 'b/infer'] },
    { selector: 'cluster=a', want: ['a/train'] },
    { selector: 'cluster=b,pool=train', want: [] },
    { selector: 'pool=infer', want: ['b/infer'] },
  ])('a plan of $selector is covered by $want', ({ selector, want }) => {
    expect(coveringPolicies(sources.policies, selector).map((p) => `${p.cluster}/${p.pool}`)).toEqual(want)
  })
})
