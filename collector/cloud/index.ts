import type { AwsConfig, StaticPrice } from '../../config/cloud'
import type { CollectorDeps, Source } from '../source'

/** The cloud sources: AWS EC2 per region, and the static price table. */
export function awsSources(_config: AwsConfig, _prices: readonly StaticPrice[], _deps: CollectorDeps): Source[] {
  // SCAFFOLD: replaced by the AWS collector (issue 3).
  return []
}
