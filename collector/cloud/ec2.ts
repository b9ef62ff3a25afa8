import { paginateDescribeInstances, type EC2Client, type Instance } from '@aws-sdk/client-ec2'
import type { AwsConfig, StaticPrice } from '../../config/cloud'
import type { CloudInstance, Price } from '../../core/model'
import type { CollectorDeps, PollResult, PollSource } from '../source'
import { awsSecrets, callAws, collectPages, createEc2Client } from './ec2Client'
import { InstanceTypeCache, listInstanceTypes, type GpuType, type InstanceTypeCatalog } from './instanceTypes'
import { awsOnDemandPrices } from './prices'
import { readSpotPrices, regionSpotPrices } from './spotPrices'

/**
 * A GPU instance as EC2 lists it. `pool` (from the pool tag) and `zone` ride
 * along in the row but are not stored until cloud_instances has columns for them.
 */
export interface Ec2GpuInstance extends CloudInstance {
  pool: string
  zone: string
}

/** Everything one region's poll needs, built once per source. */
interface RegionContext {
  config: AwsConfig
  region: string
  client: EC2Client
  secrets: readonly string[]
  types: InstanceTypeCache
  /** Types still unlisted after a forced listing (no longer offered, yet running): never forced for again; the TTL listing still sees them. */
  unlisted: Set<string>
  staticPrices: readonly StaticPrice[]
  deps: Pick<CollectorDeps, 'sinks' | 'logger'>
}

/** Tag keys that name an instance's cluster and pool. */
export interface TagKeys {
  clusterTag: string
  poolTag: string
}

/**
 * The row for one running instance of a GPU type: lifecycle `spot` when EC2
 * says InstanceLifecycle=spot, else on-demand (capacity blocks and scheduled
 * instances are not spot-priced); the node is the private DNS name, which is
 * the Kubernetes node name on EKS, else the instance id.
 */
export function instanceRow(i: Instance, type: GpuType, region: string, tags: TagKeys, nowMs: number): Ec2GpuInstance {
  const tag = (key: string) => i.Tags?.find((t) => t.Key === key)?.Value ?? ''
  return {
    tsMs: nowMs,
    provider: 'aws',
    region,
    instanceId: i.InstanceId ?? '',
    instanceType: type.instanceType,
    lifecycle: i.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand',
    state: i.State?.Name ?? 'unknown',
    gpus: type.gpus,
    gpuModel: type.gpuModel,
    cluster: tag(tags.clusterTag),
    node: i.PrivateDnsName || i.InstanceId || '',
    pool: tag(tags.poolTag),
    zone: i.Placement?.AvailabilityZone ?? '',
  }
}

/** Lists every running instance of the region (DescribeInstances, all pages). */
async function listRunningInstances(ctx: RegionContext, signal: AbortSignal): Promise<Instance[]> {
  const input = { Filters: [{ Name: 'instance-state-name', Values: ['running'] }] }
  const reservations = await callAws('DescribeInstances', ctx.region, ctx.secrets, signal, () =>
    collectPages(paginateDescribeInstances({ client: ctx.client, pageSize: 1000, stopOnSameToken: true }, input, { abortSignal: signal }), (p) => p.Reservations),
  )
  return reservations.flatMap((r) => r.Instances ?? [])
}

/** The catalog, listed again at once when an instance has a type it does not know (a type launched since). */
async function catalogFor(ctx: RegionContext, instances: readonly Instance[], nowMs: number, signal: AbortSignal, warnings: string[]): Promise<InstanceTypeCatalog> {
  const first = await ctx.types.get(nowMs, signal)
  if (first.warning) warnings.push(first.warning)
  const unknownIn = (c: InstanceTypeCatalog) => new Set(instances.flatMap((i) => (i.InstanceType !== undefined && !c.known.has(i.InstanceType) ? [i.InstanceType] : [])))
  const unknown = unknownIn(first.catalog)
  if ([...unknown].every((t) => ctx.unlisted.has(t))) return first.catalog
  const again = await ctx.types.get(nowMs, signal, true)
  if (again.warning) warnings.push(again.warning)
  for (const t of unknownIn(again.catalog)) ctx.unlisted.add(t)
  return again.catalog
}

/** Spot rows for every GPU type of the region; a failure is a warning (instances are still stored). */
async function spotRows(ctx: RegionContext, catalog: InstanceTypeCatalog, nowMs: number, signal: AbortSignal, warnings: string[]): Promise<Price[]> {
  try {
    const q = { client: ctx.client, region: ctx.region, secrets: ctx.secrets, productDescription: ctx.config.spotProductDescription, nowMs, signal }
    const zones = await readSpotPrices(q, [...catalog.gpu.keys()].sort())
    return regionSpotPrices(zones, ctx.region, catalog.gpu)
  } catch (err) {
    if (signal.aborted) throw err
    warnings.push((err as Error).message)
    return []
  }
}

/** One poll of one region: GPU instances into cloud_instances; spot and built-in on-demand prices into prices. */
async function pollRegion(ctx: RegionContext, nowMs: number, signal: AbortSignal): Promise<PollResult> {
  const warnings: string[] = []
  const instances = await listRunningInstances(ctx, signal)
  const catalog = await catalogFor(ctx, instances, nowMs, signal, warnings)
  const rows: Ec2GpuInstance[] = []
  for (const i of instances) {
    const type = i.InstanceType === undefined ? undefined : catalog.gpu.get(i.InstanceType)
    if (type) rows.push(instanceRow(i, type, ctx.region, ctx.config, nowMs))
  }
  const prices = [...awsOnDemandPrices(ctx.region, ctx.staticPrices), ...(await spotRows(ctx, catalog, nowMs, signal, warnings))]
  ctx.deps.logger.debug({ source: `aws/${ctx.region}`, instances: instances.length, gpuInstances: rows.length, gpuTypes: catalog.gpu.size, prices: prices.length }, 'aws region polled')
  await Promise.all([rows.length > 0 ? ctx.deps.sinks.cloudInstances.write(rows) : undefined, prices.length > 0 ? ctx.deps.sinks.prices.write(prices) : undefined])
  const result: PollResult = { rows: rows.length + prices.length }
  return warnings.length > 0 ? { ...result, warnings: [...new Set(warnings)] } : result
}

/**
 * The `aws/<region>` poll source: running GPU instances with their GPU counts
 * and models (DescribeInstances + a cached DescribeInstanceTypes), the current
 * spot prices of the region's GPU types, and the built-in on-demand prices.
 */
export function ec2RegionSource(config: AwsConfig, region: string, staticPrices: readonly StaticPrice[], deps: Pick<CollectorDeps, 'sinks' | 'logger'>): PollSource {
  const client = createEc2Client(config, region)
  const secrets = awsSecrets(config)
  const types = new InstanceTypeCache((nowMs, signal) => listInstanceTypes(client, region, secrets, nowMs, signal), config.instanceTypesTtlMs)
  const ctx: RegionContext = { config, region, client, secrets, types, unlisted: new Set(), staticPrices, deps }
  return {
    kind: 'poll',
    name: `aws/${region}`,
    intervalMs: config.intervalMs,
    timeoutMs: config.timeoutMs,
    poll: (nowMs, signal) => pollRegion(ctx, nowMs, signal),
  }
}
