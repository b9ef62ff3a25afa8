import { describe, expect, it } from 'vitest'
import { jupyterSchema } from '../../config/jupyter'
import { notebookBaseUrl, parseJupyterTime } from './client'

describe('Jupyter timestamps', () => {
  it.each([
    { name: 'microseconds with Z (Jupyter Server)', value: '2023-01-26T08:52:46.226933Z', want: Date.parse('2023-01-26T08:52:46.226Z') },
    { name: 'whole seconds with an offset', value: '2023-01-26T09:52:46+01:00', want: Date.parse('2023-01-26T08:52:46Z') },
    { name: 'no zone (would be local time): unknown', value: '2023-01-26T08:52:46', want: undefined },
    { name: 'not a time: unknown', value: 'yesterday', want: undefined },
    { name: 'absent: unknown', value: undefined, want: undefined },
  ])('$name', ({ value, want }) => {
    expect(parseJupyterTime(value)).toBe(want)
  })
})

describe('notebook base URL', () => {
  const template = jupyterSchema.parse({}).urlTemplate

  it('fills the default Kubeflow template (the culler URL without /api/kernels)', () => {
    expect(notebookBaseUrl({ cluster: 'dgx', namespace: 'kubeflow-user', name: 'my-notebook', baseUrl: '' }, template))
      .toBe('http://my-notebook.kubeflow-user.svc.cluster.local/notebook/kubeflow-user/my-notebook')
  })

  it('keeps a base URL the directory gives, without its trailing slash', () => {
    expect(notebookBaseUrl({ cluster: 'dgx', namespace: 'ns', name: 'nb', baseUrl: 'http://10.0.0.7:8888/notebook/ns/nb/' }, template)).toBe('http://10.0.0.7:8888/notebook/ns/nb')
  })

  it('URL-encodes what it fills in', () => {
    expect(notebookBaseUrl({ cluster: 'a b', namespace: 'ns', name: 'nb', baseUrl: '' }, 'http://proxy/{cluster}/{namespace}/{name}')).toBe('http://proxy/a%20b/ns/nb')
  })

  it.each([
    { name: 'unknown placeholder', urlTemplate: 'http://{nmae}.{namespace}/notebook' },
    { name: 'not http', urlTemplate: 'ftp://{name}/x' },
    { name: 'no host', urlTemplate: '/notebook/{namespace}/{name}' },
  ])('rejects a template with $name', ({ urlTemplate }) => {
    const parsed = jupyterSchema.safeParse({ urlTemplate })
    expect(parsed.success).toBe(false)
    expect(parsed.error?.issues[0]?.path).toEqual(['urlTemplate'])
  })
})
