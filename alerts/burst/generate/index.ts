/**
 * Scheduler config generators from the burst policy (`gpuscope generate ...`):
 * Kueue ResourceFlavors and ClusterQueues, the cluster-autoscaler priority
 * expander ConfigMap, and Karpenter NodePools. Each is a pure function from
 * the burst config and options to plain objects; renderYaml turns them into a
 * multi-document YAML stream.
 */
export { priorityExpanderObjects, PRIORITY_EXPANDER_CONFIGMAP, CATCH_ALL_PRIORITY, nodeGroupPattern, type AutoscalerOptions } from './autoscaler'
export { karpenterObjects, parseNodeClassRef, KARPENTER_API_VERSION, INSTANCE_TYPE_LABEL, type KarpenterOptions, type NodeClassRef } from './karpenter'
export { kueueObjects, KUEUE_API_VERSION, type KueueOptions } from './kueue'
export { renderYaml } from './render'
export { KARPENTER_CAPACITY_TYPE, MANAGED_BY, parsePairs, planPools, POOL_ANNOTATION, selectPools, type CommonOptions, type Generated, type KubeObject } from './shared'
