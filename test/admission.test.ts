import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import type { Server } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registerAdmissionHook, startAdmissionTls, type AdmissionDeps, type JsonPatchOp } from '../alerts/admission'
import { configSchema, type Config } from '../config/schema'
import type { ActionRecord } from '../core/model'
import { openTestStore, silentLogger, type TestStore } from './helpers/store'

// The mutating admission hook, AdmissionReview v1. Pool c1/dgx is bursting (a performed
// scale-out in the audit log); c2/p2 only has a dry-run scale-out, so it is not.
const NOW = Date.now()
let ts: TestStore
let config: Config

const burstRow = (cluster: string, pool: string, action: string, tsMs: number, dryRun: boolean): ActionRecord => ({
  tsMs, id: `${cluster}-${pool}-${action}-${tsMs}`, action, cluster, namespace: '', workloadKind: 'Pool', workloadName: pool, decision: dryRun ? 'dry-run' : 'scaled',
  dryRun, acted: !dryRun, reason: 'test', evidence: {}, actor: 'test',
})

async function serve(deps: AdmissionDeps): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express()
  registerAdmissionHook(app, deps)
  const server: Server = app.listen(0, '127.0.0.1')
  await new Promise<void>((r) => server.once('listening', () => r()))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) }
}

const gpuPod = (spec: Record<string, unknown> = {}, resources: Record<string, string> = { 'nvidia.com/gpu': '1' }) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'train-', namespace: 'nlp' },
  spec: { containers: [{ name: 'main', image: 'trainer', resources: { limits: resources } }], ...spec },
})
const review = (object: unknown, operation = 'CREATE', uid = '705ab4f5-6393-11e8-b7cc-42010a800002') => ({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
  request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'nlp', operation, object },
})

async function post(url: string, body: unknown): Promise<{ status: number; review: any; patch: JsonPatchOp[] | undefined }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  const r = (await res.json()) as any
  const patch = r.response?.patch === undefined ? undefined : (JSON.parse(Buffer.from(r.response.patch, 'base64').toString('utf8')) as JsonPatchOp[])
  return { status: res.status, review: r, patch }
}

/** Applies RFC 6902 `add` operations (the only ones the hook emits), failing like an API server would on a bad path. */
function applyPatch(doc: unknown, ops: readonly JsonPatchOp[]): any {
  const out = structuredClone(doc) as any
  for (const op of ops) {
    expect(op.op).toBe('add')
    const parts = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    const last = parts.pop() as string
    let parent = out
    for (const p of parts) {
      if (parent[p] === undefined) throw new Error(`path ${op.path}: ${p} does not exist`)
      parent = parent[p]
    }
    if (Array.isArray(parent)) {
      if (last !== '-') throw new Error(`path ${op.path}: only append is expected`)
      parent.push(op.value)
    } else parent[last] = op.value
  }
  return out
}

const TOLERATION = { key: 'gpuscope.io/burst', operator: 'Exists', effect: 'NoSchedule' }
const PREFER_ONPREM = { weight: 100, preference: { matchExpressions: [{ key: 'gpuscope.io/pool', operator: 'In', values: ['dgx'] }] } }

let hook: { url: string; close: () => Promise<void> }

beforeAll(async () => {
  ts = await openTestStore()
  const rows = [burstRow('c1', 'dgx', 'burst-scale-out', NOW - 60_000, false), burstRow('c2', 'p2', 'burst-scale-out', NOW - 60_000, true)]
  const written = ts.writers.sinks.actions.write(rows)
  await ts.writers.flush()
  await written
  const target = { name: 't', provider: 'aws', pool: 'burst', gpusPerNode: 8, maxNodes: 2, usdPerGpuHour: 1, adapter: { type: 'webhook', webhookUrl: 'https://example.invalid/x' } }
  const pool = (cluster: string, p: string) => ({ cluster, pool: p, maxBurstGpus: 16, monthlyBudgetUsd: 100, targets: [target] })
  config = { ...configSchema.parse({ alerts: { admission: { enabled: true }, burst: { pools: [pool('c1', 'dgx'), pool('c2', 'p2')] } } }), store: ts.config.store }
  hook = await serve({ config, query: ts.store.query, logger: silentLogger, now: () => NOW })
})

afterAll(async () => {
  await hook?.close()
  await ts?.close()
})

