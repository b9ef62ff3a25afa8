import { describe, expect, it } from 'vitest'
import { dcgmSchema } from '../../config/dcgm'
import { endpointsQuery } from './discovery'
import { targetsFromEndpoints, targetsFromEndpointSlices, type EndpointSlice, type Endpoints } from './endpoints'
import { LiveTargets } from './liveTargets'

const spec = { port: 'gpu-metrics' as string | number, scheme: 'http' as const, path: '/metrics' }
const pod = (name: string) => ({ kind: 'Pod', namespace: 'gpu-operator', name })
const slice = (name: string, endpoints: NonNullable<EndpointSlice['endpoints']>, ports: EndpointSlice['ports'] = [{ name: 'gpu-metrics', port: 9400, protocol: 'TCP' }]): EndpointSlice => ({
  metadata: { name, namespace: 'gpu-operator' },
  addressType: 'IPv4',
  endpoints,
  ports,
})

describe('targets from EndpointSlices', () => {
  it.each([
    {
      name: 'a ready endpoint: its first address, the named port, its node and pod',
      slices: [slice('a', [{ addresses: ['10.0.0.5', '10.0.0.6'], conditions: { ready: true }, nodeName: 'dgx-1', targetRef: pod('dcgm-x1') }])],
      want: [{ url: 'http://10.0.0.5:9400/metrics', node: 'dgx-1', pod: 'dcgm-x1' }],
    },
    {
      name: 'ready unset (unknown), which the API says to treat as ready',
      slices: [slice('a', [{ addresses: ['10.0.0.5'], nodeName: 'dgx-1' }])],
      want: [{ url: 'http://10.0.0.5:9400/metrics', node: 'dgx-1', pod: '' }],
    },
    {
      name: 'a not-ready or terminating endpoint: nothing',
      slices: [slice('a', [{ addresses: ['10.0.0.5'], conditions: { ready: false, serving: true, terminating: true }, nodeName: 'dgx-1' }])],
      want: [],
    },
    {
      name: 'the same address in two slices: one target (the first slice wins)',
      slices: [
        slice('a', [{ addresses: ['10.0.0.5'], nodeName: 'dgx-1', targetRef: pod('p1') }]),
        slice('b', [{ addresses: ['10.0.0.5'], nodeName: 'dgx-1-old', targetRef: pod('p1') }, { addresses: ['10.0.0.4'], nodeName: 'dgx-0' }]),
      ],
      want: [
        { url: 'http://10.0.0.4:9400/metrics', node: 'dgx-0', pod: '' },
        { url: 'http://10.0.0.5:9400/metrics', node: 'dgx-1', pod: 'p1' },
      ],
    },
    {
      name: 'an IPv6 slice: the address in brackets',
      slices: [{ ...slice('a', [{ addresses: ['fd00::5'], nodeName: 'dgx-1' }]), addressType: 'IPv6' }],
      want: [{ url: 'http://[fd00::5]:9400/metrics', node: 'dgx-1', pod: '' }],
    },
    {
      name: 'a slice whose port of that name is UDP, or whose endpoints are null: nothing',
      slices: [slice('a', [{ addresses: ['10.0.0.5'] }], [{ name: 'gpu-metrics', port: 9400, protocol: 'UDP' }]), { ...slice('b', []), endpoints: null }],
      want: [],
    },
  ])('$name', ({ slices, want }) => {
    expect(targetsFromEndpointSlices(slices, spec).targets).toEqual(want)
  })

  it('uses a numeric port as is, with the configured scheme and path', () => {
    const got = targetsFromEndpointSlices([slice('a', [{ addresses: ['10.0.0.5'], nodeName: 'n' }], [{ name: 'other', port: 1 }])], { port: 9500, scheme: 'https', path: '/dcgm/metrics' })
    expect(got.targets.map((t) => t.url)).toEqual(['https://10.0.0.5:9500/dcgm/metrics'])
  })

  it('names the slices that lack the configured port (they yield no target)', () => {
    const got = targetsFromEndpointSlices([slice('a', [{ addresses: ['10.0.0.5'] }], [{ name: 'metrics', port: 9400 }])], spec)
    expect(got).toEqual({ targets: [], missingPort: ['EndpointSlice gpu-operator/a'] })
  })
})

