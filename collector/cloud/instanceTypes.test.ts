import { readFileSync } from 'node:fs'
import type { InstanceTypeInfo } from '@aws-sdk/client-ec2'
import { describe, expect, it } from 'vitest'
import { sharedFixtures } from '../../test/helpers/fixtures'
import { gpuTypeOf, InstanceTypeCache, type InstanceTypeCatalog } from './instanceTypes'

// moto's DescribeInstanceTypes entries (real AWS output, filtered to GPU types) and the flat summary beside them.
const fixture = JSON.parse(readFileSync(sharedFixtures('aws-ec2', 'describe-instance-types_gpu_from-moto.json'), 'utf8')) as { InstanceTypes: InstanceTypeInfo[] }
const byType = new Map(fixture.InstanceTypes.map((t) => [t.InstanceType as string, t]))
const summary = readFileSync(sharedFixtures('aws-ec2', 'gpu_instance_types_summary.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','))

describe('GPUs of an instance type from GpuInfo', () => {
  it.each([
    { type: 'p5.48xlarge', want: { gpus: 8, gpuModel: 'NVIDIA H100', gpuMemoryMiB: 655_360 } },
    { type: 'p4d.24xlarge', want: { gpus: 8, gpuModel: 'NVIDIA A100', gpuMemoryMiB: 327_680 } },
    { type: 'g5.12xlarge', want: { gpus: 4, gpuModel: 'NVIDIA A10G', gpuMemoryMiB: 91_552 } },
    { type: 'g4ad.xlarge', want: { gpus: 1, gpuModel: 'AMD Radeon Pro V520', gpuMemoryMiB: 8_192 } },
    { type: 'g6f.large', want: { gpus: 0.125, gpuModel: 'NVIDIA L4', gpuMemoryMiB: 2_861 } },
    { type: 'gr6f.4xlarge', want: { gpus: 0.5, gpuModel: 'NVIDIA L4', gpuMemoryMiB: 11_444 } },
  ])('$type: $want.gpus x $want.gpuModel', ({ type, want }) => {
    expect(gpuTypeOf(byType.get(type) as InstanceTypeInfo)).toEqual({ instanceType: type, ...want })
  })

  it('agrees with the summary GpuCount for every whole-GPU type, and counts partitioned types as a fraction', () => {
    expect(summary).toHaveLength(70)
    for (const [type, , , count] of summary) {
      const g = gpuTypeOf(byType.get(type as string) as InstanceTypeInfo)
      if (Number(count) > 0) expect(g?.gpus, type).toBe(Number(count))
      else expect(g?.gpus, type).toBeGreaterThan(0)
    }
  })

  it('gives no GPU type for an instance type without GpuInfo', () => {
    expect(gpuTypeOf({ InstanceType: 'm5.xlarge', VCpuInfo: { DefaultVCpus: 4 } })).toBeUndefined()
  })
})

describe('instance type cache', () => {
  const DAY = 86_400_000
  const catalog = (listedAtMs: number): InstanceTypeCatalog => ({ known: new Set(['p5.48xlarge']), gpu: new Map(), listedAtMs })
  const signal = new AbortController().signal

  function cacheWith(answers: Array<InstanceTypeCatalog | Error>) {
    let calls = 0
    const cache = new InstanceTypeCache(async () => {
      const a = answers[calls++]
      if (a === undefined || a instanceof Error) throw a ?? new Error('no more answers')
      return a
    }, DAY)
    return { cache, calls: () => calls }
  }

  it('lists once, serves the cache within the TTL, and lists again after it or when forced', async () => {
    const { cache, calls } = cacheWith([catalog(0), catalog(DAY), catalog(DAY + 1)])
    expect((await cache.get(0, signal)).catalog.listedAtMs).toBe(0)
    expect((await cache.get(DAY - 1, signal)).catalog.listedAtMs).toBe(0)
    expect(calls()).toBe(1)
    expect((await cache.get(DAY, signal)).catalog.listedAtMs).toBe(DAY)
    expect((await cache.get(DAY + 1, signal, true)).catalog.listedAtMs).toBe(DAY + 1)
    expect(calls()).toBe(3)
  })

  it('keeps the stale catalog with a warning when listing again fails, and throws when it has none', async () => {
    const { cache } = cacheWith([catalog(0), new Error('aws us-east-1: DescribeInstanceTypes failed: InternalError')])
    await cache.get(0, signal)
    const stale = await cache.get(2 * DAY, signal)
    expect(stale.catalog.listedAtMs).toBe(0)
    expect(stale.warning).toBe('aws us-east-1: DescribeInstanceTypes failed: InternalError (using instance types listed at 1970-01-01T00:00:00.000Z)')
    await expect(cacheWith([new Error('boom')]).cache.get(0, signal)).rejects.toThrow('boom')
  })
})
