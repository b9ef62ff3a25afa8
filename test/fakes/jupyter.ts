import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { sharedFixtures } from '../helpers/fixtures'

/**
 * A loopback Jupyter Server for many notebooks, as the Kubeflow culler sees
 * them: `/notebook/<namespace>/<name>/api/{kernels,status,sessions}`. Bodies
 * are served byte for byte (the real captures in shared/fixtures/jupyter-kubeflow),
 * and each notebook can fail the way real servers do.
 */

/** The real response bodies (see shared/fixtures/jupyter-kubeflow/README.md). */
export const jupyterFixtures = {
  /** Two idle python3 kernels, 0 connections (JupyterLab capture, 2023-01-26). */
  kernelsCapture: readFixture('api-kernels_jupyterlab-capture_2023-01-26.json'),
  /** One idle kernel with 1 connection (Kubeflow notebook-idleness proposal). */
  kernelsProposal: readFixture('api-kernels_kubeflow-idleness-proposal.json'),
  /** The sessions of the same capture (their kernels are the capture's kernels). */
  sessionsCapture: readFixture('api-sessions_jupyterlab-capture_2023-01-26.json'),
}

function readFixture(file: string): string {
  return readFileSync(sharedFixtures('jupyter-kubeflow', file), 'utf8')
}

/**
 * How one notebook server behaves: `ok` serves the bodies; `http-error`
 * answers every call with `httpStatus`; `hang` never answers (the client must
 * time out); `reset` drops the connection; `login-redirect` answers 302 as an
 * auth proxy would.
 */
export type FakeNotebookMode = 'ok' | 'http-error' | 'hang' | 'reset' | 'login-redirect'

/** One notebook server's bodies (raw text, served as is) and behaviour. */
export interface FakeNotebook {
  mode?: FakeNotebookMode
  kernels?: string
  /** /api/status body; absent answers 404 (as a server without the status API). */
  status?: string
  sessions?: string
  httpStatus?: number
}

/** A request the fake saw. */
export interface FakeJupyterCall {
  namespace: string
  name: string
  api: string
}

/** A running fake Jupyter server. */
export interface FakeJupyter {
  /** Base URL such as `http://127.0.0.1:PORT`; notebooks live under `/notebook/<ns>/<name>`. */
  url: string
  /** Sets (or replaces) the notebook `<namespace>/<name>`. */
  set(namespace: string, name: string, notebook: FakeNotebook): void
  calls: FakeJupyterCall[]
  /** The most requests that were in flight at once. */
  maxInFlight(): number
  close(): Promise<void>
}

const ROUTE = /^\/notebook\/([^/]+)\/([^/]+)\/api\/(kernels|status|sessions)\/?(?:\?.*)?$/

/** Starts a fake Jupyter server on 127.0.0.1 with a free port. */
export async function startFakeJupyter(): Promise<FakeJupyter> {
  const notebooks = new Map<string, FakeNotebook>()
  const calls: FakeJupyterCall[] = []
  const sockets = new Set<Socket>()
  let inFlight = 0
  let maxInFlight = 0
  const server = createServer((req, res) => {
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    res.on('close', () => inFlight--)
    handle(req, res)
  })
  function handle(req: IncomingMessage, res: ServerResponse): void {
    const m = ROUTE.exec(req.url ?? '')
    if (req.method !== 'GET' || !m) return void json(res, 404, '{"message": "Not Found", "reason": null}')
    const [namespace, name, api] = [decodeURIComponent(m[1] ?? ''), decodeURIComponent(m[2] ?? ''), m[3] ?? '']
    calls.push({ namespace, name, api })
    const nb = notebooks.get(`${namespace}/${name}`)
    if (!nb) return void json(res, 404, '{"message": "Not Found", "reason": null}')
    serve(nb, api, req, res)
  }
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    set: (namespace, name, notebook) => void notebooks.set(`${namespace}/${name}`, notebook),
    calls,
    maxInFlight: () => maxInFlight,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function serve(nb: FakeNotebook, api: string, req: IncomingMessage, res: ServerResponse): void {
  switch (nb.mode ?? 'ok') {
    case 'hang':
      return // the client's timeout (or close()) ends it
    case 'reset':
      return void req.socket.destroy()
    case 'http-error':
      return void json(res, nb.httpStatus ?? 503, '{"message": "Service Unavailable", "reason": null}')
    case 'login-redirect':
      res.writeHead(302, { location: '/dex/auth?client_id=kubeflow-oidc-authservice' })
      return void res.end()
    case 'ok': {
      const body = api === 'kernels' ? nb.kernels : api === 'status' ? nb.status : nb.sessions
      return body === undefined ? void json(res, 404, '{"message": "Not Found", "reason": null}') : void json(res, 200, body)
    }
  }
}

function json(res: ServerResponse, status: number, body: string): void {
  // Jupyter Server is Tornado: it answers JSON with this content type and a Server header.
  res.writeHead(status, { 'content-type': 'application/json', server: 'TornadoServer/6.2' })
  res.end(body)
}
