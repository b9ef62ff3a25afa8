/**
 * What the scheduler config generators share: picking the burst pools to
 * generate for, ordering each pool's cloud targets (spot before on-demand,
 * config order within a lifecycle), ranking them into fleet-wide tiers, naming
 * node sets, quotas, and the checks that turn a bad name into a clear
 * InputError before any object is built. Pure: config in, plain values out.
 */
import type { AdmissionConfig, BurstConfig, BurstPoolConfig, BurstTargetConfig } from '../../../config/alerts'
import { InputError } from '../../../core/errors'

/** Label set on every generated object so an operator can find (and prune) them. */
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'gpuscope' } as const
/** Annotation naming the burst pool (`cluster/pool`) an object was generated from. */
export const POOL_ANNOTATION = 'gpuscope.io/burst-pool'
/** The node label Karpenter sets to `spot` or `on-demand`. */
export const KARPENTER_CAPACITY_TYPE = 'karpenter.sh/capacity-type'

/** The pool taint burst nodes carry and the toleration that lets a pod onto them (config alerts.admission.toleration). */
export type BurstToleration = AdmissionConfig['toleration']

/** A plain Kubernetes object as generated. */
export type KubeObject = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<string, unknown>

/** Generated objects with the notes an operator should read before applying them. */
export interface Generated {
  cluster: string
  objects: KubeObject[]
  notes: string[]
}

/** Options every generator takes; the CLI fills them from flags and config. */
export interface CommonOptions {
  /** Only pools of this cluster; required when the burst pools span several clusters. */
  cluster?: string | undefined
  /** Only this on-prem pool. */
  pool?: string | undefined
  /** Node label key whose value is the pool name (config alerts.admission.poolLabel by default). */
  poolLabel: string
  /** Extended resource the quotas and limits count (`nvidia.com/gpu`). */
  gpuResource: string
  /** Node label holding `spot` / `on-demand` on cloud nodes; empty = the pool label alone tells node sets apart. */
  capacityTypeLabel: string
  /** Taint of the burst nodes / toleration of burst pods; undefined = burst nodes are not tainted. */
  burstToleration?: BurstToleration | undefined
}

/** One cloud target in its generated order, with its fleet-wide preference tier (0 = tried first). */
export interface OrderedTarget {
  target: BurstTargetConfig
  tier: number
  /** Name of the node set (Kueue flavor, Karpenter NodePool): pool label value plus lifecycle. */
  nodeSet: string
  /** GPUs this target may hold: maxNodes × gpusPerNode, capped by the pool's maxBurstGpus. */
  quotaGpus: number
}

/** One burst pool and its targets in generated order. */
export interface PlannedPool {
  policy: BurstPoolConfig
  targets: OrderedTarget[]
}

/** The pools to generate for and what the operator should know about them. */
export interface Plan {
  cluster: string
  pools: PlannedPool[]
  /** Tiers in use (targets share a tier when they hold the same place in different pools). */
  tierCount: number
  notes: string[]
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** A Kubernetes object name (DNS label, at most 63 characters) made from a pool or target name; throws when nothing usable is left. */
export function objectName(raw: string): string {
  const name = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '')
  if (!DNS_LABEL.test(name)) throw new InputError(`cannot make a Kubernetes object name from '${raw}': use letters, digits and '-'`)
  return name
}

/** Returns `name` when it is already a valid object name (DNS label); a name the operator typed is not silently rewritten. */
export function checkObjectName(name: string, what: string): string {
  if (name.length > 63 || !DNS_LABEL.test(name)) throw new InputError(`${what} '${name}' is not a valid Kubernetes name (lower-case letters, digits and '-', at most 63)`)
  return name
}

/** Throws unless `key` is a valid Kubernetes label key (optional DNS-subdomain prefix, then a name of at most 63 characters). */
export function checkLabelKey(key: string, what: string): void {
  const slash = key.lastIndexOf('/')
  const prefix = slash < 0 ? '' : key.slice(0, slash)
  const name = key.slice(slash + 1)
  const ok = name.length <= 63 && LABEL_NAME.test(name) && (slash < 0 || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)))
  if (!ok) throw new InputError(`${what} '${key}' is not a valid Kubernetes label key`)
}

