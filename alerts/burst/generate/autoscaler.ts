/**
 * The cluster-autoscaler priority expander ConfigMap from the burst policy.
 * With `--expander=priority` the autoscaler reads `priorities` from the
 * ConfigMap `cluster-autoscaler-priority-expander` in its own namespace: a
 * YAML map of integer priority -> node-group name regexes; among the node
 * groups that could fit the pending pods it scales one matching the highest
 * priority. Cloud targets get priorities by tier (spot above on-demand, config
 * order within a lifecycle) and a `.*` catch-all holds the lowest priority so
 * every other node group stays eligible. On-prem pools are not node groups
 * the autoscaler grows, so they do not appear.
 */
import { stringify } from 'yaml'
import type { BurstConfig, BurstTargetConfig } from '../../../config/alerts'
import { InputError } from '../../../core/errors'
import { metadataFor, planPools, tierValues, type CommonOptions, type Generated } from './shared'

/** Name the cluster-autoscaler looks the priorities up under. */
export const PRIORITY_EXPANDER_CONFIGMAP = 'cluster-autoscaler-priority-expander'
/** Priority of the `.*` catch-all: below every burst target. */
export const CATCH_ALL_PRIORITY = 1
const TOP_PRIORITY = 100

/** Autoscaler generator options on top of the common ones. */
export interface AutoscalerOptions extends CommonOptions {
  /** Namespace the cluster-autoscaler runs in. */
  namespace: string
  /** Node-group name regex by target name; a target without one gets `^<ASG name>$` (aws-asg adapter) or `.*<pool label value>.*`. */
  nodeGroups: Readonly<Record<string, string>>
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The node-group regex of a target, and whether it was guessed (the operator should check it). */
export function nodeGroupPattern(t: BurstTargetConfig, given: Readonly<Record<string, string>>): { pattern: string; guessed: boolean } {
  const own = given[t.name]
  if (own !== undefined) return { pattern: own, guessed: false }
  if (t.adapter.type === 'aws-asg') return { pattern: `^${escapeRegex(t.adapter.autoScalingGroupName)}$`, guessed: false }
  return { pattern: `.*${escapeRegex(t.pool)}.*`, guessed: true }
}

/** The priority expander ConfigMap for the selected burst pools. */
export function priorityExpanderObjects(burst: BurstConfig, opts: AutoscalerOptions): Generated {
  const plan = planPools(burst, opts)
  const known = new Set(plan.pools.flatMap((p) => p.targets.map((t) => t.target.name)))
  for (const name of Object.keys(opts.nodeGroups)) {
    if (!known.has(name)) throw new InputError(`--node-group names unknown target '${name}' (targets: ${[...known].join(', ')})`)
  }
  const values = tierValues(plan.tierCount, TOP_PRIORITY, CATCH_ALL_PRIORITY + 1)
  const byPriority = new Map<number, string[]>()
  const notes = [...plan.notes]
  const add = (priority: number, pattern: string) => {
    const list = byPriority.get(priority) ?? []
    if (!list.includes(pattern)) list.push(pattern)
    byPriority.set(priority, list)
  }
  for (const p of plan.pools) {
    for (const { target, tier } of p.targets) {
      const { pattern, guessed } = nodeGroupPattern(target, opts.nodeGroups)
      try {
        new RegExp(pattern)
      } catch (err) {
        throw new InputError(`node-group pattern '${pattern}' of target '${target.name}' is not a valid regular expression`, { cause: err })
      }
      if (guessed) notes.push(`target ${target.name}: node-group pattern '${pattern}' is a guess from its pool label value; pass --node-group ${target.name}=REGEX with the real node-group name`)
      add(values[tier] as number, pattern)
    }
  }
  add(CATCH_ALL_PRIORITY, '.*')
  // Highest first, so the file reads in the order the autoscaler prefers.
  const priorities = new Map([...byPriority.entries()].sort((a, b) => b[0] - a[0]))
  return {
    cluster: plan.cluster,
    objects: [{
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: metadataFor(PRIORITY_EXPANDER_CONFIGMAP, undefined, opts.namespace),
      data: { priorities: stringify(priorities, { lineWidth: 0 }) },
    }],
    notes,
  }
}
