/**
 * deploy/kubernetes and the Dockerfile: every manifest validates against the
 * Kubernetes schemas (kubernetes-models), both overlays render with `kubectl
 * kustomize` (when kubectl is installed), RBAC is least privilege and matches
 * what the code calls, pods are hardened, and every GPUSCOPE_* variable the
 * manifests set is accepted by the real config loader.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative } from 'node:path'
import { Namespace, ConfigMap, PersistentVolumeClaim, Service, ServiceAccount } from 'kubernetes-models/v1'
import { Deployment } from 'kubernetes-models/apps/v1'
import { CronJob } from 'kubernetes-models/batch/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1'
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1'
import { parseAllDocuments, parse as parseYaml } from 'yaml'
import { afterAll, describe, expect, it } from 'vitest'
import { ADMISSION_PATHS } from '../alerts/admission'
import { kubePaths, stopOperation, type StoppableKind } from '../alerts/enforcer/kinds'
import { envMapping, loadConfig } from '../config/load'
import { configSchema } from '../config/schema'
import { ROOT } from './helpers/serveProcess'

const KUBE = join(ROOT, 'deploy', 'kubernetes')
const tmp = mkdtempSync(join(tmpdir(), 'gpuscope-deploy-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

// ---------------------------------------------------------------- objects

interface Meta { name: string; namespace?: string; labels?: Record<string, string> }
interface K8sObject { apiVersion: string; kind: string; metadata: Meta; [k: string]: unknown }
interface Rule { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs: string[] }
interface Subject { kind: string; name: string; namespace?: string }
interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; fieldRef?: { fieldPath: string } } }
interface Container {
  name: string
  args?: string[]
  env?: EnvVar[]
  ports?: Array<{ name?: string; containerPort: number }>
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
  securityContext?: { runAsNonRoot?: boolean; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; privileged?: boolean; capabilities?: { drop?: string[]; add?: string[] } }
  livenessProbe?: { httpGet?: { path: string; port: string | number } }
  readinessProbe?: { httpGet?: { path: string; port: string | number } }
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string; readOnly?: boolean }>
}
interface Volume { name: string; configMap?: { name: string }; secret?: { secretName: string }; emptyDir?: object; persistentVolumeClaim?: { claimName: string } }
interface PodSpec {
  serviceAccountName?: string
  automountServiceAccountToken?: boolean
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } }
  containers: Container[]
  volumes?: Volume[]
}
interface PodTemplate { metadata?: { labels?: Record<string, string> }; spec: PodSpec }

type ModelClass = new (data: never) => { validate(): void }
/** Every kind the manifests may hold; an object of any other kind fails the test (so nothing goes unvalidated). */
const MODELS: Record<string, ModelClass> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'batch/v1/CronJob': CronJob,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor as unknown as ModelClass,
}

