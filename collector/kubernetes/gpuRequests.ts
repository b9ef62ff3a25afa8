/**
 * GPU request math: Kubernetes quantities, the pod-level request rule (init
 * containers, native sidecars, overhead) and how configured GPU resources
 * (whole GPUs, MIG slices, milli-GPUs, shares, count × per-GPU share) turn
 * into GPUs. Pure: no IO.
 */
import type { GpuResourceConfig } from '../../config/kubernetes'
import { gpuFractionOfResource } from '../../core/mig'
import type { Container, PodSpec, Quantity, ResourceList } from './types'

/** GPUs a pod requests and the resource most of them come from. */
export interface GpuRequest {
  gpus: number
  /** Resource name contributing the most GPUs; empty when none. */
  resource: string
}

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/
const SUFFIX: Readonly<Record<string, number>> = {
  n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
}

/** Parses a Kubernetes quantity (`2`, `500m`, `16Gi`, `1e3`); undefined when it is not one. */
export function parseQuantity(q: Quantity | undefined): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined
  if (typeof q !== 'string') return undefined
  const m = QUANTITY.exec(q.trim())
  if (!m) return undefined
  const base = Number(m[1])
  if (m[3] !== undefined) return base * 10 ** Number(m[3])
  // Divide for the decimal SI fractions so that `460m` is exactly 0.46, not 0.46000000000000002.
  if (m[2] === 'm') return base / 1e3
  if (m[2] === 'u') return base / 1e6
  if (m[2] === 'n') return base / 1e9
  return base * (m[2] ? (SUFFIX[m[2]] ?? 1) : 1)
}

/** The configured rule a resource name falls under (exact name, or a prefix ending in `*`). */
export function matchGpuResource(rules: readonly GpuResourceConfig[], name: string): GpuResourceConfig | undefined {
  return rules.find((r) => (r.name.endsWith('*') ? name.startsWith(r.name.slice(0, -1)) : r.name === name))
}

const MIG_SINGLE = /-MIG-(\d+g\.\d+gb)/i

/**
 * GPUs that `units` of a resource are: MIG slices by their fraction of the
 * node's GPU model, milli/shares divided out, and for a count with a per-GPU
 * share (Alibaba gpu-count + gpu-milli) count × share / perGpuShareUnits.
 * Undefined when the resource is not a GPU (an unknown MIG profile).
 */
export function gpusOfUnits(rule: GpuResourceConfig, name: string, units: number, gpuModel?: string, share?: number): number | undefined {
  switch (rule.kind) {
    case 'whole': {
      // MIG "single" strategy: slices are advertised as nvidia.com/gpu, and GPU
      // feature discovery names the slice in the product (`A100-SXM4-40GB-MIG-1g.5gb`).
      const single = name === 'nvidia.com/gpu' && gpuModel ? MIG_SINGLE.exec(gpuModel)?.[1] : undefined
      const fraction = single ? (gpuFractionOfResource(`nvidia.com/mig-${single}`, gpuModel) ?? 1) : 1
      if (rule.perGpuShareOf !== undefined && share !== undefined && share > 0) {
        return (units * Math.min(share, rule.perGpuShareUnits)) / rule.perGpuShareUnits
      }
      return units * fraction
    }
    case 'mig': {
      const fraction = gpuFractionOfResource(name, gpuModel)
      return fraction === undefined ? undefined : units * fraction
    }
    case 'milli':
      return units / 1000
    case 'shares':
      return units / (rule.sharesPerGpu ?? 1)
  }
}

/** Adds b into a (per resource). */
function addInto(a: Map<string, number>, b: ReadonlyMap<string, number>): void {
  for (const [k, v] of b) a.set(k, (a.get(k) ?? 0) + v)
}

/** Raises a to b where b is larger (per resource). */
function maxInto(a: Map<string, number>, b: ReadonlyMap<string, number>): void {
  for (const [k, v] of b) a.set(k, Math.max(a.get(k) ?? 0, v))
}

