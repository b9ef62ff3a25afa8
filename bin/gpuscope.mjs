#!/usr/bin/env node
// Runs the TypeScript CLI through tsx (no build step; see README, Development).
import { register } from 'tsx/esm/api'

register()
await import('../cli/main.ts')
