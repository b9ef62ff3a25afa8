import type { DcgmConfig, DcgmTarget } from '../../config/dcgm'
import type { CollectorDeps, Source } from '../source'
import { exporterSource } from './exporter'
import { prometheusSource } from './prometheus'

/**
 * The dcgm-exporter sources: one `dcgm/<cluster>` poll source per cluster of
 * static targets (its exporters scraped concurrently), and one
 * `dcgm-prometheus/<cluster>` source when a Prometheus is configured.
 */
export function dcgmSources(config: DcgmConfig, deps: CollectorDeps): Source[] {
  const byCluster = new Map<string, DcgmTarget[]>()
  for (const target of config.targets) {
    const list = byCluster.get(target.cluster)
    if (list) list.push(target)
    else byCluster.set(target.cluster, [target])
  }
  const sources: Source[] = [...byCluster].map(([cluster, targets]) => exporterSource(cluster, targets, config, deps))
  if (config.prometheus) sources.push(prometheusSource(config.prometheus, config, deps))
  return sources
}
