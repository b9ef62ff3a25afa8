/**
 * The target list of one cluster's `dcgm/<cluster>` source when exporters
 * are discovered: the static targets plus whatever discovery found now, and
 * a sink that puts GPUs on the exporter pod's node.
 */
import type { DcgmTarget } from '../../config/dcgm'
import type { GpuSample } from '../../core/model'
import type { Sink } from '../../core/ports'
import type { DiscoveredTarget } from './endpoints'

/** Exporter pods remembered for node mapping (rows of a gone pod may still wait in the pending buffer). */
const MAX_REMEMBERED_PODS = 10_000

/**
 * One cluster's exporter targets, changing as exporter pods come and go.
 * `list` is one array replaced in place on each change, so a poll source
 * holding it scrapes the current set at every poll.
 */
export class LiveTargets {
  /** Static targets first, then discovered ones whose URL no static target has (a static entry's `node` wins). */
  readonly list: DcgmTarget[]
  private readonly podNodes = new Map<string, string>()

  constructor(
    private readonly cluster: string,
    private readonly statics: readonly DcgmTarget[],
  ) {
    this.list = [...statics]
  }

  /** Replaces the discovered part with the union of every discovery of this cluster (deduplicated by URL). */
  update(discovered: readonly DiscoveredTarget[]): void {
    const seen = new Set(this.statics.map((t) => t.url))
    const next: DcgmTarget[] = [...this.statics]
    for (const t of discovered) {
      if (t.pod && t.node) this.remember(t.pod, t.node)
      if (seen.has(t.url)) continue
      seen.add(t.url)
      next.push({ cluster: this.cluster, url: t.url, node: t.node })
    }
    this.list.splice(0, this.list.length, ...next)
  }

  /**
   * Wraps the GPU sample sink: a row whose node is an exporter pod's name
   * (dcgm-exporter labels Hostname with os.Hostname(), the pod name, when
   * NODE_NAME is not set) is put on the node that pod runs on.
   */
  nodeMappingSink(sink: Sink<GpuSample>): Sink<GpuSample> {
    return {
      write: (rows) => {
        if (this.podNodes.size === 0) return sink.write(rows)
        return sink.write(rows.map((r) => {
          const node = this.podNodes.get(r.node)
          return node ? { ...r, node } : r
        }))
      },
    }
  }

  private remember(pod: string, node: string): void {
    this.podNodes.delete(pod)
    this.podNodes.set(pod, node)
    if (this.podNodes.size > MAX_REMEMBERED_PODS) this.podNodes.delete(this.podNodes.keys().next().value as string)
  }
}
