import { Command, CommanderError } from 'commander'
import { stringify } from 'yaml'
import { loadConfig, type LoadedConfig } from '../config/load'
import { configSchema } from '../config/schema'
import { parseDuration } from '../core/windows'
import { redact } from '../config/redact'
import { ConfigError, GpuscopeError } from '../core/errors'
import { createStore } from '../store/client'
import { migrate, renderAll } from '../store/migrate'
import { registerForecastCommands, UsageError } from './forecast'
import { registerGenerateCommands } from './generate'
import { registerReportCommands } from './report'
import { ROLES, type Role, type ServeOptions } from './roles'
import { startService } from './serve'
import { registerWhatifCommand } from './whatif'
import { VERSION } from './version'

/** Exit codes: 0 ok, 1 failure, 2 bad configuration or usage. */
const EXIT_FAILURE = 1
const EXIT_CONFIG = 2
const SHUTDOWN_TIMEOUT_MS = 30_000

const program = new Command()
  .name('gpuscope')
  .description('GPU-fleet observability and capacity planning')
  .version(VERSION)
  .option('-c, --config <file>', 'YAML config file (default: ./gpuscope.yaml if present; env GPUSCOPE_CONFIG)')
  .showHelpAfterError()
  // Commander's own usage errors (unknown option or command, missing argument) throw instead of exiting 1, so they exit 2 below.
  .exitOverride()

const config = (): LoadedConfig => loadConfig({ file: program.opts<{ config?: string }>().config })

program
  .command('serve')
  .description('run the service: HTTP API with /healthz, /readyz and /metrics, on the configured store')
  .option('--role <role>', `what this process runs: ${ROLES.join(' | ')}; roles other than all need a ClickHouse server (store.url)`, 'all')
  .option('--clusters <names>', 'collector shard: comma-separated cluster names to collect (default: all configured)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .option('--cloud', 'run the fleet-wide cloud (AWS) collector in this shard (default: only without --clusters)')
  .option('--no-cloud', 'do not run the cloud collector in this process')
  .action(async (opts: { role: string; clusters?: string[]; cloud?: boolean }) => {
    await runService(config(), { role: opts.role as Role, ...(opts.clusters ? { clusters: opts.clusters } : {}), ...(opts.cloud !== undefined ? { cloud: opts.cloud } : {}) })
  })

program
  .command('replay')
  .description('serve a simulated cluster replayed from a public trace (backfill, then live), whatever the config says about clusters')
  .option('--trace <name>', 'helios (Helios Earth May 2020, 856 GPUs) or alibaba-v2023 (Alibaba PAI snapshot, 6,212 GPUs)')
  .option('--speed <factor>', 'virtual seconds per real second in the live replay', Number)
  .option('--backfill <span>', 'history to write first, e.g. 30d (workload intervals and node state)')
  .option('--samples <span>', 'how much of that history gets GPU samples, e.g. 7d')
  .option('--sample-step <step>', 'resolution of backfilled GPU samples, e.g. 5m')
  .option('--no-live', 'backfill only; do not serve the live simulated cluster')
  .action(async (opts: { trace?: string; speed?: number; backfill?: string; samples?: string; sampleStep?: string; live: boolean }) => {
    const loaded = config()
    const days = (span: string | undefined) => (span === undefined ? undefined : Math.ceil(parseDuration(span) / 86_400_000))
    const replay = {
      ...loaded.config.replay,
      mode: 'on',
      live: opts.live,
      ...(opts.trace !== undefined ? { trace: opts.trace } : {}),
      ...(opts.speed !== undefined ? { speed: opts.speed } : {}),
      ...(opts.backfill !== undefined ? { backfillDays: days(opts.backfill) } : {}),
      ...(opts.samples !== undefined ? { sampleDays: days(opts.samples) } : {}),
      ...(opts.sampleStep !== undefined ? { sampleStepMs: parseDuration(opts.sampleStep) } : {}),
    }
    const parsed = configSchema.safeParse({ ...loaded.config, replay })
    if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })), 'replay options')
    await runService({ ...loaded, config: parsed.data })
  })

