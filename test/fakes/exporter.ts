import { readFileSync } from 'node:fs'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * A loopback stand-in for dcgm-exporter: serves real exporter output (the
 * shared fixtures) as `/metrics`, and can be switched to misbehave the ways
 * real exporters do — hang, answer 500, or serve something that is not
 * Prometheus text.
 */

/** shared/ sits beside the repository, locally and in CI (.ci/run runs in a clone with ../shared). */
export const DCGM_FIXTURE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'fixtures', 'dcgm-exporter')

/** Absolute path of a file in shared/fixtures/dcgm-exporter. */
export const dcgmFixturePath = (name: string): string => join(DCGM_FIXTURE_DIR, name)

/** The text of a file in shared/fixtures/dcgm-exporter. */
export const readDcgmFixture = (name: string): string => readFileSync(dcgmFixturePath(name), 'utf8')

/** How the fake answers `/metrics`. */
export type ExporterMode =
  | { kind: 'fixture'; file: string }
  | { kind: 'text'; body: string }
  /** Holds the request open (up to `maxHoldMs`) so the client's timeout fires. */
  | { kind: 'hang' }
  | { kind: 'status'; status: number }
  | { kind: 'garbage' }

/** A running fake exporter. */
export interface FakeExporter {
  /** `http://127.0.0.1:<port>/metrics`. */
  url: string
  /** `127.0.0.1:<port>`, the form a Prometheus target takes. */
  hostPort: string
  /** Requests to /metrics so far. */
  readonly requests: number
  setMode(mode: ExporterMode): void
  close(): Promise<void>
}

/** Longest a hanging request is held, so a forgotten fake never keeps a test run alive. */
const MAX_HOLD_MS = 30_000
const GARBAGE = '<!DOCTYPE html>\n<html><body><h1>502 Bad Gateway</h1></body></html>\n'

/** Starts a fake exporter on 127.0.0.1 with a free port. */
export async function startFakeExporter(initial: ExporterMode): Promise<FakeExporter> {
  let mode = initial
  let requests = 0
  const held = new Set<NodeJS.Timeout>()
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found\n')
      return
    }
    requests++
    answer(mode, res, held)
  })
  await listen(server)
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    hostPort: `127.0.0.1:${port}`,
    get requests() {
      return requests
    },
    setMode(next) {
      mode = next
    },
    async close() {
      for (const t of held) clearTimeout(t)
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

function answer(mode: ExporterMode, res: ServerResponse, held: Set<NodeJS.Timeout>): void {
  const text = (body: string, status = 200) =>
    res.writeHead(status, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body)
  switch (mode.kind) {
    case 'fixture':
      return void text(readDcgmFixture(mode.file))
    case 'text':
      return void text(mode.body)
    case 'status':
      return void text(`error ${mode.status}\n`, mode.status)
    case 'garbage':
      return void res.writeHead(200, { 'content-type': 'text/html' }).end(GARBAGE)
    case 'hang': {
      const timer = setTimeout(() => {
        held.delete(timer)
        text('gave up holding\n', 503)
      }, MAX_HOLD_MS)
      held.add(timer)
      // The client giving up (its timeout) closes the connection, which ends the hold.
      res.on('close', () => {
        clearTimeout(timer)
        held.delete(timer)
      })
    }
  }
}

function listen(server: Server): Promise<void> {
  return new Promise((resolveListen, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolveListen())
  })
}
