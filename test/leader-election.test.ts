import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { connectLeaseApi } from '../alerts/leader/kubeLease'
import { createLeaderElector, type LeaderElector, type LeaseApi, type LeaseRecord } from '../alerts/leader/lease'
import { KubeApiError } from '../collector/kubernetes/client'
import { ConfigError } from '../core/errors'
import type { Logger } from '../core/ports'
import { FakeLeaseApi, type LeaseEndpoint } from './fakes/leaseApi'

/**
 * Leader election end to end: electors talk to the loopback Lease API through
 * the real adapter (@kubernetes/client-node's CoordinationV1Api, configured
 * from a kubeconfig file with a bearer token), each through its own endpoint
 * so one can be partitioned. Assertions are on facts and orderings in one
 * shared event log (electors' acquired/lost and the API server's record of the
 * holder), never on elapsed time; waits are bounded polls.
 */

const TOKEN = 'leader-test-token'
const NS = 'gpuscope'
const NAME = 'gpuscope-scheduler'
// Real time on a shared 2-CPU CI machine: a 2.4 s renew deadline lets a leader miss several 200 ms retries
// before it gives up, and the 1.6 s until the 4 s lease expires lets a late deadline timer still fire before
// another replica may take over (the ordering the takeover tests assert). The Lease counts whole seconds.
const timing = { leaseDurationMs: 4_000, renewDeadlineMs: 2_400, retryPeriodMs: 200 }
const silent: Logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let dir: string
let fake: FakeLeaseApi

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gpuscope-leader-'))
  fake = new FakeLeaseApi({ token: TOKEN })
})

function kubeconfigFor(endpoint: LeaseEndpoint, token = TOKEN): string {
  const file = join(dir, `${endpoint.name}.kubeconfig`)
  writeFileSync(file, stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server: endpoint.url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'gpuscope', user: { token } }],
    contexts: [{ name: 'leader', context: { cluster: 'fake', user: 'gpuscope' } }],
    'current-context': 'leader',
  }))
  return file
}

async function apiThrough(endpoint: LeaseEndpoint, token = TOKEN): Promise<LeaseApi> {
  return connectLeaseApi({ kubeconfig: kubeconfigFor(endpoint, token), context: 'leader' }, { requestTimeoutMs: 5_000 })
}

const freshSignal = () => new AbortController().signal

