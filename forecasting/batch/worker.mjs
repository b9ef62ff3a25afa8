// Entry of a forecast batch worker thread (piscina). A worker thread does not inherit
// the main thread's module hooks, so it registers tsx itself (as bin/gpuscope.mjs does)
// before loading the TypeScript task.
import { register } from 'tsx/esm/api'

register()
const { runSeriesTask } = await import('./task.ts')

export default runSeriesTask
