/**
 * Pure mapping from a Service's EndpointSlices (discovery.k8s.io/v1) or
 * Endpoints (core/v1) to dcgm-exporter scrape targets: one target per ready
 * endpoint address, `<scheme>://<ip>:<port><path>`, carrying the endpoint's
 * node and pod so GPUs map to nodes whatever the exporter's Hostname label says.
 */
import type { DcgmKubernetesDiscovery } from '../../config/dcgm'
import type { KubeObject } from '../kubernetes/types'

/** A reference from an endpoint to the object behind it (the exporter pod). */
export interface EndpointTargetRef {
  kind?: string
  name?: string
  namespace?: string
}

/** A port of an EndpointSlice or an Endpoints subset. */
export interface EndpointPort {
  name?: string
  port?: number
  protocol?: string
}

/** A discovery.k8s.io/v1 EndpointSlice, as far as discovery reads it. */
export interface EndpointSlice extends KubeObject {
  addressType?: string
  endpoints?: Array<{
    addresses?: string[]
    /** `ready` unset means unknown, which the API says to treat as ready. */
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean }
    nodeName?: string
    targetRef?: EndpointTargetRef
  }> | null
  ports?: EndpointPort[] | null
}

/** One address of a core/v1 Endpoints subset. */
export interface EndpointAddress {
  ip?: string
  nodeName?: string
  targetRef?: EndpointTargetRef
}

/** A core/v1 Endpoints object: ready addresses, not-ready ones, and ports, per subset. */
export interface Endpoints extends KubeObject {
  subsets?: Array<{ addresses?: EndpointAddress[]; notReadyAddresses?: EndpointAddress[]; ports?: EndpointPort[] }> | null
}

/** One exporter endpoint found in the cluster. */
export interface DiscoveredTarget {
  url: string
  /** The endpoint's nodeName ('' when the API gave none). */
  node: string
  /** The exporter pod's name ('' when the endpoint has no Pod targetRef): dcgm-exporter's Hostname label when it runs without NODE_NAME. */
  pod: string
}

/** What a set of endpoints yields: targets (deduplicated by URL, sorted) and why some endpoints yield none. */
export interface DiscoveryResult {
  targets: DiscoveredTarget[]
  /** Objects whose ports do not include the configured port name. */
  missingPort: string[]
}

type Spec = Pick<DcgmKubernetesDiscovery, 'port' | 'scheme' | 'path'>

/** The port to scrape from a port list: the configured number as is, else the port of that name (undefined when absent). */
function resolvePort(ports: readonly EndpointPort[] | null | undefined, port: string | number): number | undefined {
  if (typeof port === 'number') return port
  return (ports ?? []).find((p) => p.name === port && (p.protocol ?? 'TCP') === 'TCP')?.port
}

/** `host` as it goes into a URL authority: IPv6 addresses in brackets. */
function hostOf(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address
}

function targetOf(spec: Spec, address: string, port: number, node: string | undefined, ref: EndpointTargetRef | undefined): DiscoveredTarget {
  return { url: `${spec.scheme}://${hostOf(address)}:${port}${spec.path}`, node: node ?? '', pod: ref?.kind === 'Pod' ? (ref.name ?? '') : '' }
}

function collect(found: DiscoveredTarget[], missingPort: string[]): DiscoveryResult {
  const byUrl = new Map<string, DiscoveredTarget>()
  // An address can sit in two slices while the controller moves it; the first one seen (in object order) wins.
  for (const t of found) if (!byUrl.has(t.url)) byUrl.set(t.url, t)
  return { targets: [...byUrl.values()].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0)), missingPort }
}

/**
 * Targets from EndpointSlices: every endpoint whose `ready` condition is not
 * false, at its first address (the API calls an endpoint's addresses
 * fungible). Endpoints not ready (starting, failing probes, terminating) are
 * not scraped.
 */
export function targetsFromEndpointSlices(slices: readonly EndpointSlice[], spec: Spec): DiscoveryResult {
  const found: DiscoveredTarget[] = []
  const missingPort: string[] = []
  for (const slice of slices) {
    const endpoints = slice.endpoints ?? []
    if (endpoints.length === 0) continue
    const port = resolvePort(slice.ports, spec.port)
    if (port === undefined) {
      missingPort.push(`EndpointSlice ${slice.metadata.namespace ?? ''}/${slice.metadata.name}`)
      continue
    }
    for (const ep of endpoints) {
      const address = ep.addresses?.[0]
      if (!address || ep.conditions?.ready === false) continue
      found.push(targetOf(spec, address, port, ep.nodeName, ep.targetRef))
    }
  }
  return collect(found, missingPort)
}

/** Targets from core/v1 Endpoints: the ready `addresses` of every subset that has the port; `notReadyAddresses` are not scraped. */
export function targetsFromEndpoints(objects: readonly Endpoints[], spec: Spec): DiscoveryResult {
  const found: DiscoveredTarget[] = []
  const missingPort: string[] = []
  for (const obj of objects) {
    for (const subset of obj.subsets ?? []) {
      const addresses = subset.addresses ?? []
      if (addresses.length === 0) continue
      const port = resolvePort(subset.ports, spec.port)
      if (port === undefined) {
        missingPort.push(`Endpoints ${obj.metadata.namespace ?? ''}/${obj.metadata.name}`)
        continue
      }
      for (const a of addresses) if (a.ip) found.push(targetOf(spec, a.ip, port, a.nodeName, a.targetRef))
    }
  }
  return collect(found, missingPort)
}