describe('admission hook while c1/dgx is bursting', () => {
  it.each([
    {
      name: 'a new GPU pod gets the burst toleration and a preference for on-prem',
      pod: gpuPod(),
      want: [{ op: 'add', path: '/spec/tolerations', value: [TOLERATION] }, { op: 'add', path: '/spec/affinity', value: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [PREFER_ONPREM] } } }],
    },
    {
      name: 'existing tolerations and a required node affinity are kept and appended to',
      pod: gpuPod({ tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }], affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } } }),
      want: [{ op: 'add', path: '/spec/tolerations/-', value: TOLERATION }, { op: 'add', path: '/spec/affinity/nodeAffinity/preferredDuringSchedulingIgnoredDuringExecution', value: [PREFER_ONPREM] }],
    },
    {
      name: 'a MIG pod with pod affinity only gets node affinity beside it',
      pod: gpuPod({ affinity: { podAffinity: {} } }, { 'nvidia.com/mig-1g.10gb': '1' }),
      want: [{ op: 'add', path: '/spec/tolerations', value: [TOLERATION] }, { op: 'add', path: '/spec/affinity/nodeAffinity', value: { preferredDuringSchedulingIgnoredDuringExecution: [PREFER_ONPREM] } }],
    },
  ])('$name, as a valid base64 JSON Patch', async ({ pod, want }) => {
    const { status, review: r, patch } = await post(`${hook.url}/hooks/admission/pods/c1`, review(pod))
    expect(status).toBe(200)
    expect(r.response).toMatchObject({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true, patchType: 'JSONPatch' })
    expect(patch).toEqual(want)
    const patched = applyPatch(pod, patch ?? [])
    expect(patched.spec.tolerations).toContainEqual(TOLERATION)
    expect(patched.spec.containers).toEqual(pod.spec.containers)
  })

  it.each([
    { name: 'a pod without GPUs', path: '/hooks/admission/pods/c1', body: review(gpuPod({}, { cpu: '2' })) },
    { name: 'an UPDATE', path: '/hooks/admission/pods/c1', body: review(gpuPod(), 'UPDATE') },
    { name: 'a pod that already tolerates the burst taint', path: '/hooks/admission/pods/c1', body: review(gpuPod({ tolerations: [TOLERATION] })) },
    { name: 'a GPU pod of a cluster whose pool only has a dry-run scale-out', path: '/hooks/admission/pods/c2', body: review(gpuPod()) },
  ])('admits $name unchanged', async ({ path, body }) => {
    const { status, review: r, patch } = await post(hook.url + path, body)
    expect(status).toBe(200)
    expect(r).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: body.request.uid, allowed: true } })
    expect(patch).toBeUndefined()
  })
})

describe('admission hook fails open', () => {
  it.each([
    { name: 'the store fails', query: async () => { throw new Error('store down') }, body: review(gpuPod()) as unknown, uid: '705ab4f5-6393-11e8-b7cc-42010a800002' },
    { name: 'the store never answers (timeout)', query: () => new Promise<never>(() => {}), body: review(gpuPod()) as unknown, uid: '705ab4f5-6393-11e8-b7cc-42010a800002' },
    { name: 'the body is not an AdmissionReview', query: async () => [], body: '{"hello":', uid: '' },
    { name: 'the body is larger than the hook reads', query: async () => [], body: `"${'x'.repeat(5 * 1024 * 1024)}"`, uid: '' },
  ])('admits unchanged when $name', async ({ query, body, uid }) => {
    const c = { ...config, alerts: { ...config.alerts, admission: { ...config.alerts.admission, timeoutMs: 50 } } }
    const h = await serve({ config: c, query: query as AdmissionDeps['query'], logger: silentLogger, now: () => NOW })
    try {
      const { status, review: r } = await post(`${h.url}/hooks/admission/pods`, body)
      expect(status).toBe(200)
      expect(r.response).toEqual({ uid, allowed: true })
    } finally {
      await h.close()
    }
  })

  it('admits unchanged once the pool scaled back in', async () => {
    const written = ts.writers.sinks.actions.write([burstRow('c1', 'dgx', 'burst-scale-in', NOW - 1_000, false)])
    await ts.writers.flush()
    await written
    const h = await serve({ config, query: ts.store.query, logger: silentLogger, now: () => NOW })
    try {
      expect((await post(`${h.url}/hooks/admission/pods/c1`, review(gpuPod()))).patch).toBeUndefined()
    } finally {
      await h.close()
    }
  })
})

describe('admission hook over TLS', () => {
  it('answers AdmissionReviews over HTTPS when a certificate is configured', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpuscope-tls-'))
    try {
      const cert = join(dir, 'tls.crt')
      const key = join(dir, 'tls.key')
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' })
      const c = { ...config, alerts: { ...config.alerts, admission: { ...config.alerts.admission, tls: { certFile: cert, keyFile: key, host: '127.0.0.1', port: 0 } } } }
      const server = await startAdmissionTls({ config: c, query: ts.store.query, logger: silentLogger, now: () => NOW })
      try {
        const body = JSON.stringify(review(gpuPod({}, { cpu: '1' })))
        const answer = await new Promise<string>((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', port: server?.port, path: '/hooks/admission/pods', method: 'POST', ca: readFileSync(cert), headers: { 'content-type': 'application/json' } }, (res) => {
            let text = ''
            res.on('data', (d: Buffer) => (text += d.toString()))
            res.on('end', () => resolve(text))
          })
          req.on('error', reject)
          req.end(body)
        })
        expect(JSON.parse(answer)).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true } })
      } finally {
        await server?.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
