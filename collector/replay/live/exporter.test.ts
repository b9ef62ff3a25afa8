import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sharedFixtures } from '../../../test/helpers/fixtures'
import { parseExposition } from '../../dcgm/exposition'
import { parseDcgmScrape } from '../../dcgm/parse'
import { nodeSamplesAt, podsByNode } from '../sim/samples'
import { EXPOSITION_CONTENT_TYPE, exporterPath, exporterText, startExporterServer, type LiveServer } from './exporter'
import { testCluster } from '../../../test/helpers/testCluster'

const T0 = Date.UTC(2026, 2, 2, 10, 0)
const sim = testCluster(T0)
const byNode = podsByNode(sim.pods)
const samplesOf = (node: string, tMs = T0) => nodeSamplesAt(sim.nodes.find((n) => n.name === node)!, byNode.get(node) ?? [], tMs)
const fixture = (file: string) => readFileSync(sharedFixtures('dcgm-exporter', file), 'utf8')
const MIB = 1024 * 1024

describe('exporterText', () => {
  it('parses back, through the dcgm collector’s own parser, into the samples it was made from', () => {
    for (const node of ['dgx-a', 'old-p']) {
      const want = samplesOf(node)
      const got = parseDcgmScrape(exporterText(want), { cluster: sim.name, node: 'unused', tsMs: T0 })
      expect(got).toEqual(
        want.map((s) => ({
          ...s, migInstance: undefined, smActiveRatio: undefined,
          fbUsedBytes: Math.round((s.fbUsedBytes as number) / MIB) * MIB, fbFreeBytes: Math.round((s.fbFreeBytes as number) / MIB) * MIB,
        })),
      )
    }
  })

  it('attributes a held GPU to its pod with the exporter’s pod labels, and leaves a free GPU without them', () => {
    const series = parseExposition(exporterText(samplesOf('old-p'))).filter((s) => s.name === 'DCGM_FI_DEV_GPU_UTIL')
    expect(series.map((s) => s.labels)).toEqual([
      {
        gpu: '0', UUID: 'GPU-old-p-0', pci_bus_id: '00000000:10:00.0', device: 'nvidia0', modelName: 'Tesla-P100-PCIE-16GB', Hostname: 'old-p',
        DCGM_FI_DRIVER_VERSION: '535.183.01', container: 'main', namespace: 'nlp', pod: 'serve-b-7f9c4-x2x9q', pod_uid: '',
      },
      { gpu: '1', UUID: 'GPU-old-p-1', pci_bus_id: '00000000:21:00.0', device: 'nvidia1', modelName: 'Tesla-P100-PCIE-16GB', Hostname: 'old-p', DCGM_FI_DRIVER_VERSION: '535.183.01' },
    ])
  })

  it.each([
    { name: 'a free GPU', fixture: 'kops-aws-L4-1gpu.prom', theirs: (l: Record<string, string>) => !l.pod, ours: 'GPU-old-p-1' },
    { name: 'a GPU held by a pod', fixture: 'aicr-eks-p5-H100x8-sampled.prom', theirs: (l: Record<string, string>) => !!l.pod, ours: 'GPU-old-p-0' },
  ])('uses the label names, in order, of a real exporter scrape for $name', ({ fixture: file, theirs, ours }) => {
    const real = parseExposition(fixture(file)).find((s) => s.name === 'DCGM_FI_DEV_GPU_UTIL' && theirs(s.labels))
    const mine = parseExposition(exporterText(samplesOf('old-p'))).find((s) => s.name === 'DCGM_FI_DEV_GPU_UTIL' && s.labels.UUID === ours)
    expect(Object.keys(mine?.labels ?? {})).toEqual(Object.keys(real?.labels ?? {}))
  })

  it('writes the HELP and TYPE lines of the real exporter for every metric it serves', () => {
    const header = (text: string) => text.split('\n').filter((l) => l.startsWith('# '))
    const real = new Set(header(fixture('kops-aws-L4-1gpu.prom')))
    const mine = header(exporterText(samplesOf('dgx-a')))
    expect(mine).toHaveLength(16)
    expect(mine.filter((l) => !real.has(l))).toEqual([])
  })

  it('serves no DCP (DCGM_FI_PROF_*) metric on Pascal, but DEV_GPU_UTIL; and no SM_ACTIVE anywhere (off in the default set)', () => {
    const names = (node: string) => [...new Set(parseExposition(exporterText(samplesOf(node))).map((s) => s.name))]
    expect(names('old-p')).toEqual(['DCGM_FI_DEV_GPU_TEMP', 'DCGM_FI_DEV_POWER_USAGE', 'DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_FB_FREE', 'DCGM_FI_DEV_FB_USED'])
    expect(names('dgx-a')).toEqual([...names('old-p'), 'DCGM_FI_PROF_GR_ENGINE_ACTIVE', 'DCGM_FI_PROF_PIPE_TENSOR_ACTIVE', 'DCGM_FI_PROF_DRAM_ACTIVE'])
  })

  it('prints integer fields as integers and float fields with six decimals, like the exporter', () => {
    const lines = exporterText(samplesOf('dgx-a')).split('\n')
    expect(lines.filter((l) => l.startsWith('DCGM_FI_DEV_FB_USED{')).every((l) => /\} \d+$/.test(l))).toBe(true)
    expect(lines.filter((l) => l.startsWith('DCGM_FI_PROF_GR_ENGINE_ACTIVE{')).every((l) => /\} \d+\.\d{6}$/.test(l))).toBe(true)
  })

  it('passes promtool’s checks with only the lint a real exporter scrape also gets (camelCase label names)', () => {
    let tool = true
    try {
      execFileSync('promtool', ['--version'], { stdio: 'ignore' })
    } catch {
      tool = false
    }
    // CI installs Debian's prometheus (.ci/run); locally the check runs when promtool is present.
    if (process.env.CI && !tool) throw new Error('promtool is not installed')
    if (!tool) return
    const run = spawnSync('promtool', ['check', 'metrics'], { input: exporterText(samplesOf('dgx-a')), encoding: 'utf8' })
    expect(run.error).toBeUndefined()
    const problems = [...new Set(`${run.stdout}${run.stderr}`.split('\n').filter((l) => l !== ''))]
    expect(problems).toHaveLength(8)
    expect(problems.filter((l) => !l.endsWith("label names should be written in 'snake_case' not 'camelCase'"))).toEqual([])
  })
})

describe('exporter server', () => {
  let server: LiveServer
  let tMs = T0
  beforeAll(async () => {
    const nodes = new Map(sim.nodes.map((n) => [n.name, n]))
    server = await startExporterServer({ node: (n) => nodes.get(n), podsOn: (n) => byNode.get(n) ?? [], now: () => tMs })
  })
  afterAll(() => server.close())

  it('serves each node at /nodes/<node>/metrics with the samples at the virtual time', async () => {
    tMs = T0 + 20 * 60_000
    const res = await fetch(`${server.url}${exporterPath('dgx-a')}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe(EXPOSITION_CONTENT_TYPE)
    expect(await res.text()).toBe(exporterText(samplesOf('dgx-a', tMs)))
  })

  it.each(['/nodes/nope/metrics', '/nodes/dgx-a', '/metrics', '/nodes/dgx-a/metrics/extra'])('answers 404 for %s', async (path) => {
    expect((await fetch(`${server.url}${path}`)).status).toBe(404)
  })
})