/** Validates one object with its kubernetes-models class; throws naming the object. */
function validateObject(o: K8sObject): void {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`]
  if (!Model) throw new Error(`no model for ${o.apiVersion} ${o.kind} '${o.metadata?.name}': add it to MODELS`)
  try {
    new Model(o as never).validate()
  } catch (err) {
    throw new Error(`${o.kind} '${o.metadata.name}': ${(err as Error).message}`, { cause: err })
  }
}

const parseObjects = (text: string, where: string): K8sObject[] =>
  parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length) throw new Error(`${where}: ${doc.errors[0]?.message}`)
    const value = doc.toJS() as K8sObject | null
    return value ? [value] : []
  })

/** Files of the tree (relative to deploy/kubernetes), recursively. */
function files(dir = KUBE): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [relative(KUBE, join(dir, e.name))]))
}
const isKustomization = (f: string) => basename(f) === 'kustomization.yaml'
/** Config files for the configMapGenerator: gpuscope's own config, not Kubernetes objects. */
const isConfigFile = (f: string) => basename(f) === 'gpuscope.yaml'
const manifestFiles = () => files().filter((f) => f.endsWith('.yaml') && !isKustomization(f) && !isConfigFile(f))
const readObjects = (f: string) => parseObjects(readFileSync(join(KUBE, f), 'utf8'), f)

// ---------------------------------------------------------------- layouts

const kubectlFound = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 }).status === 0
const NO_KUBECTL = 'kubectl is not on PATH: `kubectl kustomize` rendering is skipped (the raw manifest files are still validated)'
if (!kubectlFound) console.warn(`deploy-manifests: ${NO_KUBECTL}`)

/** What an operator installs: an overlay, with the components uncommented in its kustomization.yaml (as docs/operations.md says). */
interface Layout { name: string; overlay: 'single' | 'scale-out'; components: Array<'enforcement' | 'delete-bare-pods'> }
const LAYOUTS: Layout[] = [
  { name: 'single', overlay: 'single', components: [] },
  { name: 'scale-out', overlay: 'scale-out', components: [] },
  { name: 'single + enforcement + delete-bare-pods', overlay: 'single', components: ['enforcement', 'delete-bare-pods'] },
  { name: 'scale-out + enforcement', overlay: 'scale-out', components: ['enforcement'] },
]

/** Uncomments the named components in an overlay's kustomization.yaml; throws when the commented block is not there. */
function enableComponents(text: string, components: Layout['components']): string {
  if (!/^# components:$/m.test(text)) throw new Error('the overlay has no commented `# components:` block')
  let out = text.replace(/^# components:$/m, 'components:')
  for (const c of components) {
    const line = `#   - ../../components/${c}`
    if (!out.includes(line)) throw new Error(`the overlay has no commented line '${line}'`)
    out = out.replace(line, `  - ../../components/${c}`)
  }
  return out
}

const rendered = new Map<string, K8sObject[]>()
/** The layout rendered by `kubectl kustomize` from a copy of the tree (so enabling components edits the copy, not the repository). */
function render(layout: Layout): K8sObject[] {
  const cached = rendered.get(layout.name)
  if (cached) return cached
  let dir = join(KUBE, 'overlays', layout.overlay)
  if (layout.components.length) {
    const copy = join(tmp, layout.name.replace(/\W+/g, '-'))
    cpSync(KUBE, copy, { recursive: true })
    dir = join(copy, 'overlays', layout.overlay)
    writeFileSync(join(dir, 'kustomization.yaml'), enableComponents(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'), layout.components))
  }
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) throw new Error(`kubectl kustomize ${layout.name} failed: ${r.stderr}`)
  const objects = parseObjects(r.stdout, layout.name)
  rendered.set(layout.name, objects)
  return objects
}

/**
 * Without kubectl, a layout is approximated from the raw files (base + overlay
 * + components) and its config file, which is enough for the rule checks;
 * patches are not applied, so layouts that need one (single with components)
 * are only checked rendered.
 */
function rawLayout(layout: Layout): K8sObject[] {
  const dirs = ['base/', `overlays/${layout.overlay}/`, ...layout.components.map((c) => `components/${c}/`)]
  const objects = manifestFiles().filter((f) => dirs.some((d) => f.startsWith(d))).flatMap(readObjects)
  const configFile = existsSync(join(KUBE, 'overlays', layout.overlay, 'gpuscope.yaml')) ? `overlays/${layout.overlay}/gpuscope.yaml` : 'base/gpuscope.yaml'
  objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gpuscope-config', namespace: 'gpuscope' }, data: { 'gpuscope.yaml': readFileSync(join(KUBE, configFile), 'utf8') } })
  return objects
}

const needsPatch = (l: Layout) => l.overlay === 'single' && l.components.length > 0
const checkable = LAYOUTS.filter((l) => kubectlFound || !needsPatch(l))
const objectsOf = (l: Layout): K8sObject[] => (kubectlFound ? render(l) : rawLayout(l))
const ofKind = <T = K8sObject>(objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind) as unknown as Array<K8sObject & T>
const byName = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name)

/** Every pod template of a layout: Deployments and the CronJob's job template. */
function podTemplates(objs: K8sObject[]): Array<{ owner: string; template: PodTemplate }> {
  const out: Array<{ owner: string; template: PodTemplate }> = []
  for (const o of objs) {
    const spec = o.spec as Record<string, any> | undefined
    if (o.kind === 'Deployment') out.push({ owner: `Deployment/${o.metadata.name}`, template: spec?.template })
    if (o.kind === 'CronJob') out.push({ owner: `CronJob/${o.metadata.name}`, template: spec?.jobTemplate?.spec?.template })
  }
  return out
}

// ---------------------------------------------------------------- RBAC model

const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection', 'escalate', 'bind', 'impersonate', '*']
const READ_VERBS = new Set(['get', 'list', 'watch'])

/** The rules a ServiceAccount holds through the layout's bindings. */
function rulesOf(objs: K8sObject[], sa: string, namespace = 'gpuscope'): Rule[] {
  const bindings = objs.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')
  return bindings.flatMap((b) => {
    const subjects = (b.subjects as Subject[] | undefined) ?? []
    if (!subjects.some((s) => s.kind === 'ServiceAccount' && s.name === sa && (s.namespace ?? b.metadata.namespace) === namespace)) return []
    const ref = b.roleRef as { kind: string; name: string }
    const role = byName(objs, ref.kind, ref.name)
    return ((role?.rules as Rule[] | undefined) ?? [])
  })
}

/** Whether the rules allow verb on group/resource (any object name unless `name` is given). */
function can(rules: Rule[], verb: string, group: string, resource: string, name?: string): boolean {
  return rules.some((r) =>
    (r.verbs.includes(verb) || r.verbs.includes('*')) &&
    (r.apiGroups ?? []).some((g) => g === group || g === '*') &&
    (r.resources ?? []).some((x) => x === resource || x === '*') &&
    (r.resourceNames === undefined || r.resourceNames.length === 0 || (name !== undefined && r.resourceNames.includes(name))))
}

/** `/apis/<group>/<version>/namespaces/<ns>/<resource>/<name>` or `/api/v1/...` → group and resource. */
function groupResource(path: string): { group: string; resource: string } {
  const parts = path.split('/').filter(Boolean)
  const core = parts[0] === 'api'
  const rest = parts.slice(core ? 2 : 3)
  const resource = rest[0] === 'namespaces' && rest.length > 2 ? rest[2] : rest[0]
  return { group: core ? '' : (parts[1] as string), resource: resource as string }
}

const STOPPABLE: StoppableKind[] = ['Notebook', 'Job', 'Deployment', 'StatefulSet', 'Pod']
/** What the enforcer calls per kind (alerts/enforcer/kinds.ts + execute.ts): GET, then a merge PATCH or a DELETE. */
const enforcerCalls = STOPPABLE.map((kind) => {
  const op = stopOperation(kind, { metadata: { resourceVersion: '1' }, spec: { replicas: 2 } }, 0)
  return { kind, ...groupResource(kubePaths[kind]('ns', 'name')), write: op.type === 'delete' ? 'delete' : 'patch' }
})

/** The role's ServiceAccounts per layout: scale-out has one per role, single one for everything. */
const saOf = (l: Layout, role: 'api' | 'collector' | 'scheduler') => (l.overlay === 'single' ? 'gpuscope' : `gpuscope-${role}`)

// ---------------------------------------------------------------- tests

describe('manifests validate', () => {
  it('every YAML file under deploy/kubernetes parses, and every object in it validates with kubernetes-models', () => {
    const all = manifestFiles()
    expect(all.length).toBeGreaterThan(10)
    const objects = all.flatMap(readObjects)
    for (const o of objects) validateObject(o)
    expect(new Set(objects.map((o) => o.kind))).toEqual(new Set(['Namespace', 'PersistentVolumeClaim', 'Service', 'ServiceAccount', 'Deployment', 'CronJob', 'PodDisruptionBudget', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'MutatingWebhookConfiguration', 'NetworkPolicy', 'ServiceMonitor']))
  })

  it('every kustomization names only files that exist, and every manifest file is used by one', () => {
    const used = new Set<string>()
    for (const k of files().filter(isKustomization)) {
      const doc = parseYaml(readFileSync(join(KUBE, k), 'utf8')) as { resources?: string[]; components?: string[]; configMapGenerator?: Array<{ files?: string[] }> }
      const refs = [...(doc.resources ?? []), ...(doc.configMapGenerator ?? []).flatMap((g) => g.files ?? [])]
      for (const ref of refs) {
        const target = join(dirname(k), ref)
        expect(existsSync(join(KUBE, target)), `${k} names ${ref}`).toBe(true)
        used.add(target)
      }
    }
    const unused = files().filter((f) => f.endsWith('.yaml') && !isKustomization(f) && !used.has(f))
    expect(unused).toEqual([])
  })

  it.skipIf(!kubectlFound).each(LAYOUTS)('kubectl kustomize renders $name and every object validates (skipped when kubectl is not on PATH)', (layout) => {
    const objects = render(layout)
    for (const o of objects) validateObject(o)
    const kinds = new Set(objects.map((o) => o.kind))
    for (const kind of ['Deployment', 'Service', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'ServiceMonitor', 'MutatingWebhookConfiguration', 'NetworkPolicy']) expect(kinds, kind).toContain(kind)
    // Namespaced objects all land in gpuscope's namespace.
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration'])
    for (const o of objects.filter((x) => !clusterScoped.has(x.kind))) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('gpuscope')
  })
})

describe('RBAC is least privilege', () => {
  it.each(checkable)('$name: the collector and api identities can only get, list and watch', (layout) => {
    const objs = objectsOf(layout)
    for (const role of ['collector', 'api'] as const) {
      if (layout.overlay === 'single') continue // one identity for every role: checked below
      const rules = rulesOf(objs, saOf(layout, role))
      expect(rules.length, role).toBeGreaterThan(0)
      for (const r of rules) {
        expect(r.verbs.filter((v) => !READ_VERBS.has(v)), `${role} verbs ${r.verbs}`).toEqual([])
        expect([...(r.apiGroups ?? []), ...(r.resources ?? [])], `${role} wildcards`).not.toContain('*')
      }
    }
  })

  it.each(checkable)('$name: the collector cannot patch or delete anything, and can watch what it informs on', (layout) => {
    const objs = objectsOf(layout)
    const collector = saOf(layout, 'collector')
    const rules = rulesOf(objs, collector)
    for (const path of ['/api/v1/pods', '/api/v1/nodes', '/api/v1/namespaces', '/apis/batch/v1/jobs', '/apis/apps/v1/replicasets', '/apis/apps/v1/statefulsets', '/apis/kubeflow.org/v1/notebooks']) {
      const { group, resource } = groupResource(path)
      expect(can(rules, 'list', group, resource) && can(rules, 'watch', group, resource), `list+watch ${path}`).toBe(true)
    }
    if (layout.overlay === 'single') return // the single pod is also the scheduler: its writes are checked below
    for (const verb of WRITE_VERBS) {
      for (const { group, resource } of [...enforcerCalls, { group: '', resource: 'pods' }, { group: '', resource: 'nodes' }, { group: 'coordination.k8s.io', resource: 'leases' }]) {
        expect(can(rules, verb, group, resource), `collector ${verb} ${group}/${resource}`).toBe(false)
      }
    }
  })

  it.each(checkable)('$name: outside the enforcement components the only write is the scheduler Lease', (layout) => {
    const objs = objectsOf(layout)
    const enforcementRoles = new Set(['gpuscope-enforcer', 'gpuscope-enforcer-delete-pods'])
    for (const role of [...ofKind(objs, 'ClusterRole'), ...ofKind(objs, 'Role')]) {
      if (enforcementRoles.has(role.metadata.name)) continue
      for (const r of (role.rules as Rule[]) ?? []) {
        if (!r.verbs.some((v) => WRITE_VERBS.includes(v))) continue
        expect({ role: role.metadata.name, groups: r.apiGroups, resources: r.resources }).toEqual({ role: 'gpuscope-leader-election', groups: ['coordination.k8s.io'], resources: ['leases'] })
        expect(r.verbs.every((v) => v === 'create' || v === 'update' || v === 'get')).toBe(true)
      }
    }
    // create cannot be limited by name; get and update are limited to the one Lease.
    const lease = byName(objs, 'Role', 'gpuscope-leader-election')
    expect(lease).toBeDefined()
    const rules = (lease?.rules as Rule[]) ?? []
    expect(can(rules, 'update', 'coordination.k8s.io', 'leases', 'gpuscope-scheduler')).toBe(true)
    expect(can(rules, 'update', 'coordination.k8s.io', 'leases', 'someone-elses-lease')).toBe(false)
  })

  it.each(checkable)('$name: the scheduler may GET what the enforcer reads, and writes exactly what the enabled components allow', (layout) => {
    const objs = objectsOf(layout)
    const rules = rulesOf(objs, saOf(layout, 'scheduler'))
    const ns = groupResource(kubePaths.namespace('ns'))
    expect(can(rules, 'get', ns.group, ns.resource)).toBe(true)
    for (const call of enforcerCalls) {
      expect(can(rules, 'get', call.group, call.resource), `get ${call.kind}`).toBe(true)
      const granted = call.write === 'delete' ? layout.components.includes('delete-bare-pods') : layout.components.includes('enforcement')
      expect(can(rules, call.write, call.group, call.resource), `${call.write} ${call.kind}`).toBe(granted)
    }
    // The components grant nothing the enforcer does not call.
    for (const name of ['gpuscope-enforcer', 'gpuscope-enforcer-delete-pods']) {
      for (const r of ((byName(objs, 'ClusterRole', name)?.rules as Rule[]) ?? [])) {
        for (const verb of r.verbs) for (const g of r.apiGroups ?? []) for (const res of r.resources ?? []) {
          expect(enforcerCalls.some((c) => c.write === verb && c.group === g && c.resource === res), `${name}: ${verb} ${g}/${res}`).toBe(true)
        }
      }
    }
  })

  it.each(checkable)('$name: every binding references a role and ServiceAccounts that exist; every pod runs as an existing account', (layout) => {
    const objs = objectsOf(layout)
    const bindings = objs.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')
    expect(bindings.length).toBeGreaterThan(0)
    const saExists = (name: string, namespace: string) => objs.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === name && o.metadata.namespace === namespace)
    for (const b of bindings) {
      const ref = b.roleRef as { kind: string; name: string }
      const role = byName(objs, ref.kind, ref.name)
      expect(role, `${b.kind}/${b.metadata.name} -> ${ref.kind}/${ref.name}`).toBeDefined()
      if (b.kind === 'RoleBinding' && ref.kind === 'Role') expect(role?.metadata.namespace).toBe(b.metadata.namespace)
      for (const s of (b.subjects as Subject[]) ?? []) {
        expect(s.kind, `${b.metadata.name}`).toBe('ServiceAccount')
        expect(saExists(s.name, s.namespace ?? ''), `${b.kind}/${b.metadata.name} -> ServiceAccount ${s.namespace}/${s.name}`).toBe(true)
      }
    }
    for (const { owner, template } of podTemplates(objs)) {
      const sa = template.spec.serviceAccountName
      if (sa === undefined) expect(template.spec.automountServiceAccountToken, `${owner} uses the default account without a token`).toBe(false)
      else expect(saExists(sa, 'gpuscope'), `${owner} -> ${sa}`).toBe(true)
    }
  })
})

