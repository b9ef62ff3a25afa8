import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultConfig, type Config } from '../../config/schema'
import { createStore, type Store } from '../../store/client'
import { migrate } from '../../store/migrate'
import { createWriters, type StoreWriters } from '../../store/sinks'

/** A silent logger for tests. */
export const silentLogger = { info() {}, warn() {}, error() {}, debug() {} }

/** A migrated chDB store in a fresh temp directory, with writers; `close()` removes it. One per test file (libchdb binds one data dir per process). */
export interface TestStore {
  store: Store
  writers: StoreWriters
  config: Config
  close(): Promise<void>
}

/** Opens a TestStore; pass config overrides for sections the test cares about. */
export async function openTestStore(over: Partial<Config> = {}): Promise<TestStore> {
  const dir = mkdtempSync(join(tmpdir(), 'gpuscope-test-'))
  const base = defaultConfig()
  const config = { ...base, ...over, store: { ...base.store, path: dir } } as Config
  const store = await createStore(config.store)
  await migrate(store, config.store)
  const writers = createWriters(store, config.store.writer, silentLogger)
  return {
    store,
    writers,
    config,
    close: async () => {
      await writers.close()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
