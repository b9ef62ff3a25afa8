/**
 * OpenCost-compatible allocation (GET /allocation/compute): OpenCost's
 * `aggregate` terms turned into gpuscope's row keys, and OpenCost's boolean
 * query values. The window, step and accumulate words become time sets in
 * core/opencostPlan.ts; priced GPU-hours become OpenCost's allocation sets in
 * core/opencostSets.ts. Pure.
 */
import { InputError } from './errors.js'

/** Interval columns an OpenCost aggregate reads (workload name and kind make OpenCost's `controller`). */
export type OcColumn = 'cluster' | 'node' | 'namespace' | 'workloadKind' | 'workloadName' | 'pod' | 'team' | 'project' | 'user'

/** One `aggregate` term: what the client wrote, the property it names, and the columns its value comes from. */
export interface AggregateTerm {
  input: string
  property: 'cluster' | 'node' | 'namespace' | 'controllerKind' | 'controller' | 'pod' | 'label' | 'annotation' | 'team' | 'owner'
  columns: OcColumn[]
  /** For label:<k> / annotation:<k>: the key as OpenCost sanitizes it (non [A-Za-z0-9_] to `_`). */
  key?: string
}

/** The label (or annotation) keys gpuscope reads into its team, project and user columns (config.collector.kubernetes.labels). */
export interface LabelColumns {
  team: readonly string[]
  project: readonly string[]
  user: readonly string[]
}

/** OpenCost's default aggregation without `container`, which gpuscope does not record (it keeps pods). */
const DEFAULT_AGGREGATE = 'cluster,node,namespace,pod'
const PLAIN: Record<string, Pick<AggregateTerm, 'property' | 'columns'>> = {
  cluster: { property: 'cluster', columns: ['cluster'] },
  node: { property: 'node', columns: ['node'] },
  namespace: { property: 'namespace', columns: ['namespace'] },
  controllerkind: { property: 'controllerKind', columns: ['workloadKind'] },
  controller: { property: 'controller', columns: ['workloadKind', 'workloadName'] },
  pod: { property: 'pod', columns: ['pod'] },
  // OpenCost's aliased-label properties that have a gpuscope column.
  team: { property: 'team', columns: ['team'] },
  owner: { property: 'owner', columns: ['user'] },
}
const SUPPORTED = 'cluster, node, namespace, controllerKind, controller, pod, team, owner, label:<key> and annotation:<key>'

/** OpenCost's label-name sanitizing (Prometheus label names): every character outside [A-Za-z0-9_] becomes `_`. */
export const sanitizeLabel = (key: string): string => key.replace(/[^A-Za-z0-9_]/g, '_')

/**
 * Parses `aggregate` (comma-separated; OpenCost's default when empty). A
 * label:<k> or annotation:<k> maps to the team, project or user column when
 * <k> (raw or sanitized) is one of the keys configured for it; any other
 * label, `container`, `service`, `all` and the rest throw InputError.
 */
export function parseAggregate(text: string | undefined, labels: LabelColumns): AggregateTerm[] {
  const raw = (text ?? '').trim() === '' ? DEFAULT_AGGREGATE : (text as string)
  const terms: AggregateTerm[] = []
  for (const part of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const plain = PLAIN[part.toLowerCase()]
    const labelled = /^(label|annotation):(.+)$/.exec(part)
    if (plain) terms.push({ input: part, ...plain })
    else if (labelled) terms.push(labelTerm(part, labelled[1] as 'label' | 'annotation', labelled[2]!.trim(), labels))
    else throw new InputError(`Invalid 'aggregate' parameter: '${part}' is not supported: gpuscope aggregates by ${SUPPORTED}`)
  }
  return terms
}

function labelTerm(input: string, property: 'label' | 'annotation', key: string, labels: LabelColumns): AggregateTerm {
  const wanted = sanitizeLabel(key)
  for (const column of ['team', 'project', 'user'] as const) {
    if (labels[column].some((k) => k === key || sanitizeLabel(k) === wanted)) return { input, property, columns: [column], key: wanted }
  }
  const known = [...labels.team, ...labels.project, ...labels.user].map((k) => `${property}:${k}`).join(', ')
  throw new InputError(
    `Invalid 'aggregate' parameter: ${property} '${key}' is not supported: gpuscope keeps only the team, project and user labels (${known}; sanitized forms accepted)`,
  )
}

/** The columns to group by for the terms, in order, each once; `team` first when a team-scoped caller needs its rows picked out. */
export function columnsOf(terms: readonly AggregateTerm[], withTeam: boolean): OcColumn[] {
  return [...new Set<OcColumn>([...(withTeam ? (['team'] as const) : []), ...terms.flatMap((t) => t.columns)])]
}

/** OpenCost's boolean query values (Go strconv.ParseBool); `fallback` when absent. */
export function parseBool(name: string, text: string | undefined, fallback: boolean): boolean {
  if (text === undefined || text === '') return fallback
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false
  throw new InputError(`Invalid '${name}' parameter: '${text}' is not a boolean (true or false)`)
}
