/**
 * `gpuscope report quarterly --quarter 2026-Q3 --out DIR`: writes the
 * quarterly capacity report as self-contained HTML, Markdown and CSV files.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import type { LoadedConfig } from '../config/load'
import { InputError } from '../core/errors'
import { quarterlyReport } from '../forecasting/report/index'
import { cliIo, type CliDeps } from './forecast'

const QUARTER = /^\d{4}-[Qq][1-4]$/

/** Registers `report quarterly` on the program. */
export function registerReportCommands(program: Command, loadConfig: () => LoadedConfig, deps: CliDeps = {}): void {
  const report = program.command('report').description('reports for leadership and finance')
  report
    .command('quarterly')
    .description('quarterly capacity report: capacity vs allocation vs utilization, next-quarter forecast, capacity plan, chargeback, idle waste')
    .option('--quarter <quarter>', 'e.g. 2026-Q3 (default: the last complete quarter)')
    .option('--out <dir>', 'directory to write into (created if missing)', '.')
    .action(async (opts: { quarter?: string; out: string }) => {
      if (opts.quarter !== undefined && !QUARTER.test(opts.quarter)) throw new InputError(`bad --quarter '${opts.quarter}': expected a quarter like 2026-Q3`)
      const io = cliIo(loadConfig, deps)
      const r = await io.withStore((store) => quarterlyReport(store.query, io.config, opts.quarter, io.nowMs))
      mkdirSync(opts.out, { recursive: true })
      const files: Array<[string, string]> = [
        [`gpuscope-${r.quarter}.html`, r.html],
        [`gpuscope-${r.quarter}.md`, r.markdown],
        ...Object.entries(r.csv).map(([name, text]): [string, string] => [`gpuscope-${r.quarter}-${name}`, text]),
      ]
      for (const [name, text] of files) {
        writeFileSync(join(opts.out, name), text)
        io.out(`wrote ${join(opts.out, name)}`)
      }
    })
}
