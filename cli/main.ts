import { Command } from 'commander'
import { stringify } from 'yaml'
import { loadConfig, type LoadedConfig } from '../config/load'
import { redact } from '../config/redact'
import { ConfigError, GpuscopeError } from '../core/errors'
import { createStore } from '../store/client'
import { migrate } from '../store/migrate'
import { startService } from './serve'
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

const config = (): LoadedConfig => loadConfig({ file: program.opts<{ config?: string }>().config })

program
  .command('serve')
  .description('run the service: HTTP API with /healthz, /readyz and /metrics, on the configured store')
  .action(async () => {
    const service = await startService(config())
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
  })

program
  .command('migrate')
  .description('apply pending schema migrations (idempotent) and reconcile TTLs')
  .action(async () => {
    const { config: cfg } = config()
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

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`gpuscope: ${err.message}\n`)
    process.exit(EXIT_CONFIG)
  }
  process.stderr.write(`gpuscope: ${err instanceof GpuscopeError ? err.message : (err as Error).stack ?? String(err)}\n`)
  process.exit(EXIT_FAILURE)
}
