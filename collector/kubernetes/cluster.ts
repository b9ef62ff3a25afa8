/**
 * One Kubernetes cluster as a stream source: informers (list+watch) for
 * namespaces, nodes, pods, Jobs, ReplicaSets, StatefulSets and Kubeflow
 * Notebooks (when the CRD exists), feeding the node and pod trackers, whose
 * rows reach the store through a retrying buffer.
 */
import type { KubernetesClusterConfig, KubernetesConfig } from '../../config/kubernetes'
import type { CollectorDeps, HealthReporter, NotebookTarget, StreamSource } from '../source'
import { Backoff } from './backoff'
import { connectKubeApi, type KubeApi } from './client'
import { requestsGpuResource } from './gpuRequests'
import { NodeTracker } from './nodeTracker'
import { labelledGpuModel, type NodeContext } from './nodeState'
import type { OwnerLookup } from './owners'
import { PendingWrites } from './pending'
import { PodTracker } from './podTracker'
import { Reflector, type ReflectorHandlers } from './reflector'
import type { KubeObject, Node, Notebook, Pod } from './types'

/** Builds the API client of one cluster (tests pass their own). */
export type ConnectFn = (cluster: KubernetesClusterConfig) => Promise<KubeApi>

interface Informers {
  namespaces: Reflector<KubeObject>
  nodes: Reflector<Node>
  pods: Reflector<Pod>
  jobs: Reflector<KubeObject>
  replicaSets: Reflector<KubeObject>
  statefulSets: Reflector<KubeObject>
  notebooks: Reflector<Notebook>
}

/** Collection paths (cluster-wide) of every informer. */
export const RESOURCE_PATHS: Readonly<Record<keyof Informers, string>> = {
  namespaces: '/api/v1/namespaces',
  nodes: '/api/v1/nodes',
  pods: '/api/v1/pods',
  jobs: '/apis/batch/v1/jobs',
  replicaSets: '/apis/apps/v1/replicasets',
  statefulSets: '/apis/apps/v1/statefulsets',
  notebooks: '/apis/kubeflow.org/v1/notebooks',
}

/** Owner kinds walked through a cache; any other kind is taken from the ownerReference as is. */
const OWNER_CACHES: Readonly<Record<string, keyof Informers>> = {
  ReplicaSet: 'replicaSets',
  Job: 'jobs',
  StatefulSet: 'statefulSets',
  Notebook: 'notebooks',
}

/** Annotation the Kubeflow culler and dashboard set on a stopped notebook. */
const STOPPED = 'kubeflow-resource-stopped'

const noHealth: HealthReporter = { success() {}, failure() {} }

/** The list+watch collector of one cluster. */
export class KubernetesClusterSource implements StreamSource {
  readonly kind = 'stream' as const
  readonly name: string
  readonly staleAfterMs: number
  private health: HealthReporter = noHealth
  private informers: Informers | undefined
  private heartbeatTimer: NodeJS.Timeout | undefined
  /** When the nodes' states were last written in full (the start's list writes them). */
  private lastNodeBeatMs = -Infinity
  private readonly pending: PendingWrites
  private readonly nodeTracker: NodeTracker
  private readonly podTracker: PodTracker
  private readonly nodeCtx: NodeContext

  constructor(
    private readonly cluster: KubernetesClusterConfig,
    private readonly config: KubernetesConfig,
    private readonly deps: CollectorDeps,
    private readonly connect: ConnectFn = (c) => connectKubeApi(c),
  ) {
    this.name = `kubernetes/${cluster.name}`
    this.staleAfterMs = Math.max(60_000, 2 * config.heartbeatMs + config.backoffMaxMs)
    const backoff = () => new Backoff(config.backoffBaseMs, config.backoffMaxMs)
    const failed = (err: unknown) => this.health.failure(err)
    this.pending = new PendingWrites(deps.sinks, backoff(), {
      stored: (rows) => this.health.success(rows),
      failed: (err) => {
        deps.logger.warn({ source: this.name, err: err instanceof Error ? err.message : String(err) }, 'store write failed; rows kept for retry')
        failed(err)
      },
    })
    this.nodeCtx = {
      cluster: cluster.name, gpuResources: config.gpuResources, labels: config.labels,
      defaultProvider: cluster.defaultProvider, defaultGpuModel: cluster.defaultGpuModel,
    }
    const common = { pending: this.pending, query: deps.query, now: deps.now, logger: deps.logger, failed }
    this.nodeTracker = new NodeTracker({ ...common, ctx: this.nodeCtx, backoff: backoff(), nodes: cacheOf(() => this.informers?.nodes) })
    this.podTracker = new PodTracker({
      ...common,
      cluster: cluster.name,
      config,
      backoff: backoff(),
      pods: cacheOf(() => this.informers?.pods),
      owners: this.lookupOwner,
      namespace: (name) => this.informers?.namespaces.get('', name),
      nodeModel: (name) => this.nodeModel(name),
    })
  }

