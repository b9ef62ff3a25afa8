import type { WriterConfig } from '../config/schema'
import type { Logger, StoreSinks } from '../core/ports'
import type { Store } from './client'
import { actionsSpec, cloudInstancesSpec, gpuSamplesSpec, nodeSeenSpec, nodeStateSpec, notebookActivitySpec, pricesSpec, workloadIntervalsSpec } from './tables'
import { BatchWriter, type WriterStats } from './writer'

/** One batching writer per table, behind the StoreSinks port. */
export interface StoreWriters {
  sinks: StoreSinks
  stats(): WriterStats[]
  /** Writes everything queued in every table. */
  flush(): Promise<void>
  /** Flushes and refuses further writes (graceful shutdown). */
  close(): Promise<void>
}

/** Builds the batching writers for every table of the store. */
export function createWriters(store: Store, config: WriterConfig, logger: Logger): StoreWriters {
  const deps = { store, logger }
  const sinks = {
    gpuSamples: new BatchWriter(gpuSamplesSpec, config, deps),
    workloadIntervals: new BatchWriter(workloadIntervalsSpec, config, deps),
    nodeState: new BatchWriter(nodeStateSpec, config, deps),
    nodeSeen: new BatchWriter(nodeSeenSpec, config, deps),
    notebookActivity: new BatchWriter(notebookActivitySpec, config, deps),
    cloudInstances: new BatchWriter(cloudInstancesSpec, config, deps),
    prices: new BatchWriter(pricesSpec, config, deps),
    actions: new BatchWriter(actionsSpec, config, deps),
  }
  const all = Object.values(sinks)
  return {
    sinks,
    stats: () => all.map((w) => ({ ...w.stats })),
    flush: async () => {
      await Promise.all(all.map((w) => w.flush()))
    },
    close: async () => {
      await Promise.all(all.map((w) => w.close()))
    },
  }
}
