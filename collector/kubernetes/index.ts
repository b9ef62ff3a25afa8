import type { KubernetesConfig } from '../../config/kubernetes'
import type { CollectorDeps, NotebookTarget, Source } from '../source'

/** The Kubernetes sources (one list+watch stream per cluster) and the notebooks they currently see. */
export function kubernetesSources(_config: KubernetesConfig, _deps: CollectorDeps): { sources: Source[]; notebooks: () => NotebookTarget[] } {
  // SCAFFOLD: replaced by the Kubernetes collector (issue 3).
  return { sources: [], notebooks: () => [] }
}
