import type { JupyterConfig } from '../../config/jupyter'
import type { CollectorDeps, NotebookDirectory, Source } from '../source'
import { jupyterSource } from './poll'

export { notebookVerdict, type KernelActivity, type NotebookVerdict } from './verdict'
export { pollNotebooks } from './poll'

/** The Jupyter kernel-activity source (one `jupyter` poll over every running notebook), or none when disabled. */
export function jupyterSources(config: JupyterConfig, notebooks: NotebookDirectory, deps: CollectorDeps): Source[] {
  if (!config.enabled) return []
  return [jupyterSource(config, notebooks, deps)]
}
