import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './serveProcess'

/** The shared public-data fixtures: ../shared/fixtures beside the checkout (CI lays it there), else a copy under test/fixtures/shared. */
export function sharedFixtures(...parts: string[]): string {
  const beside = join(ROOT, '..', 'shared', 'fixtures')
  const base = existsSync(beside) ? beside : join(ROOT, 'test', 'fixtures', 'shared')
  return join(base, ...parts)
}
