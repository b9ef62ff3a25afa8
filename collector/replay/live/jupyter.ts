import { activityAt, lastNotebookActivity } from '../sim/activity'
import type { SimPod } from '../sim/cluster'
import { hash32 } from '../sim/random'
import { closeServer, listenLoopback, segmentsAfter, send } from './http'
import type { LiveServer } from './exporter'

/**
 * The Jupyter servers of the simulated Kubeflow notebooks, on one loopback
 * server, at the paths the Kubeflow culler polls:
 * `/notebook/<namespace>/<name>/api/kernels` and `/api/status`. Each running
 * notebook has one python3 kernel, busy or idle as the activity model says
 * (sim/activity.ts), whose last_activity is the newest busy minute
 * (lastNotebookActivity), or now while busy, or the kernel's start when it
 * has not run a cell within the model's look-back. Notebooks that are not
 * running (unknown, pending, finished) answer 404 like Jupyter's Tornado.
 */

/** A kernel as Jupyter Server's GET /api/kernels lists it. */
export interface KernelJson {
  id: string
  name: string
  last_activity: string
  execution_state: 'busy' | 'idle'
  connections: number
}

/** Jupyter Server's GET /api/status body. */
export interface StatusJson {
  started: string
  last_activity: string
  connections: number
  kernels: number
}

const NOT_FOUND = '{"message": "Not Found", "reason": null}'
const iso = (ms: number) => new Date(ms).toISOString()
const hex = (n: number, digits: number) => n.toString(16).padStart(8, '0').slice(0, digits)

/** A stable kernel id (UUID-shaped) for a notebook pod. */
export function kernelId(pod: Pick<SimPod, 'uid'>): string {
  const h = (salt: string) => hash32(pod.uid, 'kernel', salt)
  return `${hex(h('a'), 8)}-${hex(h('b'), 4)}-4${hex(h('c'), 3)}-a${hex(h('d'), 3)}-${hex(h('e'), 8)}${hex(h('f'), 4)}`
}

/**
 * The kernel's state at `tMs`: busy while a cell runs; last activity is now
 * while busy, else the newest busy minute (never in the future, never before
 * the kernel started), else the kernel's start.
 */
export function kernelState(pod: SimPod, tMs: number): { busy: boolean; startedMs: number; lastActivityMs: number } {
  const startedMs = pod.startMs ?? pod.createdMs
  const busy = activityAt(pod.profile, startedMs, tMs).kernelBusy
  const last = busy ? tMs : (lastNotebookActivity(pod.profile, startedMs, tMs) ?? startedMs)
  return { busy, startedMs, lastActivityMs: Math.max(startedMs, Math.min(tMs, last)) }
}

/** The GET /api/kernels body of a running notebook at `tMs`: one kernel; a client is connected while a cell runs. */
export function kernelsBody(pod: SimPod, tMs: number): KernelJson[] {
  const k = kernelState(pod, tMs)
  return [{ id: kernelId(pod), name: 'python3', last_activity: iso(k.lastActivityMs), execution_state: k.busy ? 'busy' : 'idle', connections: k.busy ? 1 : 0 }]
}

/** The GET /api/status body of a running notebook at `tMs`. */
export function statusBody(pod: SimPod, tMs: number): StatusJson {
  const k = kernelState(pod, tMs)
  return { started: iso(k.startedMs), last_activity: iso(k.lastActivityMs), connections: k.busy ? 1 : 0, kernels: 1 }
}

/** What the Jupyter server reads from the replay. */
export interface NotebookView {
  /** The pod of notebook `<namespace>/<name>` when it is running at `tMs`, else undefined. */
  runningNotebook(namespace: string, name: string, tMs: number): SimPod | undefined
  /** The virtual time. */
  now(): number
}

/** Starts the Jupyter server on 127.0.0.1 (`port` 0 = a free one). */
export async function startJupyterServer(view: NotebookView, port = 0): Promise<LiveServer> {
  const { server, url } = await listenLoopback((req, res) => {
    const json = (status: number, body: string) => send(res, status, 'application/json', body, { server: 'TornadoServer/6.4' })
    const parts = segmentsAfter(new URL(req.url ?? '/', 'http://127.0.0.1').pathname, '/notebook/')
    const api = parts?.length === 4 && parts[2] === 'api' ? parts[3] : undefined
    if (req.method !== 'GET' || !parts || (api !== 'kernels' && api !== 'status')) return json(404, NOT_FOUND)
    const tMs = view.now()
    const pod = view.runningNotebook(parts[0] as string, parts[1] as string, tMs)
    if (!pod) return json(404, NOT_FOUND)
    json(200, JSON.stringify(api === 'kernels' ? kernelsBody(pod, tMs) : statusBody(pod, tMs)))
  }, port)
  return { url, close: () => closeServer(server) }
}
