import { describe, expect, it } from 'vitest'
import { dcgmSchema } from '../../config/dcgm'
import type { CollectorDeps } from '../source'
import { dcgmSources } from './index'

const issues = (input: unknown) => {
  const r = dcgmSchema.safeParse(input)
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

describe('dcgm config', () => {
  it('defaults to no targets, no Prometheus, 15 s interval and 5 s timeout', () => {
    expect(dcgmSchema.parse({})).toEqual({ intervalMs: 15_000, timeoutMs: 5_000, concurrency: 16, maxPendingRows: 100_000, targets: [] })
  })

  it('fills a Prometheus section with its defaults', () => {
    expect(dcgmSchema.parse({ prometheus: { url: 'http://prom:9090' } }).prometheus).toEqual({
      url: 'http://prom:9090', cluster: 'default', token: '', exporterPodPattern: 'dcgm-exporter',
    })
  })

  it.each([
    { name: 'a timeout longer than the interval', input: { intervalMs: 1000, timeoutMs: 2000 }, want: /timeoutMs: timeoutMs must not exceed intervalMs/ },
    { name: 'an unknown key', input: { targets: [{ cluster: 'a', url: 'http://x:9400/metrics', nodes: 'n' }] }, want: /targets\.0: Unrecognized key.*nodes/ },
    { name: 'a cluster that is not a DNS label', input: { targets: [{ cluster: 'DGX A', url: 'http://x:9400/metrics' }] }, want: /targets\.0\.cluster: must be a DNS label/ },
    { name: 'a non-http url', input: { targets: [{ cluster: 'a', url: 'ftp://x/metrics' }] }, want: /targets\.0\.url/ },
    { name: 'the same target twice in a cluster', input: { targets: [{ cluster: 'a', url: 'http://x:9400/metrics' }, { cluster: 'a', url: 'http://x:9400/metrics' }] }, want: /targets\.1\.url: duplicate target/ },
    { name: 'an exporter pod pattern that does not compile', input: { prometheus: { url: 'http://p:9090', exporterPodPattern: '(' } }, want: /prometheus\.exporterPodPattern: must be a valid regular expression/ },
  ])('rejects $name, naming the field', ({ input, want }) => {
    expect(issues(input).join('\n')).toMatch(want)
  })
})

describe('dcgmSources', () => {
  const deps = {} as CollectorDeps
  it('builds one poll source per cluster of targets, plus one for a Prometheus', () => {
    const config = dcgmSchema.parse({
      targets: [
        { cluster: 'dgx', url: 'http://a:9400/metrics' },
        { cluster: 'eks', url: 'http://b:9400/metrics' },
        { cluster: 'dgx', url: 'http://c:9400/metrics' },
      ],
      prometheus: { url: 'http://prom:9090', cluster: 'eks' },
    })
    const sources = dcgmSources(config, deps)
    expect(sources.map((s) => [s.kind, s.name])).toEqual([['poll', 'dcgm/dgx'], ['poll', 'dcgm/eks'], ['poll', 'dcgm-prometheus/eks']])
    expect(sources.every((s) => s.kind === 'poll' && s.intervalMs === 15_000)).toBe(true)
  })

  it('builds nothing when nothing is configured', () => {
    expect(dcgmSources(dcgmSchema.parse({}), deps)).toEqual([])
  })
})
