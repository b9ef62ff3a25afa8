import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeKubeApi } from '../../test/fakes/kubeApi'
import { kubernetesClusterSchema, kubernetesSchema } from '../../config/kubernetes'
import { ConfigError } from '../../core/errors'
import { connectKubeApi, KubeApiError, loadKubeConfig } from './client'

const dir = mkdtempSync(join(tmpdir(), 'gpuscope-kubeconfig-'))
const fake = new FakeKubeApi({ token: 'right-token-9c1d' })
let url = ''
beforeAll(async () => {
  url = await fake.start()
})
afterAll(async () => {
  await fake.close()
  rmSync(dir, { recursive: true, force: true })
})

const cluster = (over: Record<string, unknown>) => kubernetesClusterSchema.parse({ name: 'c1', ...over })

const KUBECONFIG = `apiVersion: v1
kind: Config
current-context: a
clusters:
- name: ca
  cluster: { server: 'https://a.example:6443' }
- name: cb
  cluster: { server: 'https://b.example:6443', insecure-skip-tls-verify: true }
contexts:
- name: a
  context: { cluster: ca, user: ua }
- name: b
  context: { cluster: cb, user: ub }
users:
- name: ua
  user: { token: token-a }
- name: ub
  user: { token: token-b }
`

describe('loadKubeConfig', () => {
  it('builds a config from server + token', async () => {
    const kc = await loadKubeConfig(cluster({ server: 'https://api.example:6443/', token: 't0' }))
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://api.example:6443', skipTLSVerify: false })
    expect(kc.getCurrentUser()?.token).toBe('t0')
  })

  it.each([
    { name: 'its current context', over: {}, want: { server: 'https://a.example:6443', token: 'token-a', skip: false } },
    { name: 'the configured context', over: { context: 'b' }, want: { server: 'https://b.example:6443', token: 'token-b', skip: true } },
    {
      name: 'with server, token and insecureSkipTlsVerify overriding the file',
      over: { context: 'a', server: 'https://proxy.example', token: 'override', insecureSkipTlsVerify: true },
      want: { server: 'https://proxy.example', token: 'override', skip: true },
    },
  ])('reads a kubeconfig file: $name', async ({ over, want }) => {
    const file = join(dir, 'kubeconfig')
    writeFileSync(file, KUBECONFIG)
    const kc = await loadKubeConfig(cluster({ kubeconfig: file, ...over }))
    expect({ server: kc.getCurrentCluster()?.server, token: kc.getCurrentUser()?.token, skip: kc.getCurrentCluster()?.skipTLSVerify }).toEqual(want)
  })

  it('names a context missing from the kubeconfig', async () => {
    const file = join(dir, 'kubeconfig')
    writeFileSync(file, KUBECONFIG)
    await expect(loadKubeConfig(cluster({ kubeconfig: file, context: 'nope' }))).rejects.toThrow(/context 'nope' is not in/)
  })

  it.skipIf(process.env.KUBERNETES_SERVICE_HOST !== undefined)('refuses to start with neither kubeconfig nor server outside a pod', async () => {
    await expect(loadKubeConfig(cluster({}))).rejects.toBeInstanceOf(ConfigError)
  })
})

describe('connectKubeApi against the loopback API', () => {
  it('sends the bearer token and lists', async () => {
    fake.add('namespaces', { metadata: { name: 'ml' } })
    const api = await connectKubeApi(cluster({ server: url, token: 'right-token-9c1d', insecureSkipTlsVerify: true }))
    const list = await api.getJson<{ kind: string; items: unknown[] }>('/api/v1/namespaces', { limit: '10' })
    expect(list).toMatchObject({ kind: 'NamespaceList', items: [{ metadata: { name: 'ml' } }] })
  })

  it('fails with the HTTP status and never echoes the token', async () => {
    const api = await connectKubeApi(cluster({ server: url, token: 'wrong-token-77aa', insecureSkipTlsVerify: true }))
    const err = await api.getJson('/api/v1/namespaces', {}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KubeApiError)
    expect((err as KubeApiError).statusCode).toBe(401)
    expect(String((err as Error).message)).not.toContain('wrong-token-77aa')
  })
})

describe('kubernetes config validation', () => {
  it.each<{ name: string; input: unknown; message: RegExp }>([
    { name: 'plain http needs insecureSkipTlsVerify', input: { clusters: [{ name: 'a', server: 'http://127.0.0.1:8080' }] }, message: /insecureSkipTlsVerify/ },
    { name: 'the server must be an http(s) URL', input: { clusters: [{ name: 'a', server: 'ftp://x' }] }, message: /Invalid/ },
    { name: 'cluster names are unique', input: { clusters: [{ name: 'a' }, { name: 'a' }] }, message: /unique/ },
    { name: "kind 'shares' needs sharesPerGpu", input: { gpuResources: [{ name: 'x.com/gpu', kind: 'shares' }] }, message: /sharesPerGpu/ },
    {
      name: 'a share resource is not also a GPU resource',
      input: { gpuResources: [{ name: 'a/count', kind: 'whole', perGpuShareOf: 'a/milli' }, { name: 'a/milli', kind: 'milli' }] },
      message: /counted twice/,
    },
    { name: 'backoff max >= base', input: { backoffBaseMs: 5000, backoffMaxMs: 1000 }, message: /backoffMaxMs/ },
  ])('$name', ({ input, message }) => {
    const parsed = kubernetesSchema.safeParse(input)
    expect(parsed.success).toBe(false)
    expect(parsed.error?.issues.map((i) => i.message).join('; ')).toMatch(message)
  })

  it('defaults count Alibaba gpu-count with its gpu-milli share, and MIG slices', () => {
    const { gpuResources } = kubernetesSchema.parse({})
    expect(gpuResources.map((r) => [r.name, r.kind, r.perGpuShareOf])).toEqual([
      ['nvidia.com/gpu', 'whole', undefined],
      ['nvidia.com/mig-*', 'mig', undefined],
      ['alibabacloud.com/gpu-count', 'whole', 'alibabacloud.com/gpu-milli'],
    ])
  })
})