describe('targets from core/v1 Endpoints', () => {
  it('takes ready addresses of subsets with the port, never notReadyAddresses', () => {
    const endpoints: Endpoints = {
      metadata: { name: 'nvidia-dcgm-exporter', namespace: 'gpu-operator' },
      subsets: [
        {
          addresses: [{ ip: '10.0.0.7', nodeName: 'dgx-2', targetRef: pod('dcgm-b') }],
          notReadyAddresses: [{ ip: '10.0.0.8', nodeName: 'dgx-3', targetRef: pod('dcgm-c') }],
          ports: [{ name: 'gpu-metrics', port: 9400, protocol: 'TCP' }],
        },
        { addresses: [{ ip: '10.0.0.9' }], ports: [{ name: 'metrics', port: 8080 }] },
      ],
    }
    expect(targetsFromEndpoints([endpoints], spec)).toEqual({
      targets: [{ url: 'http://10.0.0.7:9400/metrics', node: 'dgx-2', pod: 'dcgm-b' }],
      missingPort: ['Endpoints gpu-operator/nvidia-dcgm-exporter'],
    })
  })
})

describe('the live target list of a cluster', () => {
  it('keeps static targets first, adds discovered ones not already listed, and follows removals in the same array', () => {
    const live = new LiveTargets('lab', [{ cluster: 'lab', url: 'http://10.0.0.5:9400/metrics', node: 'static' }])
    const held = live.list
    live.update([
      { url: 'http://10.0.0.5:9400/metrics', node: 'dgx-1', pod: 'p1' },
      { url: 'http://10.0.0.6:9400/metrics', node: 'dgx-2', pod: 'p2' },
    ])
    expect(held).toEqual([
      { cluster: 'lab', url: 'http://10.0.0.5:9400/metrics', node: 'static' },
      { cluster: 'lab', url: 'http://10.0.0.6:9400/metrics', node: 'dgx-2' },
    ])
    live.update([])
    expect(held).toEqual([{ cluster: 'lab', url: 'http://10.0.0.5:9400/metrics', node: 'static' }])
  })
})

describe('dcgm discovery config', () => {
  const issues = (input: unknown) => {
    const r = dcgmSchema.safeParse(input)
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
  }

  it('fills a Kubernetes discovery with the GPU operator defaults', () => {
    expect(dcgmSchema.parse({ discovery: { kubernetes: [{ cluster: 'dgx' }] } }).discovery).toEqual({
      kubernetes: [{ cluster: 'dgx', namespace: 'gpu-operator', service: 'nvidia-dcgm-exporter', port: 'gpu-metrics', scheme: 'http', path: '/metrics' }],
    })
  })

  it.each([
    { name: 'a port name that is not an IANA service name', input: { cluster: 'a', port: 'GPU_METRICS' }, want: /discovery\.kubernetes\.0\.port/ },
    { name: 'a port number out of range', input: { cluster: 'a', port: 70_000 }, want: /discovery\.kubernetes\.0\.port/ },
    { name: 'a path without a leading slash', input: { cluster: 'a', path: 'metrics' }, want: /discovery\.kubernetes\.0\.path: must start with \// },
    { name: 'a scheme other than http(s)', input: { cluster: 'a', scheme: 'ftp' }, want: /discovery\.kubernetes\.0\.scheme/ },
    { name: 'an unknown key', input: { cluster: 'a', refreshMs: 1000 }, want: /discovery\.kubernetes\.0: Unrecognized key.*refreshMs/ },
  ])('rejects $name, naming the field', ({ input, want }) => {
    expect(issues({ discovery: { kubernetes: [input] } }).join('\n')).toMatch(want)
  })

  it('rejects the same Service twice in a cluster', () => {
    expect(issues({ discovery: { kubernetes: [{ cluster: 'a' }, { cluster: 'a' }] } }).join('\n')).toMatch(
      /discovery\.kubernetes\.1\.service: service gpu-operator\/nvidia-dcgm-exporter of cluster 'a' is listed twice/,
    )
  })

  it('selects the Service by label for EndpointSlices and by name for Endpoints', () => {
    const s = { namespace: 'gpu-operator', service: 'nvidia-dcgm-exporter' }
    expect(endpointsQuery(s, 'endpointslices')).toEqual({
      path: '/apis/discovery.k8s.io/v1/namespaces/gpu-operator/endpointslices',
      query: { labelSelector: 'kubernetes.io/service-name=nvidia-dcgm-exporter' },
    })
    expect(endpointsQuery(s, 'endpoints')).toEqual({ path: '/api/v1/namespaces/gpu-operator/endpoints', query: { fieldSelector: 'metadata.name=nvidia-dcgm-exporter' } })
  })
})
