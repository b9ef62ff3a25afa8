/**
 * The parts of Kubernetes objects the collector reads, typed as they arrive
 * over the wire in JSON: times are RFC 3339 strings, quantities strings or
 * numbers, every field optional unless the API server always sets it.
 */

/** A resource amount as the API serialises it (`"2"`, `"500m"`, `"16Gi"`, or a bare number). */
export type Quantity = string | number

/** A map of resource name to quantity (requests, limits, capacity, allocatable). */
export type ResourceList = Record<string, Quantity>

/** A reference from an object to the object that controls it. */
export interface OwnerReference {
  apiVersion?: string
  kind: string
  name: string
  uid?: string
  controller?: boolean
}

/** Standard object metadata. */
export interface ObjectMeta {
  name: string
  namespace?: string
  uid?: string
  resourceVersion?: string
  creationTimestamp?: string
  deletionTimestamp?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  ownerReferences?: OwnerReference[]
  managedFields?: unknown
}

/** Any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string
  kind?: string
  metadata: ObjectMeta
}

/** A container's (or init container's) image and resource needs. */
export interface Container {
  name: string
  /** Image reference as written in the spec, e.g. `nvcr.io/nvidia/pytorch:24.05-py3`; optional in the API for pod templates only. */
  image?: string
  resources?: { requests?: ResourceList; limits?: ResourceList }
  /** `Always` on an init container makes it a native sidecar (Kubernetes 1.28+). */
  restartPolicy?: string
}

/** The pod spec fields that decide its resource requests and placement. */
export interface PodSpec {
  nodeName?: string
  containers?: Container[]
  initContainers?: Container[]
  overhead?: ResourceList
}

/** A pod or node condition. */
export interface Condition {
  type: string
  status: string
  reason?: string
  lastTransitionTime?: string
}

/** What a container is doing now. */
export interface ContainerStatus {
  name: string
  state?: {
    running?: { startedAt?: string }
    terminated?: { startedAt?: string; finishedAt?: string; exitCode?: number; reason?: string }
    waiting?: { reason?: string }
  }
}

/** A pod. */
export interface Pod extends KubeObject {
  spec?: PodSpec
  status?: {
    phase?: string
    conditions?: Condition[]
    startTime?: string
    containerStatuses?: ContainerStatus[]
    initContainerStatuses?: ContainerStatus[]
  }
}

/** A node. */
export interface Node extends KubeObject {
  spec?: { providerID?: string; unschedulable?: boolean }
  status?: { capacity?: ResourceList; allocatable?: ResourceList; conditions?: Condition[] }
}

/** A Kubeflow Notebook (kubeflow.org/v1). */
export interface Notebook extends KubeObject {
  status?: { readyReplicas?: number }
}

/** One page of a list answer. */
export interface KubeList<T> {
  metadata?: { resourceVersion?: string; continue?: string }
  items?: T[]
}

/** The Status object the API answers errors with (also the object of a watch ERROR event). */
export interface KubeStatus {
  kind?: string
  status?: string
  message?: string
  reason?: string
  code?: number
}