function sum(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map(a)
  addInto(out, b)
  return out
}

function resourceList(list: ResourceList | undefined, wanted: (name: string) => boolean): Map<string, number> {
  const out = new Map<string, number>()
  for (const [name, q] of Object.entries(list ?? {})) {
    const v = wanted(name) ? parseQuantity(q) : undefined
    if (v !== undefined) out.set(name, v)
  }
  return out
}

/** A container's requests; a resource with only a limit is requested at its limit, as the API server defaults it. */
function containerRequests(c: Container, wanted: (name: string) => boolean): Map<string, number> {
  const out = resourceList(c.resources?.limits, wanted)
  for (const [k, v] of resourceList(c.resources?.requests, wanted)) out.set(k, v)
  return out
}

/**
 * A pod's effective requests of the wanted resources by Kubernetes' rule:
 * max(sum of app containers + native sidecars, the largest init container
 * plus the sidecars started before it), plus pod overhead. A native sidecar
 * is an init container with restartPolicy Always: it keeps running beside the
 * app containers, so it adds to both phases.
 */
export function podRequests(spec: PodSpec | undefined, wanted: (name: string) => boolean): Map<string, number> {
  const app = new Map<string, number>()
  for (const c of spec?.containers ?? []) addInto(app, containerRequests(c, wanted))
  const sidecars = new Map<string, number>()
  const init = new Map<string, number>()
  for (const c of spec?.initContainers ?? []) {
    const r = containerRequests(c, wanted)
    if (c.restartPolicy === 'Always') {
      addInto(app, r)
      addInto(sidecars, r)
      maxInto(init, sidecars)
    } else {
      maxInto(init, sum(r, sidecars))
    }
  }
  maxInto(app, init)
  addInto(app, resourceList(spec?.overhead, wanted))
  return app
}

/** GPUs a pod requests under the configured GPU resources; `gpuModel` is its node's (for MIG fractions). */
export function podGpuRequest(spec: PodSpec | undefined, rules: readonly GpuResourceConfig[], gpuModel?: string): GpuRequest {
  const shares = new Set(rules.flatMap((r) => (r.perGpuShareOf ? [r.perGpuShareOf] : [])))
  const req = podRequests(spec, (n) => shares.has(n) || matchGpuResource(rules, n) !== undefined)
  let gpus = 0
  let resource = ''
  let most = 0
  for (const [name, units] of req) {
    const rule = matchGpuResource(rules, name)
    if (!rule || units <= 0) continue
    const g = gpusOfUnits(rule, name, units, gpuModel, rule.perGpuShareOf ? req.get(rule.perGpuShareOf) : undefined)
    if (g === undefined || g <= 0) continue
    gpus += g
    if (g > most) {
      most = g
      resource = name
    }
  }
  return { gpus, resource }
}

/** True when any container of the pod asks for a configured GPU resource (pod resources never gain one later). */
export function requestsGpuResource(spec: PodSpec | undefined, rules: readonly GpuResourceConfig[]): boolean {
  const asks = (c: Container) =>
    [...Object.keys(c.resources?.requests ?? {}), ...Object.keys(c.resources?.limits ?? {})].some((n) => matchGpuResource(rules, n) !== undefined)
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].some(asks)
}

/** GPUs in a node's capacity or allocatable list (a count resource counts whole GPUs; its share resource is not added). */
export function nodeGpus(list: ResourceList | undefined, rules: readonly GpuResourceConfig[], gpuModel?: string): number {
  let gpus = 0
  for (const [name, q] of Object.entries(list ?? {})) {
    const rule = matchGpuResource(rules, name)
    const units = rule ? parseQuantity(q) : undefined
    if (!rule || units === undefined || units <= 0) continue
    gpus += gpusOfUnits(rule, name, units, gpuModel) ?? 0
  }
  return gpus
}
