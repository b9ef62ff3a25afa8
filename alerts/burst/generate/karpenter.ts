/**
 * Karpenter NodePools (karpenter.sh/v1) from the burst policy: one per cloud
 * target node set, pinned to its capacity type, labelled with the target's
 * pool label value (so gpuscope counts its nodes in that pool) and tainted
 * like every burst node. Karpenter tries NodePools in descending weight, so
 * weights follow the tiers: spot above on-demand, config order within a
 * lifecycle. A NodePool's GPU limit is its target's maxNodes × gpusPerNode,
 * capped by the pool's maxBurstGpus; it consolidates only empty nodes, after
 * the pool's scaleInAfterMs, so running GPU work is never moved.
 */
import type { BurstConfig } from '../../../config/alerts'
import { InputError } from '../../../core/errors'
import { burstTaint, checkLabelValue, gpuQuantity, KARPENTER_CAPACITY_TYPE, metadataFor, planPools, tierValues, type CommonOptions, type Generated, type KubeObject } from './shared'

/** Karpenter API version of the generated NodePools. */
export const KARPENTER_API_VERSION = 'karpenter.sh/v1'
/** Node label Karpenter requirements use for instance types. */
export const INSTANCE_TYPE_LABEL = 'node.kubernetes.io/instance-type'

/** A NodeClass reference (`karpenter.k8s.aws/EC2NodeClass/default`). */
export interface NodeClassRef {
  group: string
  kind: string
  name: string
}

/** Karpenter generator options on top of the common ones. */
export interface KarpenterOptions extends CommonOptions {
  nodeClass: NodeClassRef
  /** Instance types by target name; `*` applies to targets without their own; none = any type the NodeClass allows. */
  instanceTypes: Readonly<Record<string, readonly string[]>>
  /** Only targets of this provider (one Karpenter provisions in one cloud); undefined = every target. */
  provider?: string | undefined
}

/** Parses `group/kind/name` into a NodeClass reference. */
export function parseNodeClassRef(text: string): NodeClassRef {
  const parts = text.split('/')
  const [group, kind, name] = parts
  if (parts.length !== 3 || !group || !kind || !name) throw new InputError(`bad --node-class '${text}': expected GROUP/KIND/NAME such as karpenter.k8s.aws/EC2NodeClass/default`)
  return { group, kind, name }
}

const duration = (ms: number): string => (ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.ceil(ms / 1000)}s`)

/** Labels of a target's nodes: its pool label value, and its lifecycle under a capacity-type label Karpenter does not set itself (Kueue flavors select on both). */
function nodeLabels(opts: KarpenterOptions, pool: string, lifecycle: string): Record<string, string> {
  const custom = opts.capacityTypeLabel !== '' && opts.capacityTypeLabel !== KARPENTER_CAPACITY_TYPE
  return { [opts.poolLabel]: pool, ...(custom ? { [opts.capacityTypeLabel]: lifecycle } : {}) }
}

/** NodePools for the cloud targets of the selected burst pools. */
export function karpenterObjects(burst: BurstConfig, opts: KarpenterOptions): Generated {
  const plan = planPools(burst, opts)
  const known = new Set(plan.pools.flatMap((p) => p.targets.map((t) => t.target.name)))
  for (const [name, types] of Object.entries(opts.instanceTypes)) {
    if (name !== '*' && !known.has(name)) throw new InputError(`--instance-types names unknown target '${name}' (targets: ${[...known].join(', ')})`)
    for (const t of types) checkLabelValue(t, 'instance type')
  }
  const weights = tierValues(plan.tierCount, 100, 1)
  const notes = [...plan.notes]
  const providers = [...new Set(plan.pools.flatMap((p) => p.targets.map((t) => t.target.provider)))].sort()
  if (opts.provider !== undefined && !providers.includes(opts.provider)) throw new InputError(`no burst target of provider '${opts.provider}' (providers: ${providers.join(', ')})`)
  if (opts.provider === undefined && providers.length > 1) notes.push(`the targets span providers ${providers.join(', ')} but one Karpenter provisions in one cloud: pass --provider to keep that cloud's targets`)
  const pools = new Map<string, KubeObject>()
  for (const p of plan.pools) {
    for (const { target, tier, nodeSet, quotaGpus } of p.targets) {
      if (opts.provider !== undefined && target.provider !== opts.provider) continue
      if (pools.has(nodeSet)) throw new InputError(`two burst targets would share the NodePool '${nodeSet}': give them distinct pool label values`)
      const types = opts.instanceTypes[target.name] ?? opts.instanceTypes['*']
      if (!types) notes.push(`target ${target.name}: no --instance-types, so Karpenter may launch any instance type its NodeClass allows; pin GPU instance types with --instance-types ${target.name}=TYPE|TYPE`)
      const taint = opts.burstToleration ? [burstTaint(opts.burstToleration)] : []
      pools.set(nodeSet, {
        apiVersion: KARPENTER_API_VERSION,
        kind: 'NodePool',
        metadata: metadataFor(nodeSet, p.policy),
        spec: {
          weight: weights[tier] as number,
          limits: { [opts.gpuResource]: gpuQuantity(quotaGpus) },
          disruption: { consolidationPolicy: 'WhenEmpty', consolidateAfter: duration(p.policy.scaleInAfterMs) },
          template: {
            metadata: { labels: nodeLabels(opts, target.pool, target.lifecycle) },
            spec: {
              nodeClassRef: { ...opts.nodeClass },
              requirements: [
                { key: KARPENTER_CAPACITY_TYPE, operator: 'In', values: [target.lifecycle] },
                ...(types ? [{ key: INSTANCE_TYPE_LABEL, operator: 'In', values: [...types] }] : []),
              ],
              ...(taint.length > 0 ? { taints: taint } : {}),
            },
          },
        },
      })
    }
  }
  return { cluster: plan.cluster, objects: [...pools.values()], notes }
}
