import type { DcgmConfig } from '../../config/dcgm'
import type { CollectorDeps, Source } from '../source'

/** The dcgm-exporter sources: one per static target group and one for a Prometheus. */
export function dcgmSources(_config: DcgmConfig, _deps: CollectorDeps): Source[] {
  // SCAFFOLD: replaced by the dcgm collector (issue 3).
  return []
}
