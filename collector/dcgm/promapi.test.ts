import { describe, expect, it } from 'vitest'
import { readDcgmFixture } from '../../test/fakes/exporter'
import { dcgmQuery, nodeFromTargetLabels, parsePromQueryResponse, promSeriesToGpuSamples } from './promapi'
import { SeenSamples } from './prometheus'

const ctx = { cluster: 'eks', clusterFromLabel: true, node: nodeFromTargetLabels, exporterPod: /dcgm-exporter/ }

describe('Prometheus /api/v1/query answers', () => {
  it('maps the real GPU_UTIL vector (16 series, 2 nodes), dropping the exporter pod that ServiceMonitor labels add', () => {
    const { series, warnings } = parsePromQueryResponse(JSON.parse(readDcgmFixture('aicr-prometheus-api-query-DCGM_FI_DEV_GPU_UTIL.json')))
    expect(series).toHaveLength(16)
    expect(warnings).toEqual([])
    const rows = promSeriesToGpuSamples(series, ctx)
    expect(rows).toHaveLength(16)
    expect(rows.map((r) => `${r.node}/${r.gpuIndex}`)).toEqual([
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => `gpu-node-1/${i}`),
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => `gpu-node-2/${i}`),
    ])
    expect(new Set(rows.map((r) => `${r.cluster}|${r.model}|${r.tsMs}|${r.gpuUtilRatio}`))).toEqual(new Set(['eks|NVIDIA H100 80GB HBM3|1773114089184|0']))
    expect(rows[0]).toMatchObject({ gpuUuid: 'GPU-c4529c8d-69c4-b61d-e0bc-7b2460096005', namespace: 'dynamo-workload', pod: 'vllm-agg-0-vllmdecodeworker-s65j5', container: 'main' })
    expect(rows.slice(1).every((r) => r.pod === '' && r.namespace === '' && r.container === '')).toBe(true)
    expect(rows[8]?.gpuUuid).toBe('GPU-92da0328-2f33-b563-d577-9d2b9f21f280')
    // Only GPU_UTIL was queried: every other metric is unknown, not 0.
    expect(rows.every((r) => r.grEngineActiveRatio === undefined && r.fbUsedBytes === undefined && r.temperatureC === undefined)).toBe(true)
  })

  it('turns a matrix into one row per GPU per scrape time, with string values (NaN, +Inf) as missing', () => {
    const labels = { UUID: 'GPU-a', gpu: '0', Hostname: 'n1', cluster: 'dgx', instance: '10.0.0.1:9400' }
    const body = {
      status: 'success',
      data: {
        resultType: 'matrix',
        result: [
          { metric: { __name__: 'DCGM_FI_DEV_GPU_UTIL', ...labels }, values: [[100, '50'], [101, 'NaN']] },
          { metric: { __name__: 'DCGM_FI_DEV_POWER_USAGE', ...labels }, values: [[100, '+Inf'], [101, '300.5']] },
        ],
      },
      warnings: ['partial'],
    }
    const { series, warnings } = parsePromQueryResponse(body)
    expect(warnings).toEqual(['partial'])
    const rows = promSeriesToGpuSamples(series, ctx)
    expect(rows.map((r) => [r.tsMs, r.cluster, r.gpuUtilRatio, r.powerWatts])).toEqual([
      [100_000, 'dgx', 0.5, undefined],
      [101_000, 'dgx', undefined, 300.5],
    ])
  })

  it.each([
    { name: 'an error envelope', body: { status: 'error', errorType: 'bad_data', error: 'parse error' }, error: /bad_data: parse error/ },
    { name: 'a scalar result', body: { status: 'success', data: { resultType: 'scalar', result: [1, '1'] } }, error: /scalar, not a vector/ },
    { name: 'a body of another shape', body: { hello: 'world' }, error: /not a query result/ },
  ])('rejects $name', ({ body, error }) => {
    expect(() => parsePromQueryResponse(body)).toThrow(error)
  })

  it('falls back to a relabelled node label, then the target host, when the exporter labels no host', () => {
    expect(nodeFromTargetLabels({ node: 'dgx-7', instance: '10.0.0.1:9400' })).toBe('dgx-7')
    expect(nodeFromTargetLabels({ instance: '10.0.0.1:9400' })).toBe('10.0.0.1')
    expect(nodeFromTargetLabels({ instance: '[::1]:9400' })).toBe('::1')
  })

  it('queries every mapped DCGM metric in one selector, as a range when a look-back is given', () => {
    expect(dcgmQuery()).toMatch(/^\{__name__=~"DCGM_FI_PROF_GR_ENGINE_ACTIVE\|.*DCGM_FI_DEV_GPU_UTIL\|.*DCGM_FI_DEV_GPU_TEMP"\}$/)
    expect(dcgmQuery(29.2)).toMatch(/\}\[30s\]$/)
  })
})

describe('SeenSamples', () => {
  const row = (uuid: string, tsMs: number, migInstance?: number) => ({
    tsMs, cluster: 'c', node: 'n', gpuUuid: uuid, gpuIndex: 0, model: '', migProfile: '', migInstance, namespace: '', pod: '', container: '',
  })

  it('passes each scrape of a GPU once across overlapping windows, MIG instances apart', () => {
    const seen = new SeenSamples(60_000)
    expect(seen.fresh([row('a', 1000), row('a', 2000), row('a', 2000, 1)]).map((r) => [r.tsMs, r.migInstance])).toEqual([[1000, undefined], [2000, undefined], [2000, 1]])
    expect(seen.fresh([row('a', 2000), row('a', 3000), row('a', 2000, 1)]).map((r) => r.tsMs)).toEqual([3000])
  })

  it('forgets GPUs not seen for longer than its window, so its memory stays bounded', () => {
    const seen = new SeenSamples(10_000)
    seen.fresh([row('old', 1000)])
    seen.fresh([row('new', 100_000)])
    // 'old' was pruned: the same sample would pass again (it can only come back after a restart-sized gap).
    expect(seen.fresh([row('old', 1000)])).toHaveLength(1)
  })
})
