import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * The small HTTP plumbing the live replay's three servers share. Every server
 * binds 127.0.0.1 only: the replay is a local stand-in for a cluster, never a
 * service on the network.
 */

/** Where every replay server listens. */
export const LOOPBACK = '127.0.0.1'

/** A listening loopback server and its base URL (`http://127.0.0.1:<port>`, no trailing slash). */
export interface LoopbackServer {
  server: Server
  url: string
}

/** Starts `handler` on 127.0.0.1 at `port` (0 = a free port). */
export async function listenLoopback(handler: RequestListener, port = 0): Promise<LoopbackServer> {
  const server = createServer(handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, LOOPBACK, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return { server, url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}` }
}

/** Closes a server and every connection it holds (keep-alive and streaming ones too). */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

/** Sends a complete answer with a content type. */
export function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': contentType, ...headers })
  res.end(body)
}

/** The path segments after `prefix` (URL-decoded), or undefined when the path does not start with it or does not decode. */
export function segmentsAfter(pathname: string, prefix: string): string[] | undefined {
  if (!pathname.startsWith(prefix)) return undefined
  try {
    return pathname.slice(prefix.length).split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s))
  } catch {
    return undefined
  }
}
