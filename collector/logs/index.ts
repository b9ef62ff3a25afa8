/**
 * Picks the pod log source from config: Elasticsearch when `elasticsearch.url`
 * is set, else the Kubernetes pod log API of the collector's clusters.
 */
import type { ElasticsearchConfig } from '../../config/elasticsearch'
import type { KubernetesClusterConfig } from '../../config/kubernetes'
import { createElasticsearchReader } from './elasticsearch'
import { createPodLogReader } from './podLogs'
import type { LogReader } from './types'

export type { LogLine, LogPage, LogQuery, LogReader, LogSource } from './types'

/** The log reader the configuration asks for. */
export function createLogReader(elasticsearch: ElasticsearchConfig, clusters: readonly KubernetesClusterConfig[]): LogReader {
  return elasticsearch.url ? createElasticsearchReader(elasticsearch) : createPodLogReader(clusters)
}
