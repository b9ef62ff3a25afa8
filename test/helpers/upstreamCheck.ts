/**
 * Test support (under test/: ajv and kubernetes-models are dev
 * dependencies): checks generated objects against the upstream schemas.
 * Kueue and Karpenter objects are validated with ajv against the
 * `openAPIV3Schema` of the served storage version of the upstream CRD kept
 * verbatim in test/fixtures/crds; the priority expander ConfigMap with
 * kubernetes-models' ConfigMap model, then its `priorities` are parsed, every
 * regex compiled, and the `.*` catch-all checked to hold the lowest priority.
 *
 * The CRD files are not edited: ajv runs with `strict: false` so the
 * Kubernetes `x-kubernetes-*` keywords pass through, and the formats the
 * API server knows (int32, int64, date-time) are registered. Like
 * `kubectl apply` (strict field validation), a field the schema does not
 * declare is an error: object schemas that list properties get
 * `additionalProperties: false` in a copy of the schema.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Ajv, { type ValidateFunction } from 'ajv'
import { ConfigMap } from 'kubernetes-models/v1'
import { parse } from 'yaml'

/** Upstream CRD files (verbatim copies, see test/fixtures/crds/README.md). */
export const CRD_FILES = {
  ResourceFlavor: 'kueue.x-k8s.io_resourceflavors.yaml',
  ClusterQueue: 'kueue.x-k8s.io_clusterqueues.yaml',
  NodePool: 'karpenter.sh_nodepools.yaml',
} as const

const CRD_DIR = fileURLToPath(new URL('../fixtures/crds/', import.meta.url))

type Schema = Record<string, unknown>
interface CrdVersion { name: string; served: boolean; storage: boolean; schema: { openAPIV3Schema: Schema } }
interface Crd { spec: { group: string; names: { kind: string }; versions: CrdVersion[] } }

/** The served storage version of a CRD file: its apiVersion, kind and schema. */
export function storageVersion(file: string): { apiVersion: string; kind: string; schema: Schema } {
  const crd = parse(readFileSync(CRD_DIR + file, 'utf8')) as Crd
  const v = crd.spec.versions.find((x) => x.served && x.storage)
  if (!v) throw new Error(`${file}: no served storage version`)
  return { apiVersion: `${crd.spec.group}/${v.name}`, kind: crd.spec.names.kind, schema: v.schema.openAPIV3Schema }
}

/** A copy of a structural schema in which object schemas with declared properties reject undeclared ones. */
export function strictCopy(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strictCopy)
  if (typeof schema !== 'object' || schema === null) return schema
  const out: Schema = {}
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, strictCopy(s)])) : strictCopy(v)
  if (out.properties !== undefined && out.additionalProperties === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) out.additionalProperties = false
  return out
}

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, logger: false })
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 })
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) })
  ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)))
  return ajv
}

const compiled = new Map<string, { apiVersion: string; kind: string; validate: ValidateFunction }>()

function validatorFor(kind: keyof typeof CRD_FILES) {
  let v = compiled.get(kind)
  if (!v) {
    const { apiVersion, kind: crdKind, schema } = storageVersion(CRD_FILES[kind])
    v = { apiVersion, kind: crdKind, validate: newAjv().compile(strictCopy(schema) as Schema) }
    compiled.set(kind, v)
  }
  return v
}

/** Errors of an object against its upstream CRD schema (served storage version); empty = valid. */
export function crdErrors(obj: { apiVersion?: unknown; kind?: unknown }, kind: keyof typeof CRD_FILES): string[] {
  const v = validatorFor(kind)
  const errors: string[] = []
  if (obj.apiVersion !== v.apiVersion) errors.push(`apiVersion must be ${v.apiVersion}, got ${String(obj.apiVersion)}`)
  if (obj.kind !== v.kind) errors.push(`kind must be ${v.kind}, got ${String(obj.kind)}`)
  if (!v.validate(obj)) errors.push(...(v.validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}${e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : ''}`))
  return errors
}

/** Errors of the priority expander ConfigMap: the Kubernetes model, then the `priorities` map, its regexes and its catch-all; empty = valid. */
export function priorityExpanderErrors(obj: unknown): string[] {
  try {
    new ConfigMap(obj as ConstructorParameters<typeof ConfigMap>[0]).validate()
  } catch (err) {
    return [`ConfigMap: ${(err as Error).message}`]
  }
  const cm = obj as { kind: string; metadata?: { name?: string }; data?: Record<string, string> }
  const errors: string[] = []
  if (cm.kind !== 'ConfigMap') errors.push(`kind must be ConfigMap, got ${cm.kind}`)
  if (cm.metadata?.name !== 'cluster-autoscaler-priority-expander') errors.push(`name must be cluster-autoscaler-priority-expander, got ${String(cm.metadata?.name)}`)
  const text = cm.data?.priorities
  if (typeof text !== 'string') return [...errors, 'data.priorities is missing']
  let parsed: unknown
  try {
    parsed = parse(text)
  } catch (err) {
    return [...errors, `data.priorities is not YAML: ${(err as Error).message}`]
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return [...errors, 'data.priorities must be a map of priority -> regexes']
  const entries = Object.entries(parsed as Record<string, unknown>)
  if (entries.length === 0) errors.push('data.priorities is empty')
  let catchAll: number | undefined
  for (const [key, list] of entries) {
    if (!/^-?\d+$/.test(key)) errors.push(`priority '${key}' is not an integer`)
    if (!Array.isArray(list) || list.length === 0) {
      errors.push(`priority ${key}: expected a non-empty list of regexes`)
      continue
    }
    for (const re of list) {
      if (typeof re !== 'string') errors.push(`priority ${key}: ${JSON.stringify(re)} is not a string`)
      else {
        try {
          new RegExp(re)
        } catch {
          errors.push(`priority ${key}: '${re}' is not a valid regex`)
        }
        if (re === '.*') catchAll = Number(key)
      }
    }
  }
  const priorities = entries.map(([k]) => Number(k))
  if (catchAll === undefined) errors.push("no '.*' catch-all")
  else if (catchAll !== Math.min(...priorities) || (parsed as Record<string, unknown[]>)[String(catchAll)]?.length !== 1) {
    errors.push(`the '.*' catch-all (priority ${catchAll}) must be alone at the lowest priority`)
  }
  return errors
}
