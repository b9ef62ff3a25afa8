/**
 * Owner walking: Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob,
 * Pod -> StatefulSet -> Notebook, Pod -> PyTorchJob, ... through whatever the
 * informer caches hold. Pure: the caches come in as a lookup function.
 */
import type { KubeObject, OwnerReference } from './types'

/** Finds a cached object by kind, namespace and name; undefined when that kind is not cached or the object is unknown. */
export type OwnerLookup = (kind: string, namespace: string, name: string) => KubeObject | undefined

/** The top-level workload a pod belongs to, and the cached owners passed on the way (nearest first). */
export interface Workload {
  kind: string
  name: string
  chain: KubeObject[]
}

/** Owner chains are short (Pod -> ReplicaSet -> Deployment); the cap only guards against reference cycles. */
const MAX_HOPS = 8

/** Characters Kubernetes uses for generated suffixes such as pod-template-hash (rand.SafeEncodeString). */
const GENERATED_SUFFIX = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{5,10}$/

/** The owner reference that controls an object (controller: true), else its first owner reference. */
export function controllerRef(obj: KubeObject): OwnerReference | undefined {
  const refs = obj.metadata.ownerReferences ?? []
  return refs.find((r) => r.controller === true) ?? refs[0]
}

/**
 * Guesses the Deployment behind a ReplicaSet that is not cached: the
 * ReplicaSet is named `<deployment>-<pod-template-hash>`. Uses the pod's
 * pod-template-hash label when given, else the shape of a generated suffix.
 */
export function deploymentOfReplicaSet(replicaSet: string, podTemplateHash?: string): string | undefined {
  if (podTemplateHash) return replicaSet.endsWith(`-${podTemplateHash}`) ? replicaSet.slice(0, -(podTemplateHash.length + 1)) : undefined
  return GENERATED_SUFFIX.exec(replicaSet)?.[1]
}

/**
 * Walks a pod's controller references up through the cached owners. Where a
 * parent is not cached, its reference's kind and name are the answer, except
 * an uncached ReplicaSet, which is taken as its Deployment (name minus the
 * pod-template-hash). A cached parent whose uid differs from the reference is
 * a namesake and is not followed.
 */
export function resolveWorkload(pod: KubeObject, lookup: OwnerLookup): Workload {
  const namespace = pod.metadata.namespace ?? ''
  const chain: KubeObject[] = []
  let current: KubeObject = pod
  let kind = 'Pod'
  let name = pod.metadata.name
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const ref = controllerRef(current)
    if (!ref) break
    kind = ref.kind
    name = ref.name
    const parent = lookup(ref.kind, namespace, ref.name)
    if (parent && (!ref.uid || !parent.metadata.uid || parent.metadata.uid === ref.uid)) {
      chain.push(parent)
      current = parent
      continue
    }
    if (ref.kind === 'ReplicaSet') {
      const hash = current === pod ? pod.metadata.labels?.['pod-template-hash'] : undefined
      const deployment = deploymentOfReplicaSet(ref.name, hash)
      if (deployment) {
        kind = 'Deployment'
        name = deployment
      }
    }
    break
  }
  return { kind, name, chain }
}