program
  .command('migrate')
  .description('apply pending schema migrations (idempotent) and reconcile TTLs')
  .option('--print-ddl', 'print the DDL migrate runs on an empty database for store.mode (single or cluster), without connecting')
  .action(async (opts: { printDdl?: boolean }) => {
    const { config: cfg } = config()
    if (opts.printDdl) {
      process.stdout.write(renderAll(cfg.store).map((s) => `${s};\n`).join('\n'))
      return
    }
    const store = await createStore(cfg.store)
    try {
      const r = await migrate(store, cfg.store)
      for (const name of r.applied) console.log(`applied ${name}`)
      for (const change of r.ttlChanged) console.log(`ttl ${change}`)
      console.log(`schema up to date on ${store.mode} store ${store.location} (${r.applied.length} applied, ${r.alreadyApplied} already applied)`)
    } finally {
      await store.close()
    }
  })

program
  .command('config')
  .description('configuration commands')
  .command('print')
  .description('print the effective configuration (defaults + file + env) with secrets redacted')
  .action(() => {
    const loaded = config()
    const header = [`# effective gpuscope configuration`, `# file: ${loaded.file ?? '(none; defaults)'}`]
    if (loaded.envVars.length) header.push(`# env: ${loaded.envVars.sort().join(', ')}`)
    process.stdout.write(`${header.join('\n')}\n${stringify(redact(loaded.config))}`)
  })

/** Starts the service and wires SIGTERM / SIGINT to its graceful shutdown. */
async function runService(loaded: LoadedConfig, options: ServeOptions = {}): Promise<void> {
  const service = await startService(loaded, options)
  let signals = 0
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) process.exit(EXIT_FAILURE) // a second Ctrl-C means "now"
    const timer = setTimeout(() => {
      process.stderr.write(`gpuscope: shutdown took over ${SHUTDOWN_TIMEOUT_MS / 1000}s; exiting\n`)
      process.exit(EXIT_FAILURE)
    }, SHUTDOWN_TIMEOUT_MS)
    timer.unref()
    service.stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`gpuscope: shutdown failed: ${(err as Error).message}\n`)
        process.exit(EXIT_FAILURE)
      },
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}

registerForecastCommands(program, config)
registerReportCommands(program, config)
registerGenerateCommands(program, config)
registerWhatifCommand(program, config)

try {
  await program.parseAsync(process.argv)
} catch (err) {
  const { message, code } = failure(err)
  if (message) process.stderr.write(`gpuscope: ${message}\n`)
  process.exit(code)
}

/**
 * What to print for an error and the exit code: usage and configuration errors exit 2, other
 * gpuscope errors and file-system errors on a path the user gave exit 1 with one line; anything
 * else is a bug and keeps its stack.
 */
function failure(err: unknown): { message?: string; code: number } {
  // Commander has printed its message (and help) already; --help and --version end here with 0.
  if (err instanceof CommanderError) return { code: err.exitCode === 0 ? 0 : EXIT_CONFIG }
  if (err instanceof ConfigError || err instanceof UsageError) return { message: err.message, code: EXIT_CONFIG }
  if (err instanceof GpuscopeError) return { message: err.message, code: EXIT_FAILURE }
  const e = err as NodeJS.ErrnoException
  if (typeof e?.code === 'string' && typeof e.path === 'string') {
    // "ENOENT: no such file or directory, open 'x'" -> "cannot open x: no such file or directory (ENOENT)"
    const reason = /^[A-Z]+: ([^,]+)/.exec(e.message)?.[1] ?? e.message
    return { message: `cannot ${e.syscall ?? 'use'} ${e.path}: ${reason} (${e.code})`, code: EXIT_FAILURE }
  }
  return { message: e instanceof Error ? (e.stack ?? e.message) : String(err), code: EXIT_FAILURE }
}
