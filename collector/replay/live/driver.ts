import type { z } from 'zod'
import type { dcgmSchema } from '../../../config/dcgm'
import type { jupyterSchema } from '../../../config/jupyter'
import type { kubernetesSchema } from '../../../config/kubernetes'
import type { Logger } from '../../../core/ports'
import { runningAt, type SimCluster, type SimNode, type SimPod } from '../sim/cluster'
import { namespaceObject, nodeObject, ownerObjects, podListedAt, podObject } from '../sim/objects'
import { exporterPath, startExporterServer, type LiveServer } from './exporter'
import { startJupyterServer } from './jupyter'
import { KubeApiServer, type KubeApiServerOptions, type KubeObj, type KubeResource } from './kubeApi'
import { firstEventAfter, Laps, type Lap, type PodEvent } from './timeline'

/**
 * The live replay: a simulated cluster served on loopback as a real one is —
 * a Kubernetes API (list+watch), a dcgm-exporter per node and the Jupyter
 * servers of its notebooks — on a virtual clock, so gpuscope's own
 * collectors scrape it through the code paths they use on a real cluster.
 *
 * Virtual time = startMs + (real time elapsed) × speed. A loop ticks about
 * once per `tickMs` of real time and applies the pod changes due by then
 * (timeline.ts): pods ADDED when created, MODIFIED when bound and when
 * finished, DELETED FINISHED_POD_TTL_MS later; their owners (Job,
 * StatefulSet + Notebook, ReplicaSet) come with the first pod and go with the
 * last. Nodes and namespaces are created at start. What happens after the
 * trace's end is in timeline.ts (Alibaba: the end state holds; Helios: the
 * month loops).
 */

/** How the replay runs. */
export interface LiveReplayOptions {
  /** Virtual time at start (e.g. the end of a backfill). */
  startMs: number
  /** Virtual milliseconds per real millisecond (default 1). */
  speed?: number
  /** The real clock (default Date.now); tests pass their own and call tick(). */
  now?: () => number
  /** Real time between ticks (default 1,000 ms). */
  tickMs?: number
  /** Replay the trace again after its end (default: Helios loops, Alibaba does not). */
  loop?: boolean
  /** Ports to bind on 127.0.0.1; 0 (the default) picks free ones. */
  ports?: { kube?: number; exporter?: number; jupyter?: number }
  /** Tuning of the Kubernetes API server (history kept for watches, bookmarks). */
  kube?: Omit<KubeApiServerOptions, 'now'>
  logger?: Logger
}

/** The collector config overlay that points gpuscope at the replay (input of the config schemas). */
export interface LiveCollectorConfig {
  kubernetes: z.input<typeof kubernetesSchema>
  dcgm: z.input<typeof dcgmSchema>
  jupyter: z.input<typeof jupyterSchema>
}

/** A running live replay. */
export interface LiveReplay {
  readonly sim: SimCluster
  /** Base URLs of the three servers. */
  readonly urls: { kube: string; exporter: string; jupyter: string }
  /** The Kubernetes API server (read it to see what the replay published). */
  readonly kube: KubeApiServer
  /** The virtual time now. */
  now(): number
  /** Applies every change due by now() (the loop calls it; tests with their own clock call it). */
  tick(): void
  /** collector.kubernetes / dcgm / jupyter settings that make gpuscope's collectors scrape this replay. */
  collectorConfig(): LiveCollectorConfig
  /** Stops the loop and closes the servers. */
  stop(): Promise<void>
}

interface ActiveLap {
  lap: Lap
  cursor: number
}

const NO_PODS: readonly SimPod[] = []

/** The collector's typed objects are plain JSON objects to the server. */
const asKube = (o: object): KubeObj => o as KubeObj

/** Keeps the Kubernetes API's objects in step with the simulation, change by change. */
class KubeMirror {
  private readonly owners = new Map<string, number>()
  private readonly namespaces = new Set<string>()

  constructor(
    private readonly sim: SimCluster,
    private readonly kube: KubeApiServer,
  ) {}

  /** Publishes the nodes and the namespaces of every team. */
  init(): void {
    for (const n of this.sim.nodes) this.kube.put('nodes', asKube(nodeObject(this.sim, n)))
    for (const ns of [...new Set(this.sim.pods.map((p) => p.namespace))].sort()) this.ensureNamespace(ns)
  }

