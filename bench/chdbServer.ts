/**
 * Child process for benches: the embedded engine behind a loopback ClickHouse
 * HTTP endpoint (test/fakes/clickhouseHttp.ts), so a bench can measure a
 * gpuscope process that writes to a ClickHouse server (the collector role)
 * apart from the engine's own CPU and memory. Prints the URL on stdout.
 * Usage: tsx bench/chdbServer.ts <data dir>
 */
import { startChdbHttpServer } from '../test/fakes/clickhouseHttp'

const path = process.argv[2]
if (!path) {
  process.stderr.write('usage: tsx bench/chdbServer.ts <data dir>\n')
  process.exit(2)
}
const server = await startChdbHttpServer({ path, database: 'gpuscope' })
process.stdout.write(`${server.url}\n`)
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0))
})
