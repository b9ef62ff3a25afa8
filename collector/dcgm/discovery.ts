/**
 * dcgm-exporter discovery through Kubernetes: list+watch the exporter
 * Service's EndpointSlices (discovery.k8s.io/v1, label
 * `kubernetes.io/service-name=<service>`), or its core/v1 Endpoints on an API
 * server that does not serve EndpointSlices, with the project's reflector
 * (resume from resourceVersion, relist on 410, backoff). Each discovery is a
 * stream source of its own (`dcgm-discovery/<cluster>/<namespace>/<service>`)
 * so a failing API shows in collector health; the targets it found last stay
 * in place while it fails.
 */
import type { DcgmKubernetesDiscovery } from '../../config/dcgm'
import type { KubernetesClusterConfig, KubernetesConfig } from '../../config/kubernetes'
import { Backoff, sleep } from '../kubernetes/backoff'
import { connectKubeApi, statusCodeOf, type KubeApi } from '../kubernetes/client'
import { Reflector } from '../kubernetes/reflector'
import type { CollectorDeps, HealthReporter, StreamSource } from '../source'
import { targetsFromEndpoints, targetsFromEndpointSlices, type DiscoveredTarget, type Endpoints, type EndpointSlice } from './endpoints'

/** Builds the API client of one cluster (tests may pass their own; the default is the Kubernetes collector's). */
export type ConnectKubeFn = (cluster: KubernetesClusterConfig) => Promise<KubeApi>

/** Which API the endpoints come from. */
export type DiscoveryMode = 'endpointslices' | 'endpoints'

/** The API group document that says whether EndpointSlices are served (readable by every authenticated user). */
export const DISCOVERY_GROUP_PATH = '/apis/discovery.k8s.io/v1'

/** While the watch is healthy, success is reported this often so /readyz does not call a quiet watch stale. */
const HEARTBEAT_MS = 20_000

const noHealth: HealthReporter = { success() {}, failure() {} }

/** The collection path and selector of one Service's endpoints, in either API. */
export function endpointsQuery(spec: Pick<DcgmKubernetesDiscovery, 'namespace' | 'service'>, mode: DiscoveryMode): { path: string; query: Record<string, string> } {
  const ns = encodeURIComponent(spec.namespace)
  return mode === 'endpointslices'
    ? { path: `${DISCOVERY_GROUP_PATH}/namespaces/${ns}/endpointslices`, query: { labelSelector: `kubernetes.io/service-name=${spec.service}` } }
    : { path: `/api/v1/namespaces/${ns}/endpoints`, query: { fieldSelector: `metadata.name=${spec.service}` } }
}

/**
 * Adds a selector to every list and watch of the reflector (which sends only
 * paging and resume parameters), and says when a watch was accepted: the
 * client's watch() resolves after the HTTP answer, having already called
 * `done` when that answer was an error.
 */
function scopedApi(api: KubeApi, selector: Record<string, string>, watchOpened: () => void): KubeApi {
  return {
    server: api.server,
    getJson: (path, query, signal) => api.getJson(path, { ...query, ...selector }, signal),
    watch: async (path, query, onEvent, done) => {
      let ended = false
      const controller = await api.watch(path, { ...query, ...selector }, onEvent, (err) => {
        ended = true
        done(err)
      })
      if (!ended) watchOpened()
      return controller
    },
  }
}

/** One Service's exporter endpoints, kept current by list+watch. */
export class ExporterDiscovery implements StreamSource {
  readonly kind = 'stream' as const
  readonly name: string
  readonly staleAfterMs: number
  /** The API in use, once the probe has answered. */
  mode: DiscoveryMode | undefined
  private current: DiscoveredTarget[] = []
  private health: HealthReporter = noHealth
  private healthy = false
  private stopped = false
  private readonly abort = new AbortController()
  private reflector: Reflector<EndpointSlice | Endpoints> | undefined
  private loop: Promise<void> | undefined
  private heartbeatTimer: NodeJS.Timeout | undefined
  private lastMissingPort = ''
  private markSynced: () => void = () => {}
  /** Resolves after the first successful list of the endpoints. */
  readonly synced: Promise<void>