  /** Applies one change of a pod, as of `tMs`. */
  apply(pod: SimPod, step: PodEvent['step'], tMs: number): void {
    if (step === 'create') {
      this.ensureNamespace(pod.namespace)
      this.acquireOwners(pod, tMs)
    }
    if (step === 'delete') {
      if (this.kube.has('pods', pod.namespace, pod.name)) this.kube.remove('pods', pod.namespace, pod.name)
      this.releaseOwners(pod)
      return
    }
    this.kube.put('pods', asKube(podObject(this.sim, pod, tMs)))
    if (pod.kind === 'Notebook' && step !== 'create') this.kube.put('notebooks', notebookOf(pod, tMs))
  }

  private ensureNamespace(ns: string): void {
    if (this.namespaces.has(ns)) return
    this.namespaces.add(ns)
    this.kube.put('namespaces', asKube(namespaceObject(ns, this.sim.beginMs)))
  }

  private acquireOwners(pod: SimPod, tMs: number): void {
    for (const [resource, obj] of ownersOf(pod, tMs)) {
      const key = `${resource}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`
      const refs = this.owners.get(key) ?? 0
      this.owners.set(key, refs + 1)
      if (refs === 0 || resource === 'notebooks') this.kube.put(resource, obj)
    }
  }

  private releaseOwners(pod: SimPod): void {
    for (const [resource, obj] of ownersOf(pod, pod.endMs ?? 0)) {
      const ns = obj.metadata.namespace ?? ''
      const key = `${resource}/${ns}/${obj.metadata.name}`
      const refs = (this.owners.get(key) ?? 1) - 1
      if (refs > 0) this.owners.set(key, refs)
      else {
        this.owners.delete(key)
        if (this.kube.has(resource, ns, obj.metadata.name)) this.kube.remove(resource, ns, obj.metadata.name)
      }
    }
  }
}

/** The owner chain objects of a pod, the Notebook's readiness as of `tMs`. */
function ownersOf(pod: SimPod, tMs: number): Array<[KubeResource, KubeObj]> {
  const o = ownerObjects([pod])
  const ready = runningAt(pod, tMs) ? 1 : 0
  return [
    ...o.jobs.map((x): [KubeResource, KubeObj] => ['jobs', asKube(x)]),
    ...o.replicasets.map((x): [KubeResource, KubeObj] => ['replicasets', asKube(x)]),
    ...o.notebooks.map((x): [KubeResource, KubeObj] => ['notebooks', asKube({ ...x, status: { readyReplicas: ready } })]),
    ...o.statefulsets.map((x): [KubeResource, KubeObj] => ['statefulsets', asKube(x)]),
  ]
}

function notebookOf(pod: SimPod, tMs: number): KubeObj {
  return ownersOf(pod, tMs).find(([r]) => r === 'notebooks')?.[1] as KubeObj
}

/** The replay's state between ticks: which laps are being walked, and how far. */
class Walker {
  private active: ActiveLap[] = []
  private nextLap = 0
  private appliedMs: number

  constructor(
    private readonly laps: Laps,
    private readonly mirror: KubeMirror,
    startMs: number,
  ) {
    this.appliedMs = startMs
    const k0 = laps.lapOf(startMs)
    // The previous lap may still have finished pods to delete.
    for (const k of laps.loop && k0 > 0 ? [k0 - 1, k0] : [k0]) this.open(k, startMs)
    this.nextLap = k0 + 1
  }

  /** Applies every change in (last applied, tMs]; a clock that went back changes nothing. */
  advance(tMs: number): number {
    if (tMs <= this.appliedMs) return 0
    let applied = 0
    // Bounded: one new lap per period of virtual time passed (a long pause opens several).
    for (let guard = 0; guard < 1_000 && this.laps.loop && this.laps.lapStart(this.nextLap) <= tMs; guard++) {
      this.active.push({ lap: this.laps.lap(this.nextLap), cursor: 0 })
      this.nextLap++
    }
    const events = this.laps.events
    for (const a of this.active) {
      for (; a.cursor < events.length; a.cursor++) {
        const ev = events[a.cursor] as PodEvent
        const t = ev.tMs + a.lap.shiftMs
        if (t > tMs) break
        this.mirror.apply(a.lap.pods[ev.index] as SimPod, ev.step, t)
        applied++
      }
    }
    this.active = this.active.filter((a, i) => a.cursor < events.length || i === this.active.length - 1)
    this.appliedMs = tMs
    return applied
  }

