import type { KubernetesConfig } from '../../config/kubernetes'
import type { CollectorDeps, NotebookTarget, Source } from '../source'
import { KubernetesClusterSource } from './cluster'

export { KubernetesClusterSource } from './cluster'

/** The Kubernetes sources (one list+watch stream per cluster) and the notebooks they currently see. */
export function kubernetesSources(config: KubernetesConfig, deps: CollectorDeps): { sources: Source[]; notebooks: () => NotebookTarget[] } {
  const clusters = config.clusters.map((cluster) => new KubernetesClusterSource(cluster, config, deps))
  return { sources: clusters, notebooks: () => clusters.flatMap((c) => c.notebooks()) }
}
