import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { registerForecastCommands } from '../cli/forecast'
import { configSchema } from '../config/schema'
import { sharedFixtures } from './helpers/fixtures'

// `gpuscope forecast batch --helios`: the fleet and each VC of the Helios Earth month, no store.
const HELIOS = sharedFixtures('helios', 'Earth_vcs_2020-05')

async function cli(...args: string[]): Promise<{ out: string; err: string[] }> {
  const lines: string[] = []
  const err: string[] = []
  const program = new Command().exitOverride()
  const loaded = { config: configSchema.parse({}), file: undefined, envVars: [] }
  registerForecastCommands(program, () => loaded, { openStore: async () => { throw new Error('no store in this test') }, out: (t) => lines.push(t), err: (t) => err.push(t), now: () => 0 })
  await program.parseAsync(['node', 'gpuscope', 'forecast', 'batch', '--helios', HELIOS, ...args])
  return { out: lines.join('\n'), err }
}

describe('gpuscope forecast backtest --alibaba', () => {
  async function backtest(...args: string[]): Promise<string> {
    const lines: string[] = []
    const program = new Command().exitOverride()
    const loaded = { config: configSchema.parse({}), file: undefined, envVars: [] }
    registerForecastCommands(program, () => loaded, { openStore: async () => { throw new Error('no store in this test') }, out: (t) => lines.push(t), err: () => {}, now: () => 0 })
    await program.parseAsync(['node', 'gpuscope', 'forecast', 'backtest', ...args])
    return lines.join('\n')
  }

  it('backtests the hourly demand rebuilt from the pod intervals: Holt-Winters beats seasonal naive at 24 h', async () => {
    const out = await backtest('--alibaba', sharedFixtures('alibaba-pai-gpu-v2023'), '--horizon', '24h')
    expect(out).toMatch(/^backtest of alibaba fleet \(.*; trace time from 1970-01-01\): 3584 h of hourly demand/)
    expect(out).toMatch(/24 h\s+hw-weekly\s+0\.86\s+0\.173\s+28\.9\s+72\.6\s+38\.7\s+7\s+\*/)
    await expect(backtest('--alibaba', 'x', '--helios', 'y')).rejects.toThrow('--helios and --alibaba are two sources: give one')
  })
})

describe('gpuscope forecast batch --helios', () => {
  it('forecasts the fleet and the 16 VCs; the fleet row carries the documented 7 d backtest (combo-daily, sMAPE 7.60 %, 80 % coverage 73.7 %)', async () => {
    const { out, err } = await cli('--workers', '2', '--format', 'csv')
    const [header, ...rows] = out.split('\n')
    expect(header).toBe('series,history,model,decidedBy,smapePct,naiveSmapePct,mase,coverage80Pct,peakP50Gpus,peakP90Gpus,note')
    expect(rows).toHaveLength(17)
    expect(rows.find((r) => r.startsWith('fleet,'))).toMatch(/^fleet,31 d,combo-daily,7 d backtest,7\.6,8\.59,0\.875,73\.7,/)
    expect(rows.filter((r) => r.startsWith('pool=vc'))).toHaveLength(16)
    const peaks = rows.map((r) => Number(r.split(',')[9]))
    expect(peaks).toEqual([...peaks].sort((a, b) => b - a))
    expect(err[0]).toBe('forecast batch: 17 series, horizon 13w, 2 worker(s)')
    expect(err.at(-1)).toMatch(/^forecast batch: 17\/17 series/)
  }, 120_000)

  it('picks the series asked for, and names the ones the trace does not have', async () => {
    const { out } = await cli('--series', 'fleet', '--format', 'json', '--horizon', '24h', '--workers', '1')
    const rows = JSON.parse(out) as Array<{ label: string; forecast: { horizonHours: number; point: number[] } }>
    expect(rows.map((r) => r.label)).toEqual(['fleet'])
    expect(rows[0]!.forecast.point).toHaveLength(24)
    await expect(cli('--series', 'fleet', 'pool=vcNope')).rejects.toThrow(/^no such series in the Helios trace: pool=vcNope \(it has fleet, pool=vc/)
    await expect(cli('--format', 'xml')).rejects.toThrow("bad --format 'xml': expected table, csv or json")
  }, 120_000)
})