  private open(k: number, startMs: number): void {
    const lap = this.laps.lap(k)
    for (const p of lap.pods) if (podListedAt(p, startMs)) this.mirror.apply(p, 'create', startMs)
    this.active.push({ lap, cursor: firstEventAfter(this.laps.events, startMs - lap.shiftMs) })
  }
}

/** Starts the three servers on 127.0.0.1, publishes the cluster as of `startMs`, and starts the tick loop. */
export async function startLiveReplay(sim: SimCluster, options: LiveReplayOptions): Promise<LiveReplay> {
  const { startMs, speed = 1, now: realNow = Date.now, tickMs = 1_000, ports = {}, logger } = options
  if (!(speed > 0)) throw new Error(`replay speed must be positive, got ${speed}`)
  const realStart = realNow()
  const now = () => Math.floor(startMs + (realNow() - realStart) * speed)
  const laps = new Laps(sim, options.loop ?? sim.trace === 'helios-earth-2020-05')
  const nodes = new Map<string, SimNode>(sim.nodes.map((n) => [n.name, n]))
  const kube = new KubeApiServer({ ...options.kube, now })
  const mirror = new KubeMirror(sim, kube)
  mirror.init()
  const walker = new Walker(laps, mirror, startMs)
  const servers: LiveServer[] = []
  try {
    const kubeUrl = await kube.start(ports.kube ?? 0)
    servers.push(await startExporterServer({ node: (name) => nodes.get(name), podsOn: (node, t) => laps.lap(laps.lapOf(t)).byNode.get(node) ?? NO_PODS, now }, ports.exporter ?? 0))
    servers.push(await startJupyterServer({ runningNotebook: (ns, name, t) => runningNotebook(laps, ns, name, t), now }, ports.jupyter ?? 0))
    const urls = { kube: kubeUrl, exporter: (servers[0] as LiveServer).url, jupyter: (servers[1] as LiveServer).url }
    return runLoop({ sim, urls, kube, now, walker, servers, tickMs, logger })
  } catch (err) {
    await Promise.all([kube.close(), ...servers.map((s) => s.close())])
    throw err
  }
}

function runningNotebook(laps: Laps, namespace: string, name: string, tMs: number): SimPod | undefined {
  return laps.lap(laps.lapOf(tMs)).notebooks.get(`${namespace}/${name}`)?.find((p) => runningAt(p, tMs))
}

interface LoopParts {
  sim: SimCluster
  urls: LiveReplay['urls']
  kube: KubeApiServer
  now: () => number
  walker: Walker
  servers: LiveServer[]
  tickMs: number
  logger: Logger | undefined
}

function runLoop(p: LoopParts): LiveReplay {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const tick = () => void p.walker.advance(p.now())
  const schedule = () => {
    timer = setTimeout(() => {
      try {
        tick()
      } catch (err) {
        p.logger?.error({ err: err instanceof Error ? err.message : String(err), cluster: p.sim.name }, 'replay tick failed')
      }
      if (!stopped) schedule()
    }, p.tickMs)
    timer.unref()
  }
  schedule()
  return {
    sim: p.sim, urls: p.urls, kube: p.kube, now: p.now, tick,
    collectorConfig: () => collectorConfig(p.sim, p.urls),
    stop: async () => {
      stopped = true
      clearTimeout(timer)
      await Promise.all([p.kube.close(), ...p.servers.map((s) => s.close())])
    },
  }
}

/** The collector settings that point gpuscope at a replay's servers. */
export function collectorConfig(sim: SimCluster, urls: LiveReplay['urls']): LiveCollectorConfig {
  return {
    kubernetes: { clusters: [{ name: sim.name, server: urls.kube, insecureSkipTlsVerify: true }] },
    dcgm: { targets: sim.nodes.map((n) => ({ cluster: sim.name, url: `${urls.exporter}${exporterPath(n.name)}`, node: n.name })) },
    jupyter: { urlTemplate: `${urls.jupyter}/notebook/{namespace}/{name}` },
  }
}
