/**
 * `npm run dashboards`: writes dashboards/dist/*.json, dashboards/layout/*.svg
 * and docs/dashboards.md from the dashboard modules. With `--check` it writes
 * nothing and exits 1 when a generated file is missing or stale (for CI).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { renderAll } from './render'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Paths (from the repository root) whose content differs from what the build would write. */
export function staleFiles(root = ROOT): string[] {
  const stale: string[] = []
  for (const [path, content] of renderAll()) {
    const full = join(root, path)
    if (!existsSync(full) || readFileSync(full, 'utf8') !== content) stale.push(path)
  }
  return stale
}

/** Writes every generated file; returns the paths written. */
export function writeAll(root = ROOT): string[] {
  const written: string[] = []
  for (const [path, content] of renderAll()) {
    const full = join(root, path)
    mkdirSync(dirname(full), { recursive: true })
    writeFileSync(full, content)
    written.push(path)
  }
  return written
}

function main(argv: readonly string[]): number {
  if (argv.includes('--check')) {
    const stale = staleFiles()
    if (stale.length === 0) return 0
    process.stderr.write(`generated dashboard files are stale; run npm run dashboards:\n${stale.map((s) => `  ${s}`).join('\n')}\n`)
    return 1
  }
  for (const path of writeAll()) process.stdout.write(`wrote ${path}\n`)
  return 0
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2))
