import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { InputError } from '../../../core/errors'
import { fileProblem, loadCsv, type LoadReport } from './csv'

/**
 * Loader for the SenseTime Helios (SC'21) Earth per-minute virtual-cluster
 * sequences in ../shared/fixtures/helios/Earth_vcs_2020-05. Note the trace's
 * `gpu_utilization` column is running/total GPUs, i.e. allocation, so it is
 * not read as utilization.
 */

/** One minute of one virtual cluster. */
export interface HeliosMinute {
  vc: string
  tsMs: number
  totalGpus: number
  runningGpus: number
  pendingGpus: number
  runningJobs: number
  pendingJobs: number
}

const int = z.string().regex(/^\d+$/, 'expected a non-negative integer').transform(Number)
const minuteRow = z
  .object({
    time: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/, 'expected YYYY-MM-DD HH:MM:SS')
      .transform((s) => Date.parse(`${s.replace(' ', 'T')}Z`))
      .refine((ms) => Number.isFinite(ms), 'not a real date'),
    total_gpu_num: int,
    running_gpu_num: int,
    pending_gpu_num: int,
    running_gpujob_num: int,
    pending_gpujob_num: int,
  })
  .refine((r) => r.running_gpu_num <= r.total_gpu_num, { message: 'more running GPUs than the VC has', path: ['running_gpu_num'] })

const VC_FILE = /^(vc\w+)_cluster_sequence_vc\.csv(\.gz)?$/
const WANTED = 'the Helios per-VC sequences <vc>_cluster_sequence_vc.csv(.gz), as in ../shared/fixtures/helios/Earth_vcs_2020-05'

/** The VC sequence files in a folder: `<vc>_cluster_sequence_vc.csv(.gz)`; InputError naming the folder when it has none. */
export function heliosVcFiles(dir: string): Array<{ vc: string; file: string }> {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    const problem = fileProblem(err)
    if (problem === undefined) throw err
    throw new InputError(`cannot read the Helios trace folder ${dir}: ${problem}; expected ${WANTED}`, { cause: err })
  }
  const files = names
    .map((f) => ({ f, m: VC_FILE.exec(f) }))
    .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null)
    .map(({ f, m }) => ({ vc: m[1] as string, file: join(dir, f) }))
    .sort((a, b) => a.vc.localeCompare(b.vc))
  if (files.length === 0) throw new InputError(`no Helios trace in ${dir}: expected ${WANTED}`)
  return files
}

/**
 * Loads every VC's per-minute sequence (times are UTC as written). Bad rows
 * are skipped and reported by file and line.
 */
export async function loadHeliosVcs(dir: string): Promise<{ minutes: HeliosMinute[]; reports: LoadReport[] }> {
  const minutes: HeliosMinute[] = []
  const reports: LoadReport[] = []
  for (const { vc, file } of heliosVcFiles(dir)) {
    const { rows, report } = await loadCsv(file, minuteRow, (r) => ({
      vc, tsMs: r.time, totalGpus: r.total_gpu_num, runningGpus: r.running_gpu_num, pendingGpus: r.pending_gpu_num,
      runningJobs: r.running_gpujob_num, pendingJobs: r.pending_gpujob_num,
    }))
    for (const row of rows) minutes.push(row)
    reports.push(report)
  }
  return { minutes, reports }
}
