import { defineConfig } from 'vitest/config'

// libchdb binds one data directory per process, so every test file runs in its
// own forked process and opens its own temp directory (DESIGN.md, Storage).
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'data/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
