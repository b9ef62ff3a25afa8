/**
 * `gpuscope whatif --policy policy.yaml --window 30d`: replays stored history
 * under a candidate idle and burst policy and prints what it would have done
 * (a table, or `--json`). Progress goes to stderr. Read only: nothing is
 * stopped, scaled, sent or written, not even an audit row.
 */
import type { Command } from 'commander'
import type { LoadedConfig } from '../config/load'
import { readWhatifPolicyFile, resolveWhatifPolicy } from '../config/whatif'
import { ConfigError } from '../core/errors'
import { formatDuration } from '../core/windows'
import { runWhatif, type WhatifResult } from '../alerts/whatif/run'
import { formatTable } from '../forecasting/backtestReport'
import { cliIo, type CliDeps } from './forecast'

interface WhatifOpts {
  policy?: string
  window?: string
  step?: string
  cluster?: string
  json?: boolean
  top?: number
}

/** Stops listed in the table output (the JSON has all of them). */
const DEFAULT_TOP = 20

/** Registers `whatif` on the program. */
export function registerWhatifCommand(program: Command, loadConfig: () => LoadedConfig, deps: CliDeps & { err?: (text: string) => void } = {}): void {
  program
    .command('whatif')
    .description('replay stored history under a candidate idle / burst policy: GPU-hours reclaimed, warnings, stops (and false stops), cloud burst, pending wait avoided. Reads only')
    .option('--policy <file>', 'YAML policy: window, step, clusters, and idle / burst / enforcer overrides on top of the current config')
    .option('--window <span>', 'history replayed, ending now, e.g. 30d (overrides the policy file; default 30d)')
    .option('--step <step>', 'evaluation step, e.g. 5m (overrides the policy file; default 5m)')
    .option('--cluster <names>', 'comma-separated clusters (overrides the policy file; default every cluster)')
    .option('--top <n>', `stops listed in the table (default ${DEFAULT_TOP})`, Number)
    .option('--json', 'print the whole answer as JSON')
    .action(async (opts: WhatifOpts) => {
      const io = cliIo(loadConfig, deps)
      const err = deps.err ?? ((text: string) => void process.stderr.write(`${text}\n`))
      const raw = opts.policy ? readWhatifPolicyFile(opts.policy) : {}
      const merged = typeof raw === 'object' && raw !== null && !Array.isArray(raw)
        ? { ...raw, ...(opts.window ? { window: opts.window } : {}), ...(opts.step ? { step: opts.step } : {}), ...(opts.cluster ? { clusters: opts.cluster.split(',') } : {}) }
        : raw
      const resolved = resolveWhatifPolicy(merged, io.config)
      if ('issues' in resolved) throw new ConfigError(resolved.issues, opts.policy ?? 'whatif options')
      let lastPct = -1
      const result = await io.withStore((store) => runWhatif({
        query: store.query, config: io.config, nowMs: io.nowMs,
        onProgress: ({ doneMs, totalMs }) => {
          const pct = Math.floor((100 * doneMs) / totalMs)
          if (pct !== lastPct) err(`whatif: replayed ${formatDuration(doneMs)} of ${formatDuration(totalMs)} (${pct}%)`)
          lastPct = pct
        },
      }, resolved.policy))
      if (opts.json) return io.out(JSON.stringify(result, null, 2))
      for (const line of whatifLines(result, opts.top ?? DEFAULT_TOP)) io.out(line)
    })
}

const iso = (ms: number | null): string => (ms === null ? '' : new Date(ms).toISOString().replace(':00.000Z', 'Z'))
const fixed = (v: number, digits = 1): string => v.toFixed(digits)

/** The answer as text: totals, burst per pool (baseline vs what-if), the first stops, warnings and notes. */
export function whatifLines(r: WhatifResult, top: number): string[] {
  const w = r.report.window
  const i = r.report.idle
  const lines = [
    `what-if over ${iso(w.fromMs)} .. ${iso(w.toMs)} (${formatDuration(w.toMs - w.fromMs)}, ${w.steps} evaluations every ${formatDuration(w.stepMs)}); read only, nothing was changed or written`,
    formatTable({
      columns: ['measure', 'value'],
      rows: [
        { measure: 'workloads evaluated', value: i.workloadsEvaluated },
        { measure: 'GPU-hours evaluated (unknown: too few samples)', value: `${fixed(i.evaluatedGpuHours)} (${fixed(i.unknownGpuHours)})` },
        { measure: 'workloads warned (warnings)', value: `${i.warnedWorkloads} (${i.warnings})` },
        { measure: 'workloads stopped', value: i.stoppedWorkloads },
        { measure: 'false stops (not judged: grace past the window)', value: `${i.falseStops} (${i.falseStopsUnjudged})` },
        { measure: 'GPU-hours reclaimed (by false stops)', value: `${fixed(i.reclaimedGpuHours)} (${fixed(i.falseStopReclaimedGpuHours)})` },
        { measure: 'warned, not stoppable', value: Object.entries(i.blocked).map(([k, n]) => `${k} ${n}`).join(', ') || '-' },
        { measure: 'pending GPU-hours (wait avoided)', value: `${fixed(r.report.demand.pendingGpuHours)} (${fixed(r.report.demand.pendingWaitAvoidedGpuHours)})` },
      ],
    }),
  ]
  if (r.report.burst.length > 0) {
    lines.push('', 'cloud burst (baseline = the burst policy on the recorded history; what-if = with the reclaimed GPUs):')
    lines.push(formatTable({
      columns: ['pool', 'run', 'scaleOuts', 'scaleIns', 'cloudGpuHours', 'costUsd', 'burstServedGpuHours'],
      rows: r.report.burst.flatMap((b) => (['baseline', 'whatif'] as const).map((run) => ({
        pool: `${b.cluster}/${b.pool}`, run, scaleOuts: b[run].scaleOuts, scaleIns: b[run].scaleIns,
        cloudGpuHours: fixed(b[run].cloudGpuHours), costUsd: fixed(b[run].costUsd, 2), burstServedGpuHours: fixed(b[run].burstServedGpuHours),
      }))),
    }))
  }
  if (r.recorded.length > 0) lines.push('', `recorded by the live system: ${r.recorded.map((c) => `${c.action}${c.dryRun ? ' (dry-run)' : c.acted ? '' : ' (not acted)'} ${c.count}`).join(', ')}`)
  const stops = [...r.report.stops].sort((a, b) => b.reclaimedGpuHours - a.reclaimedGpuHours).slice(0, top)
  if (stops.length > 0) {
    lines.push('', `stops, most GPU-hours reclaimed first (${stops.length} of ${r.report.stops.length}):`)
    lines.push(formatTable({
      columns: ['workload', 'team', 'gpus', 'idleSince', 'stopped', 'reclaimedGpuHours', 'falseStop'],
      rows: stops.map((s) => ({
        workload: `${s.cluster}/${s.namespace}/${s.kind}/${s.name}`, team: s.team, gpus: s.gpus, idleSince: iso(s.idleSinceMs), stopped: iso(s.stoppedAtMs),
        reclaimedGpuHours: fixed(s.reclaimedGpuHours), falseStop: s.falseStop === null ? 'not judged' : s.falseStop ? `yes, active ${iso(s.resumedAtMs)}` : 'no',
      })),
    }))
  }
  for (const x of r.warnings) lines.push(`warning: ${x}`)
  for (const n of r.notes) lines.push(`note: ${n}`)
  return lines
}
