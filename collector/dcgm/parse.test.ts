import { readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { GpuSample } from '../../core/model'
import { DCGM_FIXTURE_DIR, readDcgmFixture } from '../../test/fakes/exporter'
import { DCGM_INT64_BLANK, isDcgmBlank } from './fields'
import { parseDcgmScrape, toGpuSamples } from './parse'

const TS = 1_773_114_089_184
const MIB = 1_048_576
const ctx = { cluster: 'dgx', node: 'configured-node', tsMs: TS }
const METRICS = ['grEngineActiveRatio', 'smActiveRatio', 'smOccupancyRatio', 'tensorActiveRatio', 'dramActiveRatio', 'gpuUtilRatio', 'fbUsedBytes', 'fbFreeBytes', 'powerWatts', 'temperatureC'] as const
const present = (s: GpuSample) => METRICS.filter((m) => s[m] !== undefined)

const H100_UUIDS = [
  'GPU-c4529c8d-69c4-b61d-e0bc-7b2460096005', 'GPU-bc5610b9-79c8-fedd-8899-07539c7f868a', 'GPU-fbc2c554-4d37-8938-0032-f923bad0f716',
  'GPU-a65a773d-52bb-bcc1-a8ee-f78c3faa2e2d', 'GPU-82e45d1b-1618-559f-144c-eab51545030b', 'GPU-39e28159-8c62-ee71-64db-b748edd61e15',
  'GPU-e64d69ca-b4b3-59b2-e78c-94f26c4db365', 'GPU-04d228d3-3b5a-3534-f5cf-969706647d56',
]

/** Every scrape in shared/fixtures/dcgm-exporter, with what it must yield. */
const FIXTURES: Array<{ file: string; check: (rows: GpuSample[]) => void }> = [
  {
    file: 'kops-aws-L4-1gpu.prom',
    check: (rows) => {
      expect(rows).toEqual([{
        tsMs: TS, cluster: 'dgx', node: 'i-030791dc5a37cd257', gpuUuid: 'GPU-c2f76b33-7953-256e-8f33-1343419b1a1c', gpuIndex: 0,
        model: 'NVIDIA L4', migProfile: '', migInstance: undefined, namespace: '', pod: '', container: '',
        grEngineActiveRatio: 0, tensorActiveRatio: 0, dramActiveRatio: 0, gpuUtilRatio: 0,
        fbUsedBytes: 0, fbFreeBytes: 22_563 * MIB, powerWatts: 16.365, temperatureC: 31,
      }])
      // Profiling metrics are scraped here, so GR_ENGINE_ACTIVE backs utilization; SM_ACTIVE is off by default.
      expect(rows[0]?.smActiveRatio).toBeUndefined()
    },
  },
  {
    file: 'aicr-eks-p5-H100x8-sampled.prom',
    check: (rows) => {
      expect(rows.map((r) => r.gpuUuid)).toEqual(H100_UUIDS)
      expect(rows.map((r) => r.gpuIndex)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
      expect(new Set(rows.map((r) => `${r.node}|${r.model}|${r.cluster}|${r.tsMs}`))).toEqual(new Set([`gpu-node-1|NVIDIA H100 80GB HBM3|dgx|${TS}`]))
      expect(rows.map((r) => r.temperatureC)).toEqual([30, 29, 26, 29, 28, 26, 28, 26])
      expect(rows.map((r) => r.powerWatts)).toEqual([113.611, 68.347, 65.709, 67.316, 68.717, 65.742, 67.328, 66.997])
      expect(rows.map((r) => r.gpuUtilRatio)).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
      // No profiling metrics in this scrape: utilization is backed by GPU_UTIL, and FB is unknown, not 0.
      for (const r of rows) expect(present(r)).toEqual(['gpuUtilRatio', 'powerWatts', 'temperatureC'])
      expect(rows.map((r) => [r.namespace, r.pod, r.container])).toEqual([
        ['dynamo-workload', 'vllm-agg-0-vllmdecodeworker-s65j5', 'main'],
        ...Array.from({ length: 7 }, () => ['', '', '']),
      ])
    },
  },
]

describe('parseDcgmScrape over every real exporter scrape in shared/fixtures', () => {
  it('has a case for every .prom fixture', () => {
    const files = readdirSync(DCGM_FIXTURE_DIR).filter((f) => f.endsWith('.prom')).sort()
    expect(FIXTURES.map((f) => f.file).sort()).toEqual(files)
  })

  it.each(FIXTURES)('$file', ({ file, check }) => {
    check(parseDcgmScrape(readDcgmFixture(file), ctx))
  })
})

const L = (extra = '') => `gpu="0",UUID="GPU-a",device="nvidia0",modelName="NVIDIA H100 80GB HBM3"${extra}`

describe('parseDcgmScrape on synthetic scrapes', () => {
  it.each([
    { name: 'host from Hostname (released exporters)', labels: ',Hostname="node-a"', want: 'node-a' },
    { name: 'host from hostname (newer exporters)', labels: ',hostname="node-b"', want: 'node-b' },
    { name: 'Hostname wins when both are present', labels: ',Hostname="node-a",hostname="node-b"', want: 'node-a' },
    { name: 'the configured node when the exporter labels no host', labels: '', want: 'configured-node' },
  ])('$name', ({ labels, want }) => {
    const [row] = parseDcgmScrape(`DCGM_FI_DEV_GPU_TEMP{${L(labels)}} 40\n`, ctx)
    expect(row?.node).toBe(want)
  })

  it.each([
    { name: 'int64 blank on GPU_TEMP', metric: 'DCGM_FI_DEV_GPU_TEMP', value: '9223372036854775794', column: 'temperatureC' },
    { name: 'int64 blank base on FB_USED', metric: 'DCGM_FI_DEV_FB_USED', value: '9223372036854775792', column: 'fbUsedBytes' },
    { name: 'int32 blank on FB_FREE', metric: 'DCGM_FI_DEV_FB_FREE', value: '2147483632', column: 'fbFreeBytes' },
    { name: 'int32 NOT_SUPPORTED on GPU_UTIL', metric: 'DCGM_FI_DEV_GPU_UTIL', value: '2147483634', column: 'gpuUtilRatio' },
    { name: 'fp64 blank on POWER_USAGE', metric: 'DCGM_FI_DEV_POWER_USAGE', value: '140737488355328', column: 'powerWatts' },
    { name: 'fp64 NOT_SUPPORTED on GR_ENGINE_ACTIVE', metric: 'DCGM_FI_PROF_GR_ENGINE_ACTIVE', value: '140737488355330.000000', column: 'grEngineActiveRatio' },
    { name: 'a GPU_UTIL spike of 4294967295', metric: 'DCGM_FI_DEV_GPU_UTIL', value: '4294967295', column: 'gpuUtilRatio' },
    { name: 'a GPU_UTIL of 101', metric: 'DCGM_FI_DEV_GPU_UTIL', value: '101', column: 'gpuUtilRatio' },
    { name: 'NaN', metric: 'DCGM_FI_PROF_DRAM_ACTIVE', value: 'NaN', column: 'dramActiveRatio' },
    { name: '+Inf', metric: 'DCGM_FI_DEV_POWER_USAGE', value: '+Inf', column: 'powerWatts' },
  ] as const)('stores $name as missing (undefined), keeping the GPU and its other metrics', ({ metric, value, column }) => {
    const rows = parseDcgmScrape(`${metric}{${L()}} ${value}\nDCGM_FI_DEV_MEM_CLOCK{${L()}} 1593\nDCGM_FI_PROF_SM_ACTIVE{${L()}} 0.25\n`, ctx)
    expect(rows).toHaveLength(1)
    expect(rows[0]?.[column]).toBeUndefined()
    expect(rows[0]?.smActiveRatio).toBe(0.25)
  })

  it('keeps a GPU_UTIL of exactly 100 as ratio 1, and converts FB MiB to bytes', () => {
    const [row] = parseDcgmScrape(`DCGM_FI_DEV_GPU_UTIL{${L()}} 100\nDCGM_FI_DEV_FB_USED{${L()}} 81559\n`, ctx)
    expect(row).toMatchObject({ gpuUtilRatio: 1, fbUsedBytes: 81_559 * MIB })
  })

  it('keys MIG instances by UUID + GPU_I_ID, next to the parent GPU row, with profile and pod labels', () => {
    const mig = (id: string, profile: string, pod: string) => L(`,GPU_I_PROFILE="${profile}",GPU_I_ID="${id}",Hostname="dgx-1",namespace="kserve",pod="${pod}",container="kserve-container"`)
    const text = [
      `DCGM_FI_DEV_GPU_TEMP{${L(',Hostname="dgx-1"')}} 35`,
      `DCGM_FI_PROF_GR_ENGINE_ACTIVE{${mig('13', '1g.10gb', 'llama-predictor-0')}} 0.42`,
      `DCGM_FI_DEV_FB_USED{${mig('13', '1g.10gb', 'llama-predictor-0')}} 9000`,
      `DCGM_FI_PROF_GR_ENGINE_ACTIVE{${mig('2', '3g.40gb', 'bert-predictor-0')}} 0.05`,
    ].join('\n')
    const rows = parseDcgmScrape(text, ctx)
    expect(rows.map((r) => [r.gpuUuid, r.migInstance, r.migProfile, r.pod, r.grEngineActiveRatio, r.fbUsedBytes, r.temperatureC])).toEqual([
      ['GPU-a', undefined, '', '', undefined, undefined, 35],
      ['GPU-a', 2, '3g.40gb', 'bert-predictor-0', 0.05, undefined, undefined],
      ['GPU-a', 13, '1g.10gb', 'llama-predictor-0', 0.42, 9000 * MIB, undefined],
    ])
    expect(rows[1]).toMatchObject({ namespace: 'kserve', container: 'kserve-container', node: 'dgx-1' })
  })

  it('decodes escaped label values (quotes, backslashes, newlines) into the row', () => {
    const text = 'DCGM_FI_DEV_GPU_TEMP{gpu="3",UUID="GPU-\\"q\\"",modelName="NVIDIA \\\\ \\"X\\"",pod="a\\nb",namespace="ns",Hostname="h,{}"} 50\n'
    expect(parseDcgmScrape(text, ctx)).toEqual([expect.objectContaining({ gpuUuid: 'GPU-"q"', model: 'NVIDIA \\ "X"', pod: 'a\nb', node: 'h,{}', gpuIndex: 3 })])
  })

  it('attributes a time-sliced GPU to one pod, the same one whatever the series order', () => {
    const a = `DCGM_FI_DEV_GPU_UTIL{${L(',namespace="ml",pod="zeta"')}} 30`
    const b = `DCGM_FI_DEV_GPU_UTIL{${L(',namespace="ml",pod="alpha"')}} 30`
    expect(parseDcgmScrape(`${a}\n${b}\n`, ctx).map((r) => r.pod)).toEqual(['alpha'])
    expect(parseDcgmScrape(`${b}\n${a}\n`, ctx).map((r) => r.pod)).toEqual(['alpha'])
  })

  it('treats a gpu or GPU_I_ID label that does not fit the UInt8 column as absent (index from device, else 0)', () => {
    const rows = parseDcgmScrape('DCGM_FI_DEV_GPU_TEMP{gpu="300",device="nvidia4",UUID="GPU-x"} 30\nDCGM_FI_DEV_GPU_TEMP{gpu="-1",UUID="GPU-y"} 30\n', ctx)
    expect(rows.map((r) => [r.gpuUuid, r.gpuIndex])).toEqual([['GPU-y', 0], ['GPU-x', 4]])
  })

  it('ignores series without a UUID and non-DCGM series, and yields no row for an empty scrape', () => {
    expect(parseDcgmScrape('go_goroutines 12\nDCGM_FI_DEV_GPU_TEMP{gpu="0"} 30\n', ctx)).toEqual([])
    expect(parseDcgmScrape('', ctx)).toEqual([])
  })

  it('throws on a body that is not Prometheus text', () => {
    expect(() => parseDcgmScrape('<html><body>502</body></html>\n', ctx)).toThrow(/invalid Prometheus text at line 1/)
  })
})

describe('pod labels that passed through a Prometheus (toGpuSamples)', () => {
  const exporterPod = /dcgm-exporter/
  const series = (labels: Record<string, string>) => [{ name: 'DCGM_FI_DEV_GPU_UTIL', labels: { UUID: 'GPU-a', gpu: '0', ...labels }, value: 5 }]
  it.each<{ name: string; labels: Record<string, string>; want: string[] }>([
    { name: 'a pod naming the exporter itself is not a workload', labels: { pod: 'nvidia-dcgm-exporter-wqqqn', namespace: 'gpu-operator', container: 'nvidia-dcgm-exporter' }, want: ['', '', ''] },
    { name: 'exported_* labels (honor_labels off) win over target labels', labels: { pod: 'nvidia-dcgm-exporter-wqqqn', namespace: 'gpu-operator', exported_pod: 'train-0', exported_namespace: 'ml', exported_container: 'main' }, want: ['ml', 'train-0', 'main'] },
    { name: 'a workload pod (honor_labels on) is kept', labels: { pod: 'vllm-0', namespace: 'dynamo', container: 'main' }, want: ['dynamo', 'vllm-0', 'main'] },
  ])('$name', ({ labels, want }) => {
    const [row] = toGpuSamples(series(labels), { ...ctx, exporterPod })
    expect([row?.namespace, row?.pod, row?.container]).toEqual(want)
  })
})

describe('isDcgmBlank', () => {
  it.each([
    { value: 2147483631, type: 'int', want: false },
    { value: 2147483632, type: 'int', want: true },
    { value: DCGM_INT64_BLANK, type: 'int', want: true },
    { value: 140737488355327, type: 'fp64', want: false },
    { value: 140737488355328, type: 'fp64', want: true },
    { value: DCGM_INT64_BLANK, type: 'fp64', want: true },
  ] as const)('$value as $type -> $want', ({ value, type, want }) => {
    expect(isDcgmBlank(value, type)).toBe(want)
  })
})
