/**
 * Kueue objects from the burst policy: a ResourceFlavor per node set (the
 * on-prem pool, each cloud target) and a ClusterQueue per burst pool whose
 * single resource group lists the flavors on-prem -> cloud spot -> cloud
 * on-demand. Kueue assigns the first flavor in that order with room, and
 * `whenCanBorrow: TryNextFlavor` / `whenCanPreempt: TryNextFlavor` make it try
 * the next flavor before borrowing from a cohort or preempting, so a workload
 * only lands on cloud quota once the on-prem quota is used up. Written against
 * kueue.x-k8s.io/v1beta1, the served storage version of the ResourceFlavor and
 * ClusterQueue CRDs (test/fixtures/crds).
 */
import type { BurstConfig } from '../../../config/alerts'
import { InputError } from '../../../core/errors'
import { checkObjectName, gpuQuantity, metadataFor, objectName, planPools, scaleQuantity, tolerationObject, type CommonOptions, type Generated, type KubeObject, type PlannedPool } from './shared'

/** Kueue API version of the generated objects. */
export const KUEUE_API_VERSION = 'kueue.x-k8s.io/v1beta1'

/** Kueue generator options on top of the common ones. */
export interface KueueOptions extends CommonOptions {
  /** On-prem GPU capacity by pool name: the on-prem flavor's nominalQuota. */
  onpremGpus: Readonly<Record<string, number>>
  /** Other resources the queue covers, as a quantity per GPU (`cpu: '16'`, `memory: '128Gi'`); empty = GPUs only. */
  perGpu: Readonly<Record<string, string>>
  /** Namespaces that may submit to the queues, as matchLabels; empty = every namespace. */
  namespaceSelector: Readonly<Record<string, string>>
  /** Cohort the queues join; undefined = none (no borrowing). */
  cohort?: string | undefined
  /** ClusterQueue name; only with a single pool (default: the pool's name). */
  queueName?: string | undefined
}

type Flavor = { name: string; gpus: number; object: KubeObject }

/** ResourceFlavors and ClusterQueues for the selected burst pools. */
export function kueueObjects(burst: BurstConfig, opts: KueueOptions): Generated {
  const plan = planPools(burst, opts)
  if (opts.queueName !== undefined && plan.pools.length > 1) throw new InputError(`--queue-name needs a single pool; ${plan.pools.length} are selected (pass --pool)`)
  for (const [resource, perGpu] of Object.entries(opts.perGpu)) {
    if (resource === opts.gpuResource) throw new InputError(`--per-gpu cannot set the GPU resource '${resource}' itself`)
    scaleQuantity(perGpu, 1, `--per-gpu ${resource}`)
  }
  const flavors = new Map<string, KubeObject>()
  const queues: KubeObject[] = []
  for (const p of plan.pools) {
    const list = poolFlavors(p, opts)
    for (const f of list) {
      const seen = flavors.get(f.name)
      if (seen !== undefined && JSON.stringify(seen.spec) !== JSON.stringify(f.object.spec)) throw new InputError(`two different node sets would share the ResourceFlavor name '${f.name}': rename a pool or target pool label`)
      flavors.set(f.name, f.object)
    }
    queues.push(clusterQueue(p, list, opts))
  }
  const notes = [...plan.notes]
  if (Object.keys(opts.perGpu).length === 0) {
    notes.push(`the ClusterQueues cover ${opts.gpuResource} only: Kueue leaves a workload inadmissible when it requests a resource no flavor covers, so either exclude cpu and memory in Kueue's configuration (resources.excludeResourcePrefixes) or regenerate with --per-gpu cpu=N,memory=QTY`)
  }
  return { cluster: plan.cluster, objects: [...flavors.values(), ...queues], notes }
}

function onpremGpus(p: PlannedPool, opts: KueueOptions): number {
  const gpus = opts.onpremGpus[p.policy.pool]
  if (gpus === undefined) throw new InputError(`no on-prem GPU capacity for pool '${p.policy.pool}': pass --onprem-gpus ${p.policy.pool}=N (or --from-store)`)
  if (!Number.isFinite(gpus) || gpus < 0) throw new InputError(`bad on-prem GPU capacity ${gpus} for pool '${p.policy.pool}': expected a number >= 0`)
  return gpus
}

/** The pool's flavors in Kueue's try order: on-prem, then its targets (spot first). */
function poolFlavors(p: PlannedPool, opts: KueueOptions): Flavor[] {
  const onprem: Flavor = {
    name: objectName(p.policy.pool),
    gpus: onpremGpus(p, opts),
    object: resourceFlavor(objectName(p.policy.pool), { [opts.poolLabel]: p.policy.pool }, undefined),
  }
  const cloud = p.targets.map(({ target, nodeSet, quotaGpus }): Flavor => {
    const labels = { [opts.poolLabel]: target.pool, ...(opts.capacityTypeLabel ? { [opts.capacityTypeLabel]: target.lifecycle } : {}) }
    return { name: nodeSet, gpus: quotaGpus, object: resourceFlavor(nodeSet, labels, opts) }
  })
  return [onprem, ...cloud]
}

/** A ResourceFlavor selecting nodes by label; cloud flavors carry the burst toleration so Kueue adds it to the pods it admits there. */
function resourceFlavor(name: string, nodeLabels: Record<string, string>, cloud: KueueOptions | undefined): KubeObject {
  const toleration = cloud?.burstToleration
  return {
    apiVersion: KUEUE_API_VERSION,
    kind: 'ResourceFlavor',
    metadata: metadataFor(name),
    spec: { nodeLabels, ...(toleration ? { tolerations: [tolerationObject(toleration)] } : {}) },
  }
}

function clusterQueue(p: PlannedPool, flavors: Flavor[], opts: KueueOptions): KubeObject {
  const extra = Object.entries(opts.perGpu)
  const selector = Object.keys(opts.namespaceSelector).length > 0 ? { matchLabels: { ...opts.namespaceSelector } } : {}
  return {
    apiVersion: KUEUE_API_VERSION,
    kind: 'ClusterQueue',
    metadata: metadataFor(opts.queueName !== undefined ? checkObjectName(opts.queueName, '--queue-name') : objectName(p.policy.pool), p.policy),
    spec: {
      namespaceSelector: selector,
      ...(opts.cohort !== undefined ? { cohort: checkObjectName(opts.cohort, '--cohort') } : {}),
      queueingStrategy: 'BestEffortFIFO',
      flavorFungibility: { whenCanBorrow: 'TryNextFlavor', whenCanPreempt: 'TryNextFlavor' },
      resourceGroups: [{
        coveredResources: [opts.gpuResource, ...extra.map(([r]) => r)],
        flavors: flavors.map((f) => ({
          name: f.name,
          resources: [
            { name: opts.gpuResource, nominalQuota: gpuQuantity(f.gpus) },
            ...extra.map(([r, perGpu]) => ({ name: r, nominalQuota: scaleQuantity(perGpu, f.gpus, `--per-gpu ${r}`) })),
          ],
        })),
      }],
    },
  }
}