describe('pods', () => {
  it.each(checkable)('$name: every pod is non-root with a read-only root filesystem, no privilege, requests, and writable /tmp', (layout) => {
    const templates = podTemplates(objectsOf(layout))
    expect(templates.length).toBeGreaterThan(0)
    for (const { owner, template } of templates) {
      const pod = template.spec
      expect(pod.securityContext?.runAsNonRoot, owner).toBe(true)
      expect(pod.securityContext?.runAsUser, owner).toBeGreaterThan(0)
      expect(pod.securityContext?.seccompProfile?.type, owner).toBe('RuntimeDefault')
      for (const c of pod.containers) {
        expect(c.securityContext, `${owner}/${c.name}`).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false })
        expect(c.securityContext?.privileged ?? false).toBe(false)
        expect(c.securityContext?.capabilities?.drop).toEqual(['ALL'])
        expect(c.securityContext?.capabilities?.add ?? []).toEqual([])
        expect(c.resources?.requests?.cpu, `${owner} cpu request`).toBeTruthy()
        expect(c.resources?.requests?.memory, `${owner} memory request`).toBeTruthy()
        const tmpMount = c.volumeMounts?.find((m) => m.mountPath === '/tmp')
        expect(pod.volumes?.find((v) => v.name === tmpMount?.name)?.emptyDir, `${owner} /tmp is an emptyDir`).toBeDefined()
      }
    }
  })

  it.each(checkable)('$name: every Deployment probes /healthz (liveness) and /readyz (readiness) on the API port', (layout) => {
    const objs = objectsOf(layout)
    const deployments = podTemplates(objs).filter((t) => t.owner.startsWith('Deployment/'))
    expect(deployments.length).toBe(layout.overlay === 'single' ? 1 : 3)
    for (const { owner, template } of deployments) {
      const c = template.spec.containers[0] as Container
      const http = c.ports?.find((p) => p.name === 'http')
      expect(http?.containerPort, owner).toBe(8080)
      expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' })
      expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' })
    }
  })

  it.each(checkable.filter((l) => l.components.length === 0))('$name: the roles, replicas and update strategies', (layout) => {
    const objs = objectsOf(layout)
    const deployments = ofKind<{ spec: { replicas: number; strategy: { type: string; rollingUpdate?: { maxUnavailable?: number } }; template: PodTemplate } }>(objs, 'Deployment')
    const roleOf = (d: (typeof deployments)[number]) => {
      const args = d.spec.template.spec.containers[0]?.args ?? []
      const i = args.indexOf('--role')
      return { command: args[0], role: i >= 0 ? args[i + 1] : 'all' }
    }
    if (layout.overlay === 'single') {
      const [d] = deployments
      expect(roleOf(d as never)).toEqual({ command: 'serve', role: 'all' })
      expect(d?.spec.replicas).toBe(1) // one process owns the embedded data directory
      expect(d?.spec.strategy.type).toBe('Recreate')
      const mount = d?.spec.template.spec.containers[0]?.volumeMounts?.find((m) => m.mountPath === '/var/lib/gpuscope')
      expect(d?.spec.template.spec.volumes?.find((v) => v.name === mount?.name)?.persistentVolumeClaim?.claimName).toBe('gpuscope-data')
      expect(byName(objs, 'PersistentVolumeClaim', 'gpuscope-data')).toBeDefined()
      return
    }
    const roles = Object.fromEntries(deployments.map((d) => [roleOf(d).role, d]))
    expect(Object.keys(roles).sort()).toEqual(['api', 'collector', 'scheduler'])
    expect(roles.api?.spec.replicas).toBeGreaterThanOrEqual(2)
    expect(roles.api?.spec.strategy).toMatchObject({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } })
    const collectorArgs = roles.collector?.spec.template.spec.containers[0]?.args ?? []
    expect(collectorArgs[collectorArgs.indexOf('--clusters') + 1]).toBe('local')
    const pdb = byName(objs, 'PodDisruptionBudget', 'gpuscope-api') as { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } } | undefined
    expect(pdb?.spec.minAvailable).toBe(1)
    expect(Object.entries(pdb?.spec.selector.matchLabels ?? {}).every(([k, v]) => roles.api?.spec.template.metadata?.labels?.[k] === v)).toBe(true)
  })
})

