import type { JupyterConfig } from '../../config/jupyter'
import type { CollectorDeps, NotebookDirectory, Source } from '../source'

/** The Jupyter kernel-activity source. */
export function jupyterSources(_config: JupyterConfig, _notebooks: NotebookDirectory, _deps: CollectorDeps): Source[] {
  // SCAFFOLD: replaced by the Jupyter collector (issue 3).
  return []
}