  /** Connects and starts every informer in the background; resolves once they run (not once they listed). */
  async start(health: HealthReporter): Promise<void> {
    if (this.informers) return
    this.health = health
    const api = await this.connect(this.cluster)
    this.informers = this.buildInformers(api)
    for (const informer of Object.values(this.informers)) informer.start()
    this.lastNodeBeatMs = this.deps.now()
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.config.heartbeatMs)
    this.heartbeatTimer.unref()
  }

  /** Stops the informers, then makes one last attempt to store what is queued. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeatTimer)
    await Promise.all(Object.values(this.informers ?? {}).map((r: Reflector<KubeObject>) => r.stop()))
    this.podTracker.stop()
    this.nodeTracker.stop()
    await this.flush()
    this.pending.stop()
  }

  /**
   * Resolves once every informer has listed (an absent CRD counts) and what
   * that produced has been written once (tests, `collect once`); it waits for
   * as long as a resource cannot be listed.
   */
  async whenSynced(): Promise<void> {
    if (!this.informers) throw new Error(`${this.name} is not started`)
    await Promise.all(Object.values(this.informers).map((r: Reflector<KubeObject>) => r.synced))
    // Owner and namespace lists re-map pods on the next turn of the event loop.
    await new Promise((r) => setImmediate(r))
    await this.flush()
  }

  /** Waits for running reconciles and writes what is queued (one attempt). */
  async flush(): Promise<void> {
    await Promise.all([this.podTracker.settled(), this.nodeTracker.settled()])
    await this.pending.flush()
  }

  /** Re-writes every open interval's last_seen (run every heartbeatMs), and every GPU node's state when nodeHeartbeatMs has passed. */
  heartbeat(nowMs = this.deps.now()): void {
    if (nowMs - this.lastNodeBeatMs >= this.config.nodeHeartbeatMs) {
      this.nodeTracker.heartbeat(nowMs)
      this.lastNodeBeatMs = nowMs
    }
    this.podTracker.heartbeat(nowMs)
    const watching = this.informers && this.informers.nodes.resourceVersion !== '' && this.informers.pods.resourceVersion !== ''
    if (watching && this.pending.size === 0) this.health.success(0)
  }

  /** Running Kubeflow Notebooks: not stopped, and ready or with a running pod; baseUrl is left to the Jupyter collector's template. */
  notebooks(): NotebookTarget[] {
    const informers = this.informers
    if (!informers) return []
    const runningPods = new Set<string>()
    for (const pod of informers.pods.list()) {
      const notebook = pod.metadata.labels?.['notebook-name']
      if (notebook && pod.status?.phase === 'Running') runningPods.add(`${pod.metadata.namespace ?? ''}/${notebook}`)
    }
    return informers.notebooks
      .list()
      .filter((nb) => {
        const key = `${nb.metadata.namespace ?? ''}/${nb.metadata.name}`
        return !nb.metadata.annotations?.[STOPPED] && ((nb.status?.readyReplicas ?? 0) > 0 || runningPods.has(key))
      })
      .map((nb) => ({ cluster: this.cluster.name, namespace: nb.metadata.namespace ?? '', name: nb.metadata.name, baseUrl: '' }))
  }

  private readonly lookupOwner: OwnerLookup = (kind, namespace, name) => {
    const cache = OWNER_CACHES[kind]
    return cache ? this.informers?.[cache].get(namespace, name) : undefined
  }

  private nodeModel(name: string): string | undefined {
    const node = name ? this.informers?.nodes.get('', name) : undefined
    if (!node) return undefined
    return labelledGpuModel(node, this.config.labels.gpuModel) || this.cluster.defaultGpuModel || undefined
  }

  private buildInformers(api: KubeApi): Informers {
    const pods = this.podTracker
    const nodes = this.nodeTracker
    const listed = () => this.health.success(0)
    const owners: ReflectorHandlers<KubeObject> = {
      replace: () => pods.refreshSoon(),
      added: (o) => pods.refreshSoon(o.metadata.namespace ?? ''),
    }
    const namespaceHandlers: ReflectorHandlers<KubeObject> = {
      replace: () => pods.refreshSoon(),
      added: (ns) => pods.refreshSoon(ns.metadata.name),
      modified: (ns) => pods.refreshSoon(ns.metadata.name),
    }
    const nodeHandlers: ReflectorHandlers<Node> = {
      replace: (items, removed, at) => {
        nodes.replace(items, removed, at)
        pods.refreshSoon()
        listed()
      },
      added: (n) => nodes.upsert(n),
      modified: (n) => nodes.upsert(n),
      deleted: (n) => nodes.remove(n),
    }
    const podHandlers: ReflectorHandlers<Pod> = {
      replace: (items, removed, at) => {
        pods.replace(items, removed, at)
        listed()
      },
      added: (p) => pods.upsert(p),
      modified: (p) => pods.upsert(p),
      deleted: (p) => pods.remove(p),
    }
    const rules = this.config.gpuResources
    return {
      namespaces: this.informer(api, 'namespaces', namespaceHandlers, metadataOnly),
      jobs: this.informer(api, 'jobs', owners, metadataOnly),
      replicaSets: this.informer(api, 'replicaSets', owners, metadataOnly),
      statefulSets: this.informer(api, 'statefulSets', owners, metadataOnly),
      notebooks: this.informer<Notebook>(api, 'notebooks', owners, (nb) => ({ ...metadataOnly(nb), status: nb.status }), true),
      nodes: this.informer(api, 'nodes', nodeHandlers, slimNode),
      pods: this.informer(api, 'pods', podHandlers, (p) => (requestsGpuResource(p.spec, rules) ? p : slimPod(p))),
    }
  }

  private informer<T extends KubeObject>(
    api: KubeApi,
    resource: keyof Informers,
    handlers: ReflectorHandlers<T>,
    transform: (obj: T) => T,
    optional = false,
  ): Reflector<T> {
    return new Reflector<T>({
      resource: `${this.cluster.name}/${resource}`,
      path: RESOURCE_PATHS[resource],
      api,
      optional,
      transform,
      pageSize: this.config.listPageSize,
      watchTimeoutMs: this.config.watchTimeoutMs,
      backoff: { baseMs: this.config.backoffBaseMs, maxMs: this.config.backoffMaxMs },
      now: this.deps.now,
      logger: this.deps.logger,
      handlers: { ...handlers, error: (err) => this.health.failure(err) },
    })
  }
}

/** Owner walking and attribution read only metadata (ownerReferences, labels, annotations). */
function metadataOnly<T extends KubeObject>(obj: T): T {
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata: obj.metadata } as T
}

/** A pod that asks for no GPU: notebooks() reads its labels and phase, nothing else does. */
function slimPod(pod: Pod): Pod {
  return { metadata: pod.metadata, status: { phase: pod.status?.phase } }
}

/** A node without its image list and addresses: capacity, conditions, labels and spec are what node_state reads. */
function slimNode(node: Node): Node {
  const { capacity, allocatable, conditions } = node.status ?? {}
  return { apiVersion: node.apiVersion, kind: node.kind, metadata: node.metadata, spec: node.spec, status: { capacity, allocatable, conditions } }
}

/** A cache view that reads whatever informer exists now (none before start). */
function cacheOf<T extends KubeObject>(informer: () => Reflector<T> | undefined) {
  return {
    get: (namespace: string, name: string) => informer()?.get(namespace, name),
    list: () => informer()?.list() ?? [],
  }
}
