import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { parse } from 'csv-parse/sync'
import { afterAll, describe, expect, it } from 'vitest'
import { registerForecastCommands, UsageError } from '../cli/forecast'
import { registerReportCommands } from '../cli/report'
import { configSchema } from '../config/schema'
import { InputError } from '../core/errors'
import { sharedFixtures } from './helpers/fixtures'

// The forecast and report commands in-process, on a small Helios-shaped trace or refusing before any store is opened.
const dir = mkdtempSync(join(tmpdir(), 'gpuscope-cli-output-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Twenty days of one VC in the Helios sequence format: too short for the 28 d backtest. */
function tinyHelios(): string {
  const folder = join(dir, 'helios')
  if (existsSync(folder)) return folder
  mkdirSync(folder)
  const start = Date.parse('2020-05-01T00:00:00Z')
  const rows = Array.from({ length: 20 * 1440 }, (_, i) => {
    const time = new Date(start + i * 60_000).toISOString().slice(0, 19).replace('T', ' ')
    return `${time},16,${8 + (i % 5)},0,2,0`
  })
  writeFileSync(join(folder, 'vcTiny_cluster_sequence_vc.csv'), ['time,total_gpu_num,running_gpu_num,pending_gpu_num,running_gpujob_num,pending_gpujob_num', ...rows, ''].join('\n'))
  return folder
}

async function run(...args: string[]): Promise<{ out: string; err: string[] }> {
  const lines: string[] = []
  const err: string[] = []
  const program = new Command().exitOverride()
  const loaded = { config: configSchema.parse({ store: { path: join(dir, 'data') } }), file: undefined, envVars: [] }
  const deps = { openStore: async () => { throw new Error('no store in this test') }, out: (t: string) => lines.push(t), err: (t: string) => err.push(t), now: () => 0 }
  registerForecastCommands(program, () => loaded, deps)
  registerReportCommands(program, () => loaded, deps)
  await program.parseAsync(['node', 'gpuscope', ...args])
  return { out: lines.join('\n'), err }
}

/** The error a command run rejects with. */
async function failure(...args: string[]): Promise<Error> {
  try {
    await run(...args)
  } catch (err) {
    return err as Error
  }
  throw new Error(`gpuscope ${args.join(' ')} did not fail`)
}

describe('forecast backtest --format csv', () => {
  it('quotes a note that holds a comma, so every row has as many fields as the header', async () => {
    // 20 d of history do not support the 28 d backtest: that row's note says why, with a comma.
    const { out } = await run('forecast', 'backtest', '--helios', tinyHelios(), '--models', 'linear', '--format', 'csv')
    const [header, ...rows] = parse(out, { relax_column_count: true }) as string[][]
    expect(header).toEqual(['horizon', 'model', 'smapePct', 'mase', 'maeGpus', 'coverage80Pct', 'coverage50Pct', 'origins', 'chosen', 'note'])
    expect(rows.map((r) => r.length)).toEqual(rows.map(() => 10))
    expect(rows.map((r) => `${r[0]} ${r[1]} ${r[8]}`)).toEqual(['24 h snaive24 true', '24 h linear false', '7 d snaive24 true', '7 d linear false', '28 d  false'])
    expect(rows[4]![9]).toBe('skipped: needs 41 d of history (7 origins 24 h apart) for the named models, the series has 20 d')
  })
})

describe('bad command-line values are usage errors naming what is accepted', () => {
  it.each([
    { name: 'show --format xml', args: ['forecast', 'show', '--format', 'xml'], message: "bad --format 'xml': expected table, csv or json" },
    { name: 'plan --format xml', args: ['forecast', 'plan', '--format', 'xml'], message: "bad --format 'xml': expected table, csv or json" },
    { name: 'backtest --format yaml', args: ['forecast', 'backtest', '--format', 'yaml'], message: "bad --format 'yaml': expected table, csv or json" },
    { name: '--origins abc shows what was typed', args: ['forecast', 'backtest', '--origins', 'abc'], message: "bad --origins 'abc': expected a whole number from 2 to 60" },
    { name: '--origins above the config maximum', args: ['forecast', 'show', '--origins', '1000'], message: "bad --origins '1000': expected a whole number from 2 to 60" },
    { name: 'batch --origins above the config maximum', args: ['forecast', 'batch', '--origins', '61'], message: "bad --origins '61': expected a whole number from 2 to 60" },
    { name: '--stride beyond 28 d', args: ['forecast', 'backtest', '--stride', '5w'], message: "bad --stride '5w': expected 1 h to 28 d between origins" },
    { name: '--horizon not a duration', args: ['forecast', 'show', '--helios', tinyHelios(), '--horizon', 'soon'], message: "'soon'" },
    { name: 'plan --horizon not a duration', args: ['forecast', 'plan', '--horizon', 'soon'], message: "'soon'" },
    { name: 'batch --workers', args: ['forecast', 'batch', '--workers', 'two'], message: "bad --workers 'two': expected a whole number from 1 to 64" },
    { name: 'a malformed --series', args: ['forecast', 'backtest', '--series', 'rack'], message: "bad series 'rack': 'rack' is not key=value" },
    { name: 'report --quarter', args: ['report', 'quarterly', '--quarter', '2026-Q5'], message: "bad --quarter '2026-Q5': expected a quarter like 2026-Q3" },
  ])('$name', async ({ args, message }) => {
    const err = await failure(...args)
    expect(err).toBeInstanceOf(UsageError)
    expect(err.message).toContain(message)
  })
})

describe('a trace folder or an output path that is not there: one InputError naming it', () => {
  it.each([
    { name: '--helios on a missing folder', args: ['forecast', 'backtest', '--helios', '/nonexistent/helios'], message: 'cannot read the Helios trace folder /nonexistent/helios: does not exist; expected the Helios per-VC sequences <vc>_cluster_sequence_vc.csv(.gz)' },
    { name: '--helios on a folder without the trace', args: ['forecast', 'backtest', '--helios', sharedFixtures('alibaba-pai-gpu-v2023')], message: `no Helios trace in ${sharedFixtures('alibaba-pai-gpu-v2023')}: expected the Helios per-VC sequences` },
    { name: '--alibaba on a missing folder', args: ['forecast', 'backtest', '--alibaba', '/nonexistent/pai'], message: 'no Alibaba PAI v2023 trace in /nonexistent/pai: it lacks csv/openb_node_list_gpu_node.csv and csv/openb_pod_list_default.csv' },
    { name: 'report --out under a file', args: ['report', 'quarterly', '--out', '/dev/null/x'], message: 'cannot write /dev/null/x: not a directory (ENOTDIR)' },
  ])('$name', async ({ args, message }) => {
    const err = await failure(...args)
    expect(err).toBeInstanceOf(InputError)
    expect(err).not.toBeInstanceOf(UsageError)
    expect(err.message).toContain(message)
  })
})
