import { describe, expect, it } from 'vitest'
import type { AlibabaPod } from '../collector/replay/traces/alibaba'
import { InputError } from '../core/errors'
import { sharedFixtures } from '../test/helpers/fixtures'
import { backtestHorizons } from './backtestReport'
import { backtestOptions, alibabaSeries } from './service'
import { forecastSchema } from '../config/forecast'
import { alibabaHourlyDemand } from './traces'

const pod = (over: Partial<AlibabaPod>): AlibabaPod => ({
  name: 'p', cpuMilli: 1000, memoryMib: 1024, numGpu: 1, gpuMilli: 1000, gpuSpec: '', qos: 'LS', phase: 'Running',
  creationS: 0, deletionS: undefined, scheduledS: undefined, line: 2, ...over,
})

describe('alibabaHourlyDemand', () => {
  it('adds each GPU pod while pending and while running, per second of overlap with each hour, reading phases as the replay does', () => {
    const s = alibabaHourlyDemand([
      // Succeeded: pending 0:30-1:30, running 1:30-3:00: 1 GPU.
      pod({ phase: 'Succeeded', creationS: 1800, scheduledS: 5400, deletionS: 10800 }),
      // Failed: two half GPUs (num_gpu 2 × gpu_milli 500 = 1 GPU) running 0:00-0:15.
      pod({ phase: 'Failed', numGpu: 2, gpuMilli: 500, creationS: 0, scheduledS: 0, deletionS: 900 }),
      // Running at the snapshot: from 2:00 through its last instant (3:00); its deletion time is not used.
      pod({ phase: 'Running', numGpu: 2, creationS: 7200, scheduledS: 7200, deletionS: 7500 }),
      // Pending at the snapshot: from 2:00 to the trace's last instant, whatever its other times say.
      pod({ phase: 'Pending', numGpu: 4, creationS: 7200, scheduledS: 9000 }),
      // No GPUs: not demand.
      pod({ numGpu: 0, creationS: 0, scheduledS: 0, deletionS: 10800 }),
    ])
    expect(s.startMs).toBe(0)
    expect(s.values).toEqual([0.5 + 0.25, 1, 1 + 2 + 4])
  })

  it('refuses a trace without GPU pods', () => {
    expect(() => alibabaHourlyDemand([pod({ numGpu: 0 })])).toThrow(InputError)
  })
})

describe('backtest on the hourly demand rebuilt from the Alibaba PAI v2023 pod intervals (docs/benchmarks.md)', () => {
  it('spans ~149 days; at 24 h the chosen model beats seasonal naive (MASE < 1) and its 80% intervals cover 70-90% of actuals', async () => {
    const series = await alibabaSeries(sharedFixtures('alibaba-pai-gpu-v2023'), 'fleet')
    expect(series.values).toHaveLength(3584)
    const [day] = backtestHorizons(series, backtestOptions(forecastSchema.parse({})), [24])
    const chosen = day!.backtest!.scores.find((s) => s.modelId === day!.choice!.modelId)!
    expect(day!.choice!.naive).toBe(false)
    expect(chosen.modelId).toBe('hw-weekly')
    expect(chosen.mase).toBeCloseTo(0.173, 3)
    expect(chosen.coverage80).toBeGreaterThanOrEqual(0.7)
    expect(chosen.coverage80).toBeLessThanOrEqual(0.9)
  })

  it('has one series, the fleet', async () => {
    await expect(alibabaSeries(sharedFixtures('alibaba-pai-gpu-v2023'), 'team=x')).rejects.toThrow("the Alibaba trace has one series, 'fleet' (its pods carry no cluster, pool or team), not 'team=x'")
  })
})
