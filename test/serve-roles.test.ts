import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { defaultConfig } from '../config/schema'
import { createStore, type Store } from '../store/client'
import { startChdbHttpServer, type ChdbHttpServer } from './fakes/clickhouseHttp'
import { startFakeExporter, type FakeExporter } from './fakes/exporter'
import { FakeLeaseApi } from './fakes/leaseApi'
import { listeningPort, spawnScript, waitFor200, type Child } from './helpers/serveProcess'

/**
 * `gpuscope serve --role`: each role runs alone as its own process against
 * one shared ClickHouse endpoint (a loopback HTTP front of chDB in this test
 * process, since no ClickHouse server runs here), as they do at scale.
 */
describe('serve --role api | collector | scheduler, one process each', () => {
  let clickhouse: ChdbHttpServer
  let store: Store
  const exporters: FakeExporter[] = []
  const children: Child[] = []
  let dir: string
  let configFile: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gpuscope-roles-'))
    clickhouse = await startChdbHttpServer({ path: join(dir, 'chdb'), database: 'gpuscope' })
    store = await createStore({ ...defaultConfig().store, url: clickhouse.url })
    for (const file of ['kops-aws-L4-1gpu.prom', 'kops-aws-L4-1gpu.prom']) exporters.push(await startFakeExporter({ kind: 'fixture', file }))
    configFile = join(dir, 'gpuscope.yaml')
    writeFileSync(configFile, stringify({
      api: { port: 0 },
      store: { url: clickhouse.url, writer: { flushIntervalMs: 100 } },
      replay: { mode: 'off' },
      collector: { dcgm: { intervalMs: 500, timeoutMs: 500, targets: [{ cluster: 'east', url: exporters[0]!.url, node: 'east-1' }, { cluster: 'west', url: exporters[1]!.url, node: 'west-1' }] } },
    }))
  })
  afterAll(async () => {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL')
    await store?.close()
    for (const e of exporters) await e.close()
    await clickhouse?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const start = async (...args: string[]): Promise<{ child: Child; base: string }> => {
    const child = spawnScript('cli/main.ts', ['--config', configFile, 'serve', ...args], {})
    children.push(child)
    return { child, base: `http://127.0.0.1:${await listeningPort(child)}` }
  }
  const readyz = async (base: string) => (await (await fetch(`${base}/readyz`)).json()) as { data: { ready: boolean; problems: string[] } }

  it('the api role waits, unready, for the schema; a collector shard migrates and collects only its clusters; the scheduler runs alone', async () => {
    const api = await start('--role', 'api')
    // The api role never runs DDL: before anyone migrates it says why it is not ready.
    let before = await readyz(api.base)
    for (let i = 0; i < 200 && before.data.problems.some((p) => p.startsWith('store: opening')); i++) {
      await new Promise((r) => setTimeout(r, 50))
      before = await readyz(api.base)
    }
    expect(before.data.ready).toBe(false)
    expect(before.data.problems.join(' ')).toMatch(/schema: .*gpuscope migrate/)

    const collector = await start('--role', 'collector', '--clusters', 'east')
    await waitFor200(`${collector.base}/readyz`, 300)
    await waitFor200(`${api.base}/readyz`, 300)
    const scheduler = await start('--role', 'scheduler')
    await waitFor200(`${scheduler.base}/readyz`, 300)

    // The shard writes samples of its own cluster and none of the other's.
    let clusters: string[] = []
    for (let i = 0; i < 100 && clusters.length === 0; i++) {
      clusters = (await store.query<{ cluster: string }>('SELECT DISTINCT cluster FROM gpu_samples ORDER BY cluster')).map((r) => r.cluster)
      if (clusters.length === 0) await new Promise((r) => setTimeout(r, 100))
    }
    expect(clusters).toEqual(['east'])
    expect(exporters[0]!.requests).toBeGreaterThan(0)
    expect(exporters[1]!.requests).toBe(0)

    // Only the api role serves /api/v1; every role serves health and metrics.
    expect((await fetch(`${api.base}/api/v1/summary`)).status).toBe(200)
    for (const other of [collector, scheduler]) {
      expect((await fetch(`${other.base}/api/v1/summary`)).status).toBe(404)
      expect((await fetch(`${other.base}/metrics`)).status).toBe(200)
    }
    const collectorMetrics = await (await fetch(`${collector.base}/metrics`)).text()
    expect(collectorMetrics).toMatch(/gpuscope_store_rows_written_total\{table="gpu_samples"\} [1-9]/)
    for (const c of [api, collector, scheduler]) expect(c.child.stderr.join('\n')).toMatch(/"role":"(api|collector|scheduler)"/)

    for (const c of [api, collector, scheduler]) {
      c.child.proc.kill('SIGTERM')
      expect(await c.child.exit).toEqual({ code: 0, signal: null })
    }
    expect(clickhouse.served.query).toBeGreaterThan(0)
  })

  it('two scheduler replicas with leader election: exactly one leads; when it is killed the standby takes over', async () => {
    const leases = new FakeLeaseApi({ token: 'lease-token' })
    try {
      const kubeconfig = async (name: string) => {
        const endpoint = await leases.endpoint(name)
        const file = join(dir, `${name}.kubeconfig`)
        writeFileSync(file, stringify({
          apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
          clusters: [{ name: 'fake', cluster: { server: endpoint.url, 'insecure-skip-tls-verify': true } }],
          users: [{ name: 'gpuscope', user: { token: 'lease-token' } }],
          contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'gpuscope' } }],
        }))
        return file
      }
      const replica = async (name: string) => {
        const child = spawnScript('cli/main.ts', ['--config', configFile, 'serve', '--role', 'scheduler'], {
          GPUSCOPE_LEADER_ELECTION_ENABLED: 'true', GPUSCOPE_LEADER_ELECTION_KUBECONFIG: await kubeconfig(name), GPUSCOPE_LEADER_ELECTION_IDENTITY: name,
          GPUSCOPE_LEADER_ELECTION_LEASE_DURATION_MS: '2000', GPUSCOPE_LEADER_ELECTION_RENEW_DEADLINE_MS: '1400', GPUSCOPE_LEADER_ELECTION_RETRY_PERIOD_MS: '200',
        })
        children.push(child)
        return { name, child, base: `http://127.0.0.1:${await listeningPort(child)}` }
      }
      const [a, b] = [await replica('sched-a'), await replica('sched-b')]
      const leaderGauge = async (base: string) => /^gpuscope_scheduler_leader (\d)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1]
      const first = await Promise.race([a, b].map((r) => r.child.waitForLine(/scheduler leadership acquired/, 60_000).then(() => r)))
      const standby = first === a ? b : a
      // Both are ready (a standby must pass /readyz so a rolling update can finish); exactly one leads.
      for (const r of [a, b]) await waitFor200(`${r.base}/readyz`, 300)
      expect(await leaderGauge(first.base)).toBe('1')
      expect(await leaderGauge(standby.base)).toBe('0')
      expect(standby.child.stderr.join('\n')).not.toMatch(/scheduler leadership acquired/)
      expect(leases.store.get('gpuscope', 'gpuscope-scheduler')?.spec.holderIdentity).toBe(first.name)

      first.child.proc.kill('SIGKILL')
      await standby.child.waitForLine(/scheduler leadership acquired/, 60_000)
      const lease = leases.store.get('gpuscope', 'gpuscope-scheduler')
      expect(lease?.spec.holderIdentity).toBe(standby.name)
      expect(lease?.spec.leaseTransitions).toBe(1)
      // A graceful stop releases the Lease at once.
      standby.child.proc.kill('SIGTERM')
      expect(await standby.child.exit).toEqual({ code: 0, signal: null })
      expect(leases.store.get('gpuscope', 'gpuscope-scheduler')?.spec.holderIdentity ?? '').toBe('')
    } finally {
      await leases.close()
    }
  })

  it('refuses a role other than all on the embedded store, and a shard of an unknown cluster, with exit code 2', async () => {
    const embedded = spawnScript('cli/main.ts', ['serve', '--role', 'api'], { GPUSCOPE_STORE_PATH: join(dir, 'embedded'), GPUSCOPE_REPLAY_MODE: 'off' })
    children.push(embedded)
    expect((await embedded.exit).code).toBe(2)
    expect(embedded.stderr.join('\n')).toMatch(/--role api runs alone against a ClickHouse server/)
    const unknown = spawnScript('cli/main.ts', ['--config', configFile, 'serve', '--role', 'collector', '--clusters', 'north'], {})
    children.push(unknown)
    expect((await unknown.exit).code).toBe(2)
    expect(unknown.stderr.join('\n')).toMatch(/'north' not configured \(configured: east, west\)/)
  })
})
