import type { AwsConfig, StaticPrice } from '../../config/cloud'
import type { CollectorDeps, Source } from '../source'
import { ec2RegionSource } from './ec2'
import { staticPricesSource } from './prices'

export { gpuTypeOf, type GpuType } from './instanceTypes'
export { builtInAwsOnDemandPrices, staticPriceRow } from './prices'

/**
 * The cloud sources: `aws/<region>` per configured region when AWS is
 * enabled, and `prices/static` whenever static prices are configured (on-prem
 * prices matter without any cloud), on the AWS interval.
 */
export function awsSources(config: AwsConfig, prices: readonly StaticPrice[], deps: CollectorDeps): Source[] {
  const sources: Source[] = []
  if (config.enabled) for (const region of config.regions) sources.push(ec2RegionSource(config, region, prices, deps))
  if (prices.length > 0) sources.push(staticPricesSource(prices, config, deps))
  return sources
}
