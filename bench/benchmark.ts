/** A named benchmark: `npm run bench -- <name> [flags]`. */
export interface Benchmark {
  name: string
  /** One line for the list of benchmarks. */
  summary: string
  /** Flags, as shown by `--help`. */
  usage: string
  /** Runs with the arguments after the name; resolves to the process exit code (0 ok, 1 a check failed). */
  run(argv: string[]): Promise<number>
}

/** Reads a positive integer flag such as `--rows 2000000` (underscores allowed: `2_000_000`). */
export function positiveIntFlag(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const n = Number(raw.replace(/_/g, ''))
  if (!Number.isSafeInteger(n) || n <= 0) throw new FlagError(`--${name} must be a positive integer, got '${raw}'`)
  return n
}

/** A bad command-line flag: the entry point prints it and exits 2. */
export class FlagError extends Error {
  override readonly name = 'FlagError'
}
