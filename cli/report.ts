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
import { cliIo, UsageError, type CliDeps } from './forecast'

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
      if (opts.quarter !== undefined && !QUARTER.test(opts.quarter)) throw new UsageError(`bad --quarter '${opts.quarter}': expected a quarter like 2026-Q3`)
      const io = cliIo(loadConfig, deps)
      // Before the store is read: a bad --out fails at once, not after the report is computed.
      writing(opts.out, () => mkdirSync(opts.out, { recursive: true }))
      const r = await io.withStore((store) => quarterlyReport(store.query, io.config, opts.quarter, io.nowMs))
      const files: Array<[string, string]> = [
        [`gpuscope-${r.quarter}.html`, r.html],
        [`gpuscope-${r.quarter}.md`, r.markdown],
        ...Object.entries(r.csv).map(([name, text]): [string, string] => [`gpuscope-${r.quarter}-${name}`, text]),
      ]
      for (const [name, text] of files) {
        writing(join(opts.out, name), () => writeFileSync(join(opts.out, name), text))
        io.out(`wrote ${join(opts.out, name)}`)
      }
    })
}

/** Runs a write to `path`; a file-system error becomes one InputError line naming the path, e.g. "cannot write /dev/null/x: not a directory (ENOTDIR)". */
function writing(path: string, write: () => void): void {
  try {
    write()
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (typeof e.code !== 'string') throw err
    // Node's message reads "ENOTDIR: not a directory, mkdir '/dev/null/x'": keep the reason.
    const reason = /^[A-Z]+: ([^,]+)/.exec(e.message)?.[1] ?? e.message
    throw new InputError(`cannot write ${path}: ${reason} (${e.code})`, { cause: err })
  }
}