  constructor(
    readonly spec: DcgmKubernetesDiscovery,
    private readonly cluster: KubernetesClusterConfig,
    private readonly kube: KubernetesConfig,
    private readonly deps: CollectorDeps,
    /** Called after every change of the target list. */
    private readonly onChange: () => void,
    private readonly connect: ConnectKubeFn = (c) => connectKubeApi(c),
  ) {
    this.name = `dcgm-discovery/${spec.cluster}/${spec.namespace}/${spec.service}`
    this.staleAfterMs = Math.max(60_000, 2 * HEARTBEAT_MS + kube.backoffMaxMs)
    this.synced = new Promise((resolve) => (this.markSynced = resolve))
  }

  /** The targets of the last successful list or watch event (kept while the API fails). */
  targets(): readonly DiscoveredTarget[] {
    return this.current
  }

  /** Connects, then probes and watches in the background; resolves once that runs, not once it listed. */
  async start(health: HealthReporter): Promise<void> {
    if (this.loop) return
    this.health = health
    const api = await this.connect(this.cluster)
    this.loop = this.run(api)
    this.heartbeatTimer = setInterval(() => {
      if (this.healthy) this.health.success(0)
    }, HEARTBEAT_MS)
    this.heartbeatTimer.unref()
  }

  /** Stops the watch; the last targets stay readable. */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.heartbeatTimer)
    this.abort.abort()
    await this.loop
    await this.reflector?.stop()
  }

  private async run(api: KubeApi): Promise<void> {
    const mode = await this.probe(api)
    if (!mode || this.stopped) return
    this.mode = mode
    const { path, query } = endpointsQuery(this.spec, mode)
    const refresh = () => this.refresh()
    this.reflector = new Reflector<EndpointSlice | Endpoints>({
      resource: `${this.spec.cluster}/${mode} ${this.spec.namespace}/${this.spec.service}`,
      path,
      api: scopedApi(api, query, () => this.ok()),
      pageSize: this.kube.listPageSize,
      watchTimeoutMs: this.kube.watchTimeoutMs,
      backoff: { baseMs: this.kube.backoffBaseMs, maxMs: this.kube.backoffMaxMs },
      now: this.deps.now,
      logger: this.deps.logger,
      handlers: {
        replace: () => {
          this.ok()
          refresh()
          this.markSynced()
        },
        added: refresh,
        modified: refresh,
        deleted: refresh,
        error: (err) => this.fail(err),
      },
    })
    this.reflector.start()
  }

  /**
   * Asks the API server whether it serves discovery.k8s.io/v1 endpointslices:
   * a 404 on the group (or a group without that resource) means an old server,
   * so Endpoints are used; any other failure is reported and retried.
   */
  private async probe(api: KubeApi): Promise<DiscoveryMode | undefined> {
    const backoff = new Backoff(this.kube.backoffBaseMs, this.kube.backoffMaxMs)
    while (!this.stopped) {
      try {
        const group = await api.getJson<{ resources?: Array<{ name?: string }> }>(DISCOVERY_GROUP_PATH, {}, this.abort.signal)
        return group.resources?.some((r) => r.name === 'endpointslices') ? 'endpointslices' : 'endpoints'
      } catch (err) {
        if (this.stopped) return undefined
        if (statusCodeOf(err) === 404) return 'endpoints'
        this.fail(err)
        this.deps.logger.warn({ source: this.name, err: err instanceof Error ? err.message : String(err) }, 'EndpointSlice API probe failed; retrying')
        await sleep(backoff.next(), this.abort.signal)
      }
    }
    return undefined
  }

  private refresh(): void {
    const objects = this.reflector?.list() ?? []
    const result =
      this.mode === 'endpointslices' ? targetsFromEndpointSlices(objects as EndpointSlice[], this.spec) : targetsFromEndpoints(objects as Endpoints[], this.spec)
    const missing = result.missingPort.join(', ')
    if (missing && missing !== this.lastMissingPort) {
      this.deps.logger.warn({ source: this.name, port: this.spec.port, objects: missing }, 'exporter endpoints without the configured port are not scraped')
    }
    this.lastMissingPort = missing
    this.current = result.targets
    this.onChange()
  }

  private ok(): void {
    this.healthy = true
    this.health.success(0)
  }

  private fail(err: unknown): void {
    this.healthy = false
    this.health.failure(err)
  }
}
