/**
 * How each workload kind is stopped, as pure data: the API path of the
 * object and the one change that stops it. Notebook: the notebook
 * controller's own stop (annotation `kubeflow-resource-stopped` = an RFC 3339
 * time, DESIGN.md, Kubeflow culling contract); Job: `spec.suspend: true`;
 * Deployment / StatefulSet: scale to 0 with the replicas kept in an
 * annotation (and the object's resourceVersion, so a concurrent change makes
 * the patch fail with 409 instead of overwriting it); bare Pod: delete.
 */

const enc = encodeURIComponent

/** API paths of the kinds the enforcer stops, and of namespaces. */
export const kubePaths = {
  namespace: (ns: string) => `/api/v1/namespaces/${enc(ns)}`,
  Notebook: (ns: string, name: string) => `/apis/kubeflow.org/v1/namespaces/${enc(ns)}/notebooks/${enc(name)}`,
  Job: (ns: string, name: string) => `/apis/batch/v1/namespaces/${enc(ns)}/jobs/${enc(name)}`,
  Deployment: (ns: string, name: string) => `/apis/apps/v1/namespaces/${enc(ns)}/deployments/${enc(name)}`,
  StatefulSet: (ns: string, name: string) => `/apis/apps/v1/namespaces/${enc(ns)}/statefulsets/${enc(name)}`,
  Pod: (ns: string, name: string) => `/api/v1/namespaces/${enc(ns)}/pods/${enc(name)}`,
} as const

/** Workload kinds the enforcer knows how to stop. */
export type StoppableKind = Exclude<keyof typeof kubePaths, 'namespace'>

/** Whether a workload kind (as stored) is one the enforcer can stop. */
export const isStoppable = (kind: string): kind is StoppableKind => kind !== 'namespace' && Object.hasOwn(kubePaths, kind)

/** The Kubeflow notebook controller's stop annotation. */
export const NOTEBOOK_STOPPED_ANNOTATION = 'kubeflow-resource-stopped'

/** Where the replicas of a scaled-down Deployment or StatefulSet are kept, so a person (or a later tool) can restore them. */
export const REPLICAS_ANNOTATION = 'gpuscope.io/replicas-before-stop'

/** The object fields a stop reads. */
export interface StoppableObject {
  metadata: { resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  spec?: Record<string, unknown>
}

/** One stop: a merge patch, a delete, or nothing because the object is already stopped. */
export type StopOperation =
  | { type: 'patch'; patch: Record<string, unknown>; note: string }
  | { type: 'delete'; note: string }
  | { type: 'already-stopped'; note: string }

/** RFC 3339 in whole seconds, as Kubeflow's culler writes it (`time.RFC3339`). */
export const rfc3339 = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')

/** The change that stops `obj` of `kind` at nowMs. */
export function stopOperation(kind: StoppableKind, obj: StoppableObject, nowMs: number): StopOperation {
  switch (kind) {
    case 'Notebook': {
      const stopped = obj.metadata.annotations?.[NOTEBOOK_STOPPED_ANNOTATION]
      if (stopped !== undefined) return { type: 'already-stopped', note: `already stopped (${NOTEBOOK_STOPPED_ANNOTATION}=${stopped})` }
      const at = rfc3339(nowMs)
      return { type: 'patch', patch: { metadata: { annotations: { [NOTEBOOK_STOPPED_ANNOTATION]: at } } }, note: `annotated ${NOTEBOOK_STOPPED_ANNOTATION}=${at}` }
    }
    case 'Job':
      if (obj.spec?.suspend === true) return { type: 'already-stopped', note: 'already suspended (spec.suspend=true)' }
      return { type: 'patch', patch: { spec: { suspend: true } }, note: 'suspended (spec.suspend=true)' }
    case 'Deployment':
    case 'StatefulSet': {
      const replicas = typeof obj.spec?.replicas === 'number' ? obj.spec.replicas : 1
      if (replicas === 0) return { type: 'already-stopped', note: 'already scaled to 0' }
      const metadata: Record<string, unknown> = { annotations: { [REPLICAS_ANNOTATION]: String(replicas) } }
      if (obj.metadata.resourceVersion) metadata.resourceVersion = obj.metadata.resourceVersion
      return { type: 'patch', patch: { metadata, spec: { replicas: 0 } }, note: `scaled from ${replicas} to 0 replicas (${REPLICAS_ANNOTATION}=${replicas})` }
    }
    case 'Pod':
      return { type: 'delete', note: 'deleted the bare pod' }
  }
}

/** Whether an object or namespace carries the exemption label set to true. */
export const hasExemptLabel = (obj: StoppableObject | undefined, label: string): boolean => obj?.metadata.labels?.[label] === 'true'
