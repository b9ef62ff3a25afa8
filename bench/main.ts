/**
 * Benchmark entry: `npm run bench -- <name> [flags]`. Results and the
 * machine they were measured on are recorded in docs/benchmarks.md.
 */
import { parseArgs } from 'node:util'
import { apiBench } from './api'
import { FlagError, type Benchmark } from './benchmark'
import { collectorBench } from './collector'
import { fleetBench } from './fleet'
import { forecastBench } from './forecast'
import { ingestBench } from './ingest'
import { serveReadyBench } from './serve-ready'
import { whatifBench } from './whatif'

const BENCHMARKS: readonly Benchmark[] = [ingestBench, serveReadyBench, collectorBench, fleetBench, forecastBench, apiBench, whatifBench]

function listing(): string {
  const width = Math.max(...BENCHMARKS.map((b) => b.name.length))
  const lines = BENCHMARKS.map((b) => `  ${b.name.padEnd(width)}  ${b.summary}`)
  return `usage: npm run bench -- <name> [flags]   (<name> --help for its flags)\n\nbenchmarks:\n${lines.join('\n')}\n`
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(listing())
    return name === undefined ? 2 : 0
  }
  const bench = BENCHMARKS.find((b) => b.name === name)
  if (!bench) {
    process.stderr.write(`unknown benchmark '${name}'\n\n${listing()}`)
    return 2
  }
  if (parseArgs({ args: rest, options: { help: { type: 'boolean', short: 'h' } }, strict: false }).values.help) {
    process.stdout.write(`usage: npm run bench -- ${bench.name} [flags]\n\n${bench.usage}\n`)
    return 0
  }
  try {
    return await bench.run(rest)
  } catch (err) {
    if (err instanceof FlagError || isParseArgsError(err)) {
      process.stderr.write(`${bench.name}: ${(err as Error).message}\n\nusage: npm run bench -- ${bench.name} [flags]\n${bench.usage}\n`)
      return 2
    }
    throw err
  }
}

/** node:util parseArgs reports unknown or malformed flags as TypeErrors with an ERR_PARSE_ARGS_* code. */
function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
