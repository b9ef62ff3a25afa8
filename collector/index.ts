import type { Config } from '../config/schema'
import { awsSources } from './cloud'
import { dcgmSources } from './dcgm'
import { jupyterSources } from './jupyter'
import { kubernetesSources } from './kubernetes'
import type { CollectorDeps, NotebookDirectory, Source } from './source'

/**
 * Builds every configured collector source. The Kubernetes sources come first
 * because the Jupyter source polls the notebooks they see.
 */
export function buildSources(config: Config, deps: CollectorDeps): Source[] {
  const k8s = kubernetesSources(config.collector.kubernetes, deps)
  const notebooks: NotebookDirectory = () => k8s.notebooks()
  return [
    ...k8s.sources,
    ...dcgmSources(config.collector.dcgm, deps, config.collector.kubernetes),
    ...jupyterSources(config.collector.jupyter, notebooks, deps),
    ...awsSources(config.collector.aws, config.prices, deps),
  ]
}