describe('config and env vars', () => {
  const leaderSection = Object.hasOwn((configSchema as unknown as { shape: Record<string, unknown> }).shape, 'leaderElection')
  const pending = (name: string) => !leaderSection && name.startsWith('GPUSCOPE_LEADER_ELECTION_')

  /** A container's env as the kubelet would give it, with placeholders for Secret and field values. */
  function envOf(c: Container): Record<string, string> {
    const env: Record<string, string> = {}
    for (const v of c.env ?? []) {
      if (v.value !== undefined) env[v.name] = v.value
      else if (v.valueFrom?.secretKeyRef) env[v.name] = v.name.endsWith('_URL') ? 'https://hooks.example.invalid/secret' : `secret-${v.valueFrom.secretKeyRef.key}`
      else if (v.valueFrom?.fieldRef) env[v.name] = v.valueFrom.fieldRef.fieldPath === 'metadata.namespace' ? 'gpuscope' : 'gpuscope-pod-0'
    }
    return env
  }

  /** The config file a pod template mounts at GPUSCOPE_CONFIG, written to a temp file. */
  function configFileOf(objs: K8sObject[], template: PodTemplate, env: Record<string, string>, label: string): string {
    const c = template.spec.containers[0] as Container
    const path = env.GPUSCOPE_CONFIG as string
    const mount = c.volumeMounts?.find((m) => m.mountPath === path || path.startsWith(`${m.mountPath}/`))
    const volume = template.spec.volumes?.find((v) => v.name === mount?.name)
    const cmName = volume?.configMap?.name ?? ''
    // Raw layouts carry the generator's name without the hash suffix.
    const cm = objs.find((o) => o.kind === 'ConfigMap' && (o.metadata.name === cmName || cmName.startsWith(`${o.metadata.name}-`) || o.metadata.name.startsWith(`${cmName}-`)))
    const key = mount?.subPath ?? basename(path)
    const text = (cm?.data as Record<string, string> | undefined)?.[key]
    if (text === undefined) throw new Error(`${label}: no ConfigMap key '${key}' behind ${path}`)
    const file = join(tmp, `${label.replace(/\W+/g, '-')}.yaml`)
    writeFileSync(file, text)
    return file
  }

  it.each(checkable.filter((l) => l.components.length === 0))('$name: every pod loads its config file + GPUSCOPE_* env with the real loader', (layout) => {
    const objs = objectsOf(layout)
    const known = new Set(envMapping().map((m) => m.env))
    for (const { owner, template } of podTemplates(objs)) {
      const env = envOf(template.spec.containers[0] as Container)
      expect(env.GPUSCOPE_CONFIG, owner).toBe('/etc/gpuscope/gpuscope.yaml')
      const names = Object.keys(env).filter((n) => n.startsWith('GPUSCOPE_') && n !== 'GPUSCOPE_CONFIG' && !pending(n))
      for (const n of names) expect(known.has(n), `${owner}: ${n} is not a config field`).toBe(true)
      const usable = Object.fromEntries(Object.entries(env).filter(([n]) => !pending(n)))
      const { config } = loadConfig({ file: configFileOf(objs, template, env, `${layout.name}-${owner}`), env: usable, cwd: tmp })
      expect(config.api.host, owner).toBe('0.0.0.0')
      expect(config.replay.mode, owner).toBe('off')
      expect(config.collector.kubernetes.clusters.map((c) => c.name)).toEqual(['local'])
      expect(config.alerts.enforcer).toMatchObject({ enabled: false, dryRun: true })
      if (layout.overlay === 'single') {
        expect(config.store.url).toBeUndefined()
        expect(config.store.path).toBe('/var/lib/gpuscope/data')
      } else {
        expect(config.store).toMatchObject({ mode: 'cluster', cluster: 'gpuscope', username: 'secret-username', password: 'secret-password' })
        expect(config.store.url).toMatch(/^https?:\/\//)
      }
      if (template.metadata?.labels?.['gpuscope.io/serves-api'] === 'true') {
        expect(config.alerts.admission.tls).toMatchObject({ certFile: '/etc/gpuscope/tls/tls.crt', keyFile: '/etc/gpuscope/tls/tls.key', port: 8443 })
        const c = template.spec.containers[0] as Container
        const tlsMount = c.volumeMounts?.find((m) => m.mountPath === '/etc/gpuscope/tls')
        expect(template.spec.volumes?.find((v) => v.name === tlsMount?.name)?.secret?.secretName).toBe('gpuscope-webhook-tls')
      }
      if (env.GPUSCOPE_ALERTS_SLACK_BOT_TOKEN !== undefined) expect(config.alerts.slack.botToken).toBe('secret-bot-token')
    }
  })

  it.skipIf(!leaderSection)('scale-out: the scheduler\'s leader election env vars parse (skipped until config has a leaderElection section)', () => {
    const layout = LAYOUTS[1] as Layout
    const objs = objectsOf(layout)
    const scheduler = podTemplates(objs).find((t) => t.owner === 'Deployment/gpuscope-scheduler')
    expect(scheduler).toBeDefined()
    const env = envOf(scheduler?.template.spec.containers[0] as Container)
    const { config } = loadConfig({ file: configFileOf(objs, scheduler?.template as PodTemplate, env, 'leader'), env, cwd: tmp })
    expect((config as unknown as { leaderElection: Record<string, unknown> }).leaderElection).toMatchObject({ enabled: true, namespace: 'gpuscope', leaseName: 'gpuscope-scheduler' })
  })

  it('the scheduler\'s Lease name in the manifests is the one its Role grants', () => {
    const scheduler = readObjects('overlays/scale-out/deployment-scheduler.yaml')[0] as K8sObject
    const env = ((scheduler.spec as { template: PodTemplate }).template.spec.containers[0]?.env ?? [])
    expect(env.find((e) => e.name === 'GPUSCOPE_LEADER_ELECTION_ENABLED')?.value).toBe('true')
    const lease = env.find((e) => e.name === 'GPUSCOPE_LEADER_ELECTION_LEASE_NAME')?.value
    const role = readObjects('base/rbac.yaml').find((o) => o.kind === 'Role') as K8sObject
    expect((role.rules as Rule[]).find((r) => r.resourceNames)?.resourceNames).toEqual([lease])
  })
})

describe('Service, ServiceMonitor, admission webhook, NetworkPolicy', () => {
  const selects = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v)

  it.each(checkable.filter((l) => l.components.length === 0))('$name: the Services reach pods and the ServiceMonitor scrapes /metrics of every pod', (layout) => {
    const objs = objectsOf(layout)
    const pods = podTemplates(objs).filter((t) => t.owner.startsWith('Deployment/'))
    const api = byName(objs, 'Service', 'gpuscope-api') as { spec: { selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort: string }> } } & K8sObject
    const apiPods = pods.filter((p) => selects(api.spec.selector, p.template.metadata?.labels))
    expect(apiPods.map((p) => p.owner)).toEqual([layout.overlay === 'single' ? 'Deployment/gpuscope' : 'Deployment/gpuscope-api'])
    for (const port of api.spec.ports) expect(apiPods[0]?.template.spec.containers[0]?.ports?.some((p) => p.name === port.targetPort), port.name).toBe(true)
    const metrics = byName(objs, 'Service', 'gpuscope-metrics') as { spec: { selector: Record<string, string> } } & K8sObject
    expect(pods.every((p) => selects(metrics.spec.selector, p.template.metadata?.labels))).toBe(true)
    const sm = ofKind<{ spec: { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string; path: string }> } }>(objs, 'ServiceMonitor')[0]
    expect(selects(sm?.spec.selector.matchLabels ?? {}, metrics.metadata.labels)).toBe(true)
    expect(selects(sm?.spec.selector.matchLabels ?? {}, api.metadata.labels)).toBe(false) // not scraped twice
    expect(sm?.spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })])
  })

  it.each(checkable.filter((l) => l.components.length === 0))('$name: the admission webhook fails open, has no side effects, and skips the control plane and gpuscope', (layout) => {
    const objs = objectsOf(layout)
    const hooks = ofKind<{ webhooks: Array<Record<string, any>> }>(objs, 'MutatingWebhookConfiguration')
    expect(hooks).toHaveLength(1)
    const hook = hooks[0]?.webhooks[0] as Record<string, any>
    expect(hook).toMatchObject({ failurePolicy: 'Ignore', sideEffects: 'None', admissionReviewVersions: ['v1'] })
    expect(hook.timeoutSeconds).toBeLessThanOrEqual(10)
    expect(hook.rules).toEqual([expect.objectContaining({ apiGroups: [''], resources: ['pods'], operations: ['CREATE'] })])
    const svc = hook.clientConfig.service as { name: string; namespace: string; port: number; path: string }
    expect(svc.path.startsWith(`${ADMISSION_PATHS[0]}/`) || svc.path === ADMISSION_PATHS[0]).toBe(true)
    const service = byName(objs, 'Service', svc.name) as { spec: { ports: Array<{ port: number; targetPort: string }> } } & K8sObject
    expect(service.metadata.namespace).toBe(svc.namespace)
    expect(service.spec.ports.find((p) => p.port === svc.port)?.targetPort).toBe('webhook')
    const excluded = (hook.namespaceSelector.matchExpressions as Array<{ key: string; operator: string; values: string[] }>).find((e) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn')?.values
    expect(excluded).toEqual(expect.arrayContaining(['kube-system', 'gpuscope']))
  })

  it.each(checkable.filter((l) => l.components.length === 0))('$name: the NetworkPolicy covers every gpuscope pod, lets in 8080 and 8443, and lets out what the collectors call', (layout) => {
    const objs = objectsOf(layout)
    const [policy] = ofKind<{ spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: Array<{ ports: Array<{ port: number; protocol: string }> }>; egress: Array<{ ports: Array<{ port: number; protocol: string }> }> } }>(objs, 'NetworkPolicy')
    expect(policy?.spec.policyTypes).toEqual(['Ingress', 'Egress'])
    for (const { owner, template } of podTemplates(objs).filter((t) => t.owner.startsWith('Deployment/'))) expect(selects(policy?.spec.podSelector.matchLabels ?? {}, template.metadata?.labels), owner).toBe(true)
    const ports = (rules: Array<{ ports: Array<{ port: number; protocol: string }> }> = []) => rules.flatMap((r) => r.ports.map((p) => `${p.port}/${p.protocol}`))
    expect(ports(policy?.spec.ingress).sort()).toEqual(['8080/TCP', '8443/TCP'])
    // DNS, Kubernetes API / Slack / cloud, ClickHouse, Prometheus, dcgm-exporter, Jupyter.
    expect(ports(policy?.spec.egress)).toEqual(expect.arrayContaining(['53/UDP', '53/TCP', '443/TCP', '6443/TCP', '8123/TCP', '9090/TCP', '9400/TCP', '8888/TCP']))
  })
})

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  const lines = dockerfile.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  const stages = lines.reduce<string[][]>((acc, l) => (l.startsWith('FROM ') ? [...acc, [l]] : (acc[acc.length - 1]?.push(l), acc)), [])

  it('is multi-stage on Debian: a deps stage runs npm ci without dev dependencies, the runtime stage copies node_modules from it', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    const argImage = lines.find((l) => l.startsWith('ARG NODE_IMAGE='))
    expect(argImage).toMatch(/node:20-bookworm/)
    expect(lines.filter((l) => /alpine/i.test(l))).toEqual([])
    const deps = stages.find((s) => / AS deps$/i.test(s[0] as string)) ?? []
    expect(deps.join('\n')).toMatch(/npm ci --omit=dev/)
    const runtime = stages[stages.length - 1] ?? []
    expect(runtime).toContain('COPY --from=deps /app/node_modules ./node_modules')
    expect(runtime.join('\n')).not.toMatch(/npm (ci|install)/)
  })

  it('runs the CLI as a numeric non-root user, without a HEALTHCHECK', () => {
    const runtime = stages[stages.length - 1] ?? []
    const users = runtime.filter((l) => l.startsWith('USER '))
    expect(users).toHaveLength(1)
    const uid = Number((users[0] as string).slice(5).split(':')[0])
    expect(uid).toBeGreaterThan(0)
    // Nothing after USER switches back, and the pods' runAsUser is the same UID.
    expect(runtime.slice(runtime.indexOf(users[0] as string)).some((l) => l.startsWith('RUN '))).toBe(false)
    const deployment = readObjects('overlays/single/deployment.yaml')[0] as K8sObject
    expect((deployment.spec as { template: PodTemplate }).template.spec.securityContext?.runAsUser).toBe(uid)
    expect(lines.some((l) => l.startsWith('HEALTHCHECK'))).toBe(false)
    expect(runtime).toContain('ENTRYPOINT ["node", "bin/gpuscope.mjs"]')
  })

  it('copies every runtime source directory and no secret', () => {
    const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] }
    const sourceDirs = tsconfig.include.filter((d) => !['test', 'bench'].includes(d) && !d.includes('.'))
    for (const dir of [...sourceDirs, 'bin']) expect(lines, dir).toContain(`COPY ${dir} ./${dir}`)
    expect(lines.filter((l) => /^(ENV|ARG)\b/.test(l) && /(password|secret|token|webhook|access_?key)/i.test(l))).toEqual([])
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim())
    for (const p of ['.git', 'node_modules', 'data', '.env']) expect(ignored, p).toContain(p)
  })
})