/** Throws unless `value` is a valid Kubernetes label value (at most 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends). */
export function checkLabelValue(value: string, what: string): void {
  if (value.length > 63 || !LABEL_VALUE.test(value)) throw new InputError(`${what} '${value}' is not a valid Kubernetes label value (at most 63 of A-Z a-z 0-9 - _ ., alphanumeric at both ends)`)
}

/** The pools to generate for: all of one cluster, or one pool. Throws a clear InputError when there is nothing (or no unique cluster) to generate from. */
export function selectPools(burst: BurstConfig, opts: Pick<CommonOptions, 'cluster' | 'pool'>): { cluster: string; pools: BurstPoolConfig[] } {
  const all = burst.pools
  if (all.length === 0) throw new InputError('no burst pools are configured (alerts.burst.pools is empty): there is nothing to generate scheduler configs from')
  const known = all.map((p) => `${p.cluster}/${p.pool}`).join(', ')
  let pools = all
  if (opts.cluster !== undefined) {
    pools = pools.filter((p) => p.cluster === opts.cluster)
    if (pools.length === 0) throw new InputError(`no burst pool in cluster '${opts.cluster}' (configured: ${known})`)
  }
  if (opts.pool !== undefined) {
    pools = pools.filter((p) => p.pool === opts.pool)
    if (pools.length === 0) throw new InputError(`unknown burst pool '${opts.pool}'${opts.cluster !== undefined ? ` in cluster '${opts.cluster}'` : ''} (configured: ${known})`)
  }
  const clusters = [...new Set(pools.map((p) => p.cluster))]
  if (clusters.length > 1) throw new InputError(`the burst pools span clusters ${clusters.join(', ')}: pass --cluster (each cluster gets its own objects)`)
  return { cluster: clusters[0] as string, pools }
}

/** A pool's targets with every spot target ahead of every on-demand one, config order kept within each lifecycle. */
export function orderTargets(p: BurstPoolConfig): BurstTargetConfig[] {
  return [...p.targets.filter((t) => t.lifecycle === 'spot'), ...p.targets.filter((t) => t.lifecycle === 'on-demand')]
}

/** Node set name of a target: the pool label value, plus the lifecycle when a capacity-type label tells spot and on-demand nodes apart. */
export function nodeSetName(t: BurstTargetConfig, capacityTypeLabel: string): string {
  return objectName(capacityTypeLabel ? `${t.pool}-${t.lifecycle}` : t.pool)
}

/** GPUs a target may hold: its maxNodes × gpusPerNode, capped by the pool's maxBurstGpus. */
export const targetQuotaGpus = (p: BurstPoolConfig, t: BurstTargetConfig): number => Math.min(t.maxNodes * t.gpusPerNode, p.maxBurstGpus)

/**
 * Orders and ranks the selected pools' targets. Tiers are fleet-wide: every
 * spot place comes before every on-demand place, so a pool's second spot
 * target still ranks above any pool's first on-demand target.
 */
