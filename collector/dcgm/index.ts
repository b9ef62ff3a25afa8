import type { DcgmConfig, DcgmKubernetesDiscovery, DcgmTarget } from '../../config/dcgm'
import type { KubernetesConfig } from '../../config/kubernetes'
import { ConfigError, type ConfigIssue } from '../../core/errors'
import { sleep } from '../kubernetes/backoff'
import type { CollectorDeps, PollSource, Source } from '../source'
import { ExporterDiscovery, type ConnectKubeFn } from './discovery'
import { exporterSource } from './exporter'
import { LiveTargets } from './liveTargets'
import { prometheusSource } from './prometheus'

/**
 * The dcgm-exporter sources: one `dcgm/<cluster>` poll source per cluster of
 * static or discovered targets (its exporters scraped concurrently), one
 * `dcgm-discovery/<cluster>/<namespace>/<service>` stream source per
 * Kubernetes discovery, and one `dcgm-prometheus/<cluster>` source when a
 * Prometheus is configured. Discovery needs `kubernetes` (the collector's
 * Kubernetes settings, whose clusters give the API credentials).
 */
export function dcgmSources(config: DcgmConfig, deps: CollectorDeps, kubernetes?: KubernetesConfig, connect?: ConnectKubeFn): Source[] {
  const statics = groupBy(config.targets, (t) => t.cluster)
  const discoveries = groupBy(config.discovery?.kubernetes ?? [], (d) => d.cluster)
  checkClusters(config.discovery?.kubernetes ?? [], kubernetes)
  const sources: Source[] = []
  for (const cluster of new Set([...statics.keys(), ...discoveries.keys()])) {
    const targets = statics.get(cluster) ?? []
    const specs = discoveries.get(cluster)
    if (!specs || !kubernetes) {
      sources.push(exporterSource(cluster, targets, config, deps))
      continue
    }
    sources.push(...discoveredCluster(cluster, targets, specs, config, deps, kubernetes, connect))
  }
  if (config.prometheus) sources.push(prometheusSource(config.prometheus, config, deps))
  return sources
}

/** A cluster with discovery: its poll source scrapes a live target list that every discovery of the cluster updates. */
function discoveredCluster(
  cluster: string,
  statics: readonly DcgmTarget[],
  specs: readonly DcgmKubernetesDiscovery[],
  config: DcgmConfig,
  deps: CollectorDeps,
  kubernetes: KubernetesConfig,
  connect: ConnectKubeFn | undefined,
): Source[] {
  const live = new LiveTargets(cluster, statics)
  const clusterConfig = kubernetes.clusters.find((c) => c.name === cluster)
  if (!clusterConfig) throw new Error(`unreachable: cluster '${cluster}' was checked`)
  const finders: ExporterDiscovery[] = []
  const changed = () => live.update(finders.flatMap((f) => f.targets()))
  for (const spec of specs) finders.push(new ExporterDiscovery(spec, clusterConfig, kubernetes, deps, changed, connect))
  const sinks = { ...deps.sinks, gpuSamples: live.nodeMappingSink(deps.sinks.gpuSamples) }
  const scrape = exporterSource(cluster, live.list, config, { ...deps, sinks })
  return [firstPollAfterDiscovery(scrape, finders, config.timeoutMs), ...finders]
}

/**
 * The first poll waits (up to timeoutMs) for every discovery's first list,
 * so a fresh start does not report an empty scrape of a cluster whose
 * exporters are about to be found; later polls never wait.
 */
function firstPollAfterDiscovery(source: PollSource, finders: readonly ExporterDiscovery[], waitMs: number): PollSource {
  let waited = false
  return {
    ...source,
    async poll(nowMs, signal) {
      if (!waited) {
        waited = true
        const bound = new AbortController()
        const stop = () => bound.abort()
        signal.addEventListener('abort', stop, { once: true })
        await Promise.race([Promise.all(finders.map((f) => f.synced)), sleep(waitMs, bound.signal)])
        bound.abort()
        signal.removeEventListener('abort', stop)
      }
      return source.poll(nowMs, signal)
    },
  }
}

/** Every discovery must name a configured Kubernetes cluster (config/schema.ts checks it too; this covers callers that skip it). */
function checkClusters(specs: readonly DcgmKubernetesDiscovery[], kubernetes: KubernetesConfig | undefined): void {
  const known = new Set(kubernetes?.clusters.map((c) => c.name) ?? [])
  const issues: ConfigIssue[] = specs.flatMap((d, i) =>
    known.has(d.cluster)
      ? []
      : [{ path: `collector.dcgm.discovery.kubernetes.${i}.cluster`, message: `no collector.kubernetes cluster named '${d.cluster}' (its API credentials are needed)` }],
  )
  if (issues.length > 0) throw new ConfigError(issues)
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>()
  for (const item of items) {
    const list = out.get(key(item))
    if (list) list.push(item)
    else out.set(key(item), [item])
  }
  return out
}
