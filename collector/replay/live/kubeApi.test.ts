import { afterEach, describe, expect, it } from 'vitest'
import { KubeApiServer, type KubeApiServerOptions } from './kubeApi'

const servers: KubeApiServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function serve(opts: KubeApiServerOptions = {}): Promise<{ api: KubeApiServer; url: string }> {
  const api = new KubeApiServer({ bookmarkIntervalMs: 0, ...opts })
  servers.push(api)
  return { api, url: await api.start() }
}

const ns = (name: string) => ({ metadata: { name } })

interface ListBody { kind: string; metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number }; items: Array<{ metadata: { name: string } }> }
const getList = async (url: string): Promise<{ status: number; body: ListBody }> => {
  const res = await fetch(url)
  return { status: res.status, body: (await res.json()) as ListBody }
}

/** Reads the first `n` event lines of a watch, then hangs up. */
async function watchLines(url: string, n: number): Promise<Array<{ type: string; object: { metadata: { name?: string; resourceVersion?: string }; code?: number } }>> {
  const controller = new AbortController()
  const res = await fetch(url, { signal: controller.signal })
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  for (let guard = 0; guard < 1_000 && text.split('\n').length <= n; guard++) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  controller.abort()
  return text.split('\n').filter((l) => l !== '').slice(0, n).map((l) => JSON.parse(l))
}

describe('KubeApiServer lists', () => {
  it('pages with limit/continue over a snapshot: changes after the first page do not show, and the resourceVersion is the first page’s', async () => {
    const { api, url } = await serve()
    for (const name of ['a', 'b', 'c']) api.add('namespaces', ns(name))
    const first = await getList(`${url}/api/v1/namespaces?limit=2`)
    api.add('namespaces', ns('aa'))
    api.remove('namespaces', '', 'c')
    const second = await getList(`${url}/api/v1/namespaces?limit=2&continue=${first.body.metadata.continue}`)
    expect(first.body).toMatchObject({ kind: 'NamespaceList', metadata: { remainingItemCount: 1 } })
    expect([...first.body.items, ...second.body.items].map((i) => i.metadata.name)).toEqual(['a', 'b', 'c'])
    expect(second.body.metadata).toEqual({ resourceVersion: first.body.metadata.resourceVersion })
  })

  it('answers 410 Expired for a continue token it no longer keeps', async () => {
    const { api, url } = await serve({ maxContinueTokens: 1 })
    for (const name of ['a', 'b', 'c']) api.add('namespaces', ns(name))
    const old = await getList(`${url}/api/v1/namespaces?limit=1`)
    await getList(`${url}/api/v1/namespaces?limit=1`)
    const res = await fetch(`${url}/api/v1/namespaces?limit=1&continue=${old.body.metadata.continue}`)
    expect(res.status).toBe(410)
    expect(await res.json()).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' })
  })

  it.each<{ name: string; headers: Record<string, string>; status: number }>([
    { name: 'no token', headers: {}, status: 401 },
    { name: 'a wrong token', headers: { authorization: 'Bearer nope' }, status: 401 },
    { name: 'the token', headers: { authorization: 'Bearer s3cret' }, status: 200 },
  ])('with a token configured, a request with $name answers $status', async ({ headers, status }) => {
    const { url } = await serve({ token: 's3cret' })
    expect((await fetch(`${url}/api/v1/pods`, { headers })).status).toBe(status)
  })

  it('answers 404 with a Status for a path it does not serve', async () => {
    const { url } = await serve()
    const res = await fetch(`${url}/apis/apps/v1/deployments`)
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ kind: 'Status', code: 404, reason: 'NotFound' })
  })
})

describe('KubeApiServer watches', () => {
  it('resumes from a resourceVersion: only later events, in order, with their resourceVersions', async () => {
    const { api, url } = await serve()
    const a = api.add('namespaces', ns('a'))
    api.put('namespaces', { metadata: { name: 'a', labels: { team: 'x' } } })
    api.add('namespaces', ns('b'))
    api.remove('namespaces', '', 'a')
    const events = await watchLines(`${url}/api/v1/namespaces?watch=true&resourceVersion=${a.metadata.resourceVersion}`, 3)
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['MODIFIED a', 'ADDED b', 'DELETED a'])
    expect(events.map((e) => Number(e.object.metadata.resourceVersion))).toEqual([102, 103, 104])
  })

  it('put: MODIFIED for the same object (uid kept), DELETED then ADDED for a new uid under the same name', async () => {
    const { api, url } = await serve()
    const first = api.add('pods', { metadata: { name: 'p', namespace: 'ml', uid: 'u1' } })
    api.put('pods', { metadata: { name: 'p', namespace: 'ml' }, status: { phase: 'Running' } })
    api.put('pods', { metadata: { name: 'p', namespace: 'ml', uid: 'u2' } })
    const events = await watchLines(`${url}/api/v1/pods?watch=true&resourceVersion=${first.metadata.resourceVersion}`, 3)
    expect(events.map((e) => `${e.type} ${(e.object.metadata as { uid?: string }).uid}`)).toEqual(['MODIFIED u1', 'DELETED u1', 'ADDED u2'])
  })

  it('answers a resourceVersion older than its history with an ERROR event carrying a 410 Status', async () => {
    const { api, url } = await serve({ historyLimit: 4 })
    const first = api.add('namespaces', ns('n0'))
    for (let i = 1; i < 10; i++) api.add('namespaces', ns(`n${i}`))
    const [gone] = await watchLines(`${url}/api/v1/namespaces?watch=true&resourceVersion=${first.metadata.resourceVersion}`, 1)
    expect(gone).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } })
    const recent = await watchLines(`${url}/api/v1/namespaces?watch=true&resourceVersion=${api.resourceVersion - 2}`, 2)
    expect(recent.map((e) => e.object.metadata.name)).toEqual(['n8', 'n9'])
  })

  it('streams ADDED for every object when watching from resourceVersion 0, then live changes', async () => {
    const { api, url } = await serve()
    api.add('pods', { metadata: { name: 'p1', namespace: 'ml' } })
    const lines = watchLines(`${url}/api/v1/pods?watch=true&resourceVersion=0`, 2)
    for (let i = 0; i < 200 && api.openWatches('pods') === 0; i++) await new Promise((r) => setTimeout(r, 10))
    api.add('pods', { metadata: { name: 'p2', namespace: 'ml' } })
    expect((await lines).map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED p1', 'ADDED p2'])
  })

  it('sends bookmarks only to watches that asked for them', async () => {
    const { api, url } = await serve()
    const asked = watchLines(`${url}/api/v1/nodes?watch=true&allowWatchBookmarks=true`, 2)
    const plain = watchLines(`${url}/api/v1/nodes?watch=true`, 1)
    for (let i = 0; i < 200 && api.openWatches('nodes') < 2; i++) await new Promise((r) => setTimeout(r, 10))
    api.bookmark()
    api.add('nodes', ns('g1'))
    const [bookmark, added] = await asked
    expect(bookmark).toMatchObject({ type: 'BOOKMARK', object: { kind: 'Node', metadata: { resourceVersion: '100' } } })
    expect(added?.type).toBe('ADDED')
    expect((await plain).map((e) => e.type)).toEqual(['ADDED'])
  })
})