describe('kube Lease adapter against the fake API server', () => {
  afterEach(async () => {
    await fake.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('maps 404 to absent, 409 to conflict, and round-trips the record with MicroTime on the wire', async () => {
    const api = await apiThrough(await fake.endpoint('a'))
    const s = freshSignal()
    expect(await api.get(NS, NAME, s)).toBeUndefined()
    const record: LeaseRecord = { holderIdentity: 'a', leaseDurationSeconds: 2, acquireTimeMs: Date.UTC(2025, 0, 1, 0, 0, 0, 123), renewTimeMs: Date.UTC(2025, 0, 1, 0, 0, 1, 456), leaseTransitions: 3 }
    const created = await api.create(NS, NAME, record, s)
    expect(created.status).toBe('ok')
    if (created.status !== 'ok') return
    expect(created.lease.record).toEqual(record)
    expect(fake.store.get(NS, NAME)?.spec.renewTime).toBe('2025-01-01T00:00:01.456000Z')
    expect(await api.create(NS, NAME, record, s)).toEqual({ status: 'conflict' })
    const read = await api.get(NS, NAME, s)
    expect(read).toEqual(created.lease)
    const renewed = await api.update(NS, NAME, { ...record, renewTimeMs: record.renewTimeMs! + 1_000 }, created.lease.resourceVersion, s)
    expect(renewed.status).toBe('ok')
    if (renewed.status !== 'ok') return
    expect(Number(renewed.lease.resourceVersion)).toBeGreaterThan(Number(created.lease.resourceVersion))
    expect(await api.update(NS, NAME, record, created.lease.resourceVersion, s)).toEqual({ status: 'conflict' })
    expect(await api.update(NS, 'absent', record, '1', s)).toEqual({ status: 'notFound' })
    // Releasing: no holder is sent as an absent holderIdentity and read back as ''.
    const released = await api.update(NS, NAME, { ...record, holderIdentity: '' }, renewed.lease.resourceVersion, s)
    expect(released.status === 'ok' && released.lease.record.holderIdentity).toBe('')
    expect(fake.store.get(NS, NAME)?.spec.holderIdentity).toBeUndefined()
  })

  it('authenticates with the kubeconfig token, and a refusal names the status but never the token', async () => {
    const endpoint = await fake.endpoint('a')
    await (await apiThrough(endpoint)).get(NS, NAME, freshSignal())
    expect(endpoint.requests.map((r) => r.authorization)).toEqual([`Bearer ${TOKEN}`])
    const wrong = await apiThrough(endpoint, 'not-the-token')
    const err = await wrong.get(NS, NAME, freshSignal()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KubeApiError)
    expect((err as KubeApiError).statusCode).toBe(401)
    expect((err as Error).message).not.toContain('not-the-token')
  })

  it('gives up on a request that hangs when its signal aborts, and reports a reset as an upstream error', async () => {
    const endpoint = await fake.endpoint('a')
    const api = await apiThrough(endpoint)
    endpoint.partition('hang')
    const controller = new AbortController()
    const pending = api.get(NS, NAME, controller.signal).catch((e: unknown) => e)
    for (let i = 0; i < 200 && endpoint.requests.length === 0; i++) await sleep(10)
    controller.abort()
    expect(await pending).toBeInstanceOf(KubeApiError)
    endpoint.partition('fail')
    const reset = await api.get(NS, NAME, freshSignal()).catch((e: unknown) => e)
    expect(reset).toBeInstanceOf(KubeApiError)
    expect((reset as KubeApiError).statusCode).toBeUndefined()
    expect(endpoint.requests.map((r) => r.outcome)).toEqual(['hung', 'reset'])
  })

  it('without a kubeconfig outside a cluster, fails with a config error naming leaderElection', async () => {
    const err = await connectLeaseApi({ kubeconfig: '', context: '' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).issues[0]?.path).toBe('leaderElection')
  })
})

interface Replica {
  id: string
  endpoint: LeaseEndpoint
  elector: LeaderElector
}

describe('leader election: three replicas, one Lease', () => {
  const log: string[] = []
  const acting = new Set<string>()
  const violations: string[] = []
  let replicas: Replica[] = []

  beforeEach(async () => {
    log.length = 0
    acting.clear()
    violations.length = 0
    let lastHolder: string | undefined
    // The API server's view, in the same log: every change of holder it stored.
    fake.store.onWrite((w) => {
      if (w.holderIdentity !== lastHolder) log.push(`store: holder '${w.holderIdentity}' transitions ${w.leaseTransitions}`)
      lastHolder = w.holderIdentity
    })
    replicas = []
    for (const id of ['r1', 'r2', 'r3']) {
      const endpoint = await fake.endpoint(id)
      const api = await apiThrough(endpoint)
      const elector = createLeaderElector({
        api, namespace: NS, name: NAME, identity: id, logger: silent, ...timing,
        onStartedLeading: (signal) => {
          if (acting.size > 0) violations.push(`${id} started while ${[...acting].join(', ')} acted`)
          acting.add(id)
          log.push(`${id} acquired`)
          signal.addEventListener('abort', () => acting.delete(id), { once: true })
        },
        onStoppedLeading: () => {
          if (acting.has(id)) violations.push(`${id} stopped without its signal aborting`)
          log.push(`${id} lost`)
        },
      })
      replicas.push({ id, endpoint, elector })
    }
    for (const r of replicas) r.elector.start()
  })

  afterEach(async () => {
    await Promise.all(replicas.map((r) => r.elector.stop({ release: false })))
    await fake.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const leaders = () => replicas.filter((r) => r.elector.isLeader())

  /** Polls (at most `maxIterations` times) until `cond`, checking at every step that no two replicas lead at once. */
  async function waitFor(what: string, cond: () => boolean, maxIterations = 600): Promise<void> {
    for (let i = 0; i < maxIterations; i++) {
      const now = leaders()
      if (now.length > 1) violations.push(`two leaders: ${now.map((r) => r.id).join(', ')}`)
      if (cond()) return
      await sleep(20)
    }
    throw new Error(`gave up waiting for ${what}; log: ${log.join(' | ')}`)
  }

  /** Polls a fixed number of steps, checking the one-leader rule at each. */
  const observe = (steps: number) => waitFor('nothing', () => false, steps).catch(() => undefined)

  async function steadyLeader(): Promise<Replica> {
    await waitFor('a leader', () => leaders().length === 1)
    const leader = leaders()[0]!
    // Several renewals, so the others have seen the lease change and keep out.
    const renewals = leader.endpoint.requests.filter((r) => r.method === 'PUT').length
    await waitFor('three renewals', () => leader.endpoint.requests.filter((r) => r.method === 'PUT').length >= renewals + 3)
    return leader
  }

  it('exactly one replica acts', async () => {
    const leader = await steadyLeader()
    await observe(40)
    expect(violations).toEqual([])
    expect(log).toEqual([`store: holder '${leader.id}' transitions 0`, `${leader.id} acquired`])
    expect(new Set(fake.store.writes.map((w) => w.holderIdentity))).toEqual(new Set([leader.id]))
    for (const r of replicas) {
      expect(r.elector.status()).toMatchObject({ holder: leader.id, isLeader: r === leader, transitions: 0 })
      expect(r.endpoint.requests.every((q) => q.authorization === `Bearer ${TOKEN}`)).toBe(true)
    }
    expect(replicas.filter((r) => r !== leader).every((r) => r.endpoint.requests.every((q) => q.method === 'GET' || q.outcome === 409 || q.outcome === 201))).toBe(true)
  })

  it('when the leader is killed, another takes over once the lease expires and leaseTransitions increments', async () => {
    const old = await steadyLeader()
    // A crash: no release, no more requests.
    await old.elector.stop({ release: false })
    await old.endpoint.close()
    await waitFor('a new leader', () => leaders().length === 1)
    const next = leaders()[0]!
    expect(next.id).not.toBe(old.id)
    expect(violations).toEqual([])
    expect(fake.store.get(NS, NAME)?.spec).toMatchObject({ holderIdentity: next.id, leaseTransitions: 1 })
    expect(log).toEqual([
      `store: holder '${old.id}' transitions 0`, `${old.id} acquired`, `${old.id} lost`,
      `store: holder '${next.id}' transitions 1`, `${next.id} acquired`,
    ])
  })

  it.each([
    { name: 'requests hang', mode: 'hang' as const },
    { name: 'connections reset', mode: 'fail' as const },
  ])('a partitioned leader ($name) stops acting before the new leader starts, and stays out after the partition heals', async ({ mode }) => {
    const old = await steadyLeader()
    old.endpoint.partition(mode)
    await waitFor('a new leader', () => leaders().some((r) => r !== old))
    const next = leaders()[0]!
    expect(log.indexOf(`${old.id} lost`)).toBeGreaterThan(-1)
    expect(log.indexOf(`${old.id} lost`)).toBeLessThan(log.indexOf(`${next.id} acquired`))
    expect(log.indexOf(`store: holder '${next.id}' transitions 1`)).toBeLessThan(log.indexOf(`${next.id} acquired`))
    old.endpoint.heal()
    await waitFor('the healed replica to see the new holder', () => old.elector.status().holder === next.id)
    await observe(20)
    expect(old.elector.isLeader()).toBe(false)
    expect(violations).toEqual([])
    expect(log.filter((e) => e.endsWith('acquired'))).toEqual([`${old.id} acquired`, `${next.id} acquired`])
  })

  it('a leader that stops gracefully releases the lease before another acquires it', async () => {
    const old = await steadyLeader()
    await old.elector.stop()
    await waitFor('a new leader', () => leaders().length === 1)
    const next = leaders()[0]!
    expect(violations).toEqual([])
    expect(log).toEqual([
      `store: holder '${old.id}' transitions 0`, `${old.id} acquired`, `${old.id} lost`,
      `store: holder '' transitions 0`, `store: holder '${next.id}' transitions 1`, `${next.id} acquired`,
    ])
  })
})
