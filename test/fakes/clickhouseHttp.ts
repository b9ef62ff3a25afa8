import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pipeline } from 'node:stream/promises'
import { createChdbConnection } from 'chdb/connection'

/**
 * A loopback ClickHouse HTTP endpoint backed by the embedded engine (chDB) of
 * the test process. No ClickHouse server can run here, yet the role tests
 * must run `gpuscope serve --role api|collector|scheduler` as separate
 * processes against one shared store, as they do against a real server. This
 * speaks the part of ClickHouse's HTTP interface that @clickhouse/client uses:
 * `POST /?query_id&database&param_*&<settings>` with the SQL (carrying its
 * FORMAT) in the body, or with `query=` in the URL and data in the body
 * (inserts, exec); `GET /ping`; errors as HTTP 500 with `Code: N.
 * DB::Exception: ...` and `X-ClickHouse-Exception-Code`, which the client
 * turns into a ClickHouseError. Basic auth is checked when a password is set.
 *
 * Not a server to deploy: one chDB session serves every request, and
 * per-request settings are applied to that session (as chDB's own connection
 * does).
 */
export interface ChdbHttpServer {
  url: string
  /** Requests served, by kind: for asserting that separate processes really used it. */
  served: { query: number; exec: number; command: number }
  close(): Promise<void>
}

const URL_KEYS = new Set(['query', 'query_id', 'database', 'session_id', 'default_format', 'user', 'password', 'role', 'compress', 'decompress'])

interface Conn {
  query(p: object): Promise<{ stream: NodeJS.ReadableStream }>
  exec(p: object): Promise<{ stream: NodeJS.ReadableStream }>
  command(p: object): Promise<unknown>
  close(): Promise<void>
}

/** Starts the endpoint on 127.0.0.1 with its own chDB data path (`:memory:` by default). */
export async function startChdbHttpServer(opts: { path?: string; database: string; username?: string; password?: string }): Promise<ChdbHttpServer> {
  const conn = createChdbConnection({ path: opts.path ?? ':memory:' }) as unknown as Conn
  await conn.command({ query: `CREATE DATABASE IF NOT EXISTS ${opts.database}` })
  await conn.command({ query: `USE ${opts.database}` })
  const served = { query: 0, exec: 0, command: 0 }
  const expectedAuth = opts.password ? `Basic ${Buffer.from(`${opts.username ?? 'default'}:${opts.password}`).toString('base64')}` : undefined

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname === '/ping') {
      res.end('Ok.\n')
      return
    }
    if (expectedAuth && req.headers.authorization !== expectedAuth) {
      fail(res, 516, 'default: Authentication failed: password is incorrect, or there is no user with such name.')
      return
    }
    const db = url.searchParams.get('database')
    if (db !== null && db !== opts.database) {
      fail(res, 81, `Database ${db} does not exist (this endpoint serves ${opts.database} only)`)
      return
    }
    const queryParams: Record<string, string> = {}
    const settings: Record<string, string> = {}
    for (const [k, v] of url.searchParams) {
      if (k.startsWith('param_')) queryParams[k.slice(6)] = v
      else if (!URL_KEYS.has(k)) settings[k] = v
    }
    const common = { query_params: queryParams, clickhouse_settings: settings }
    const urlQuery = url.searchParams.get('query')
    let stream: NodeJS.ReadableStream | undefined
    if (urlQuery !== null) {
      served.exec++
      stream = (await conn.exec({ ...common, query: urlQuery, values: req })).stream
    } else {
      const sql = await text(req)
      if (/\bFORMAT\s+\w+\s*;?\s*$/i.test(sql) && !/^\s*INSERT\b/i.test(sql)) {
        served.query++
        stream = (await conn.query({ ...common, query: sql })).stream
      } else {
        served.command++
        await conn.command({ ...common, query: sql })
      }
    }
    res.setHeader('X-ClickHouse-Summary', '{}')
    if (stream) await pipeline(stream, res)
    else res.end()
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = err as { code?: string | number; message?: string }
      fail(res, Number(e.code) || 1001, e.message ?? String(err))
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await conn.close()
    },
  }
}

function fail(res: ServerResponse, code: number, message: string): void {
  if (res.headersSent) {
    res.destroy(new Error(message))
    return
  }
  res.statusCode = code === 516 ? 401 : 500
  res.setHeader('X-ClickHouse-Exception-Code', String(code))
  res.end(`Code: ${code}. DB::Exception: ${message}. (FAKE_CHDB_HTTP)\n`)
}

async function text(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
