import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { InputError } from '../../../core/errors'
import { sharedFixtures } from '../../../test/helpers/fixtures'
import { loadAlibabaV2023, podGpus } from './alibaba'
import { loadCsv } from './csv'
import { loadHeliosVcs } from './helios'
import { z } from 'zod'

describe('Alibaba PAI v2023 loader on the real trace', async () => {
  const { nodes, pods, reports } = await loadAlibabaV2023(sharedFixtures('alibaba-pai-gpu-v2023'))

  it('reads every row with none skipped', () => {
    expect(reports.map((r) => [r.file, r.rows, r.skipped])).toEqual([
      ['openb_node_list_gpu_node.csv', 1213, 0],
      ['openb_pod_list_default.csv', 8152, 0],
    ])
  })

  it('reproduces the fixture README figures: 6,212 GPUs; 4,149 running GPU pods hold 3,373.3 GPUs; 861 GPU pods pending', () => {
    expect(nodes.reduce((n, x) => n + x.gpus, 0)).toBe(6212)
    const running = pods.filter((p) => p.phase === 'Running' && p.numGpu > 0)
    expect(running).toHaveLength(4149)
    expect(Math.round(running.reduce((n, p) => n + podGpus(p), 0) * 10) / 10).toBe(3373.3)
    expect(pods.filter((p) => p.phase === 'Pending' && p.numGpu > 0)).toHaveLength(861)
  })

  it('keeps a never-scheduled pod unscheduled rather than inventing a time', () => {
    const pending = pods.filter((p) => p.phase === 'Pending')
    expect(pending.every((p) => p.scheduledS === undefined)).toBe(true)
  })
})

describe('Helios Earth May 2020 loader on the real trace', async () => {
  const { minutes, reports } = await loadHeliosVcs(sharedFixtures('helios', 'Earth_vcs_2020-05'))

  it('reads 16 VCs x 44,640 minutes with none skipped', () => {
    expect(reports).toHaveLength(16)
    expect(reports.every((r) => r.rows === 44_640 && r.skipped === 0)).toBe(true)
    expect(minutes[0]?.tsMs).toBe(Date.UTC(2020, 4, 1))
  })

  it('reproduces the README figure: 856 GPUs, mean minute-level allocation 66.7%', () => {
    const byMinute = new Map<number, { total: number; running: number }>()
    for (const m of minutes) {
      const agg = byMinute.get(m.tsMs) ?? { total: 0, running: 0 }
      agg.total += m.totalGpus
      agg.running += m.runningGpus
      byMinute.set(m.tsMs, agg)
    }
    const ratios = [...byMinute.values()].map((a) => a.running / a.total)
    expect(byMinute.get(Date.UTC(2020, 4, 1))?.total).toBe(856)
    expect(Math.round((ratios.reduce((a, b) => a + b, 0) / ratios.length) * 1000) / 10).toBe(66.7)
  })
})

describe('bad rows', () => {
  it('are skipped, counted and reported by file and line, never guessed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpuscope-trace-'))
    const { mkdirSync, copyFileSync } = await import('node:fs')
    mkdirSync(join(dir, 'csv'))
    copyFileSync(sharedFixtures('alibaba-pai-gpu-v2023', 'csv', 'openb_node_list_gpu_node.csv'), join(dir, 'csv', 'openb_node_list_gpu_node.csv'))
    copyFileSync(join(__dirname, '../../../test/fixtures/traces/bad_pods.csv'), join(dir, 'csv', 'openb_pod_list_default.csv'))
    const { pods, reports } = await loadAlibabaV2023(dir)
    expect(pods.map((p) => p.name)).toEqual(['good-0', 'good-1'])
    expect(reports[1]).toMatchObject({ rows: 2, skipped: 4 })
    expect(reports[1]?.bad).toEqual([
      { file: 'openb_pod_list_default.csv', line: 3, message: 'num_gpu: expected a non-negative integer' },
      { file: 'openb_pod_list_default.csv', line: 4, message: expect.stringContaining('pod_phase: Invalid option') },
      { file: 'openb_pod_list_default.csv', line: 5, message: 'scheduled_time: scheduled before created' },
      { file: 'openb_pod_list_default.csv', line: 6, message: 'gpu_milli: gpu_milli must be at most 1000' },
    ])
  })

  it('a file whose header lacks a column is refused with an InputError naming it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gpuscope-trace-')), 'x.csv')
    writeFileSync(file, 'a,b\n1,2\n')
    await expect(loadCsv(file, z.object({ a: z.string(), c: z.string() }), (r) => r)).rejects.toThrow(new InputError('x.csv: header lacks column(s) c'))
  })

  it.each([
    { name: 'a missing file', file: (dir: string) => join(dir, 'nope.csv'), want: (dir: string) => `cannot read ${join(dir, 'nope.csv')}: does not exist` },
    { name: 'a missing gzip file', file: (dir: string) => join(dir, 'nope.csv.gz'), want: (dir: string) => `cannot read ${join(dir, 'nope.csv.gz')}: does not exist` },
    { name: 'a directory', file: (dir: string) => dir, want: (dir: string) => `cannot read ${dir}: it is a directory, not a file` },
  ])('$name is refused with an InputError naming the path (the read error reaches the caller)', async ({ file, want }) => {
    const dir = mkdtempSync(join(tmpdir(), 'gpuscope-trace-'))
    await expect(loadCsv(file(dir), z.object({ a: z.string() }), (r) => r)).rejects.toThrow(new InputError(want(dir)))
  })
})