export function planPools(burst: BurstConfig, opts: CommonOptions): Plan {
  checkLabelKey(opts.poolLabel, 'pool label')
  if (opts.capacityTypeLabel) checkLabelKey(opts.capacityTypeLabel, 'capacity-type label')
  const { cluster, pools } = selectPools(burst, opts)
  const notes: string[] = []
  const maxSpot = Math.max(...pools.map((p) => p.targets.filter((t) => t.lifecycle === 'spot').length))
  const planned = pools.map((policy): PlannedPool => {
    checkLabelValue(policy.pool, `pool '${policy.pool}'`)
    const ordered = orderTargets(policy)
    if (ordered.some((t, i) => t !== policy.targets[i])) {
      notes.push(`pool ${policy.cluster}/${policy.pool}: the config lists an on-demand target before a spot one; the generated configs try ${ordered.map((t) => t.name).join(', ')} in that order (the burst controller keeps the config order)`)
    }
    let spotSeen = 0
    let onDemandSeen = 0
    const targets = ordered.map((target): OrderedTarget => {
      checkLabelValue(target.pool, `pool label value of target '${target.name}'`)
      const tier = target.lifecycle === 'spot' ? spotSeen++ : maxSpot + onDemandSeen++
      return { target, tier, nodeSet: nodeSetName(target, opts.capacityTypeLabel), quotaGpus: targetQuotaGpus(policy, target) }
    })
    const byNodeSet = new Map<string, string>()
    for (const t of targets) {
      const other = byNodeSet.get(t.nodeSet)
      if (other !== undefined) throw new InputError(`targets '${other}' and '${t.target.name}' of pool ${policy.cluster}/${policy.pool} select the same nodes (${t.nodeSet}): give them distinct pool label values${opts.capacityTypeLabel ? '' : ' or set a capacity-type label'}`)
      byNodeSet.set(t.nodeSet, t.target.name)
    }
    if (byNodeSet.has(objectName(policy.pool))) throw new InputError(`pool ${policy.cluster}/${policy.pool}: a cloud target's node set has the on-prem pool's name '${objectName(policy.pool)}'`)
    return { policy, targets }
  })
  const tierCount = Math.max(0, ...planned.flatMap((p) => p.targets.map((t) => t.tier + 1)))
  return { cluster, pools: planned, tierCount, notes }
}

/**
 * Distinct descending preference values for tiers 0..count-1 between `top` and
 * `bottom` (inclusive): steps of 10 when they fit, else the widest step that does.
 */
export function tierValues(count: number, top: number, bottom: number): number[] {
  if (count > top - bottom + 1) throw new InputError(`${count} target tiers do not fit between ${bottom} and ${top}`)
  const step = Math.min(10, Math.floor((top - bottom) / Math.max(1, count - 1)))
  return Array.from({ length: count }, (_, i) => top - i * step)
}

/** A GPU count as a Kubernetes quantity: an integer stays a number, a fraction becomes a decimal string. */
export const gpuQuantity = (gpus: number): number | string => (Number.isInteger(gpus) ? gpus : String(Number(gpus.toFixed(6))))

const QUANTITY = /^(\d+(?:\.\d+)?)([KMGTPE]i|[mkMGTPE])?$/

/** `perGpu` × gpus as a Kubernetes quantity with the same suffix (`16` × 8 = `128`, `128Gi` × 8 = `1024Gi`); throws on a malformed quantity. */
export function scaleQuantity(perGpu: string, gpus: number, what: string): string {
  const m = QUANTITY.exec(perGpu.trim())
  if (!m) throw new InputError(`${what} '${perGpu}' is not a Kubernetes quantity such as 16, 500m or 128Gi`)
  return `${Number((Number(m[1]) * gpus).toFixed(6))}${m[2] ?? ''}`
}

/** Parses `k=v,k2=v2` into a record; a bare value (no `=`) is returned under `bare` when given, else it is an error. */
export function parsePairs(text: string | undefined, flag: string, bare?: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=')
    if (eq < 0 && bare !== undefined && !(bare in out)) {
      out[bare] = part
      continue
    }
    if (eq <= 0 || eq === part.length - 1) throw new InputError(`bad ${flag} '${part}': expected NAME=VALUE`)
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim()
  }
  return out
}

/** The taint burst nodes carry, from the burst toleration (an Exists toleration matches a taint without a value). */
export function burstTaint(t: BurstToleration): { key: string; value?: string; effect: string } {
  return { key: t.key, ...(t.operator === 'Equal' && t.value !== '' ? { value: t.value } : {}), effect: t.effect }
}

/** The toleration as a Kubernetes toleration object (no value with Exists, as the API requires). */
export function tolerationObject(t: BurstToleration): { key: string; operator: string; value?: string; effect: string } {
  return { key: t.key, operator: t.operator, ...(t.operator === 'Equal' ? { value: t.value } : {}), effect: t.effect }
}

/** Metadata of a generated object from a burst pool. */
export const metadataFor = (name: string, p?: BurstPoolConfig, namespace?: string) => ({
  name,
  ...(namespace !== undefined ? { namespace } : {}),
  labels: { ...MANAGED_BY },
  ...(p ? { annotations: { [POOL_ANNOTATION]: `${p.cluster}/${p.pool}` } } : {}),
})
