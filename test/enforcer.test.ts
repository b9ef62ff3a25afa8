import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assessRunning } from '../api/routes/idle'
import { enforcerPolicy, evaluateIdle, alertsRuntime, type AlertsDeps } from '../alerts/evaluate'
import { executeStops, readExemptions, type ExecutorDeps } from '../alerts/enforcer/execute'
import { kubePaths } from '../alerts/enforcer/kinds'
import { planActions } from '../alerts/enforcer/plan'
import { loadPriorDecisions } from '../alerts/audit'
import { fleetClock, quietKernel, seedFleet, until, type WorkloadSpec } from './helpers/idleFleet'
import { KubeRecorder } from './fakes/kubeRecorder'
import { configSchema, type Config } from '../config/schema'
import { openTestStore, silentLogger, type TestStore } from './helpers/store'

// The idle enforcer against a loopback Kubernetes API that records every PATCH and DELETE.
// Clock: T0 is a recent whole hour; NOW is 30 s after it. Idle policy defaults: notebook
// window 30 min, job window 60 min, grace 2 h. Every workload below that is "warned" was
// warned at T0-150 min, so its stop falls due at T0-30 min.
const c = fleetClock()
const NOW = c.at(0) + 30_000
const LATER = c.at(6) + 30_000
const quiet = quietKernel(-480)

const FLEET: WorkloadSpec[] = [
  { name: 'nb-idle', ns: 'vision', kind: 'Notebook', util: until(-480, 0.3, 0), kernel: quiet, warnedAtMin: -150 },
  { name: 'nb-exempt', ns: 'vision', kind: 'Notebook', util: until(-480, 0.3, 0), kernel: quiet, warnedAtMin: -150 },
  { name: 'train-idle', ns: 'research', kind: 'Job', util: until(-300, 0.5, 0), warnedAtMin: -150 },
  { name: 'train-busy', ns: 'vision', kind: 'Job', util: () => 0.6 },
  { name: 'svc-unknown', ns: 'vision', kind: 'Deployment', warnedAtMin: -150 }, // no samples at all
  { name: 'nb-revived', ns: 'vision', kind: 'Notebook', util: (k) => (k >= -100 && k < -95 ? 0.5 : 0), kernel: quiet, warnedAtMin: -150 },
  { name: 'nb-race', ns: 'vision', kind: 'Notebook', util: until(1, 0, 0.7), kernel: quiet, warnedAtMin: -150 }, // busy again from minute 1
  { name: 'svc-idle', ns: 'vision', kind: 'Deployment', gpus: 2, util: until(-300, 0.5, 0), warnedAtMin: -150 },
  { name: 'train-stop', ns: 'vision', kind: 'Job', util: until(-300, 0.5, 0), warnedAtMin: -150 },
  { name: 'pod-idle', ns: 'vision', kind: 'Pod', util: until(-300, 0.5, 0), warnedAtMin: -150 },
]

const kube = new KubeRecorder()
let ts: TestStore
let base: Config

const path = (kind: 'Notebook' | 'Job' | 'Deployment' | 'Pod', ns: string, name: string) => kubePaths[kind](ns, name)
const obj = (name: string, ns: string, extra: Record<string, unknown> = {}, labels: Record<string, string> = {}) => ({ metadata: { name, namespace: ns, labels }, ...extra })

function seedKube(): void {
  kube.put(kubePaths.namespace('vision'), obj('vision', ''))
  kube.put(kubePaths.namespace('research'), obj('research', '', {}, { 'gpuscope.io/exempt': 'true' }))
  for (const n of ['nb-idle', 'nb-revived', 'nb-race']) kube.put(path('Notebook', 'vision', n), obj(n, 'vision', { spec: { template: {} } }))
  kube.put(path('Notebook', 'vision', 'nb-exempt'), obj('nb-exempt', 'vision', { spec: { template: {} } }, { 'gpuscope.io/exempt': 'true' }))
  kube.put(path('Job', 'research', 'train-idle'), obj('train-idle', 'research', { spec: { suspend: false } }))
  for (const n of ['train-busy', 'train-stop']) kube.put(path('Job', 'vision', n), obj(n, 'vision', { spec: { suspend: false } }))
  for (const [n, replicas] of [['svc-unknown', 1], ['svc-idle', 2]] as const) kube.put(path('Deployment', 'vision', n), obj(n, 'vision', { spec: { replicas } }))
  kube.put(path('Pod', 'vision', 'pod-idle'), obj('pod-idle', 'vision', { spec: {} }))
}

function configWith(enforcer: Record<string, unknown>, alertsDryRun = false): Config {
  const parsed = configSchema.parse({
    alerts: { enabled: true, dryRun: alertsDryRun, enforcer: { enabled: true, ...enforcer } },
    collector: { kubernetes: { clusters: [{ name: 'c1', server: base.collector.kubernetes.clusters[0]?.server, insecureSkipTlsVerify: true }] } },
  })
  return { ...parsed, store: ts.config.store }
}

function deps(config: Config, nowMs: number): AlertsDeps {
  return {
    config, query: ts.store.query, logger: silentLogger, now: () => nowMs,
    sinks: { actions: { write: async (rows) => { const p = ts.writers.sinks.actions.write(rows); await ts.writers.flush(); await p } } },
  }
}

/** Stop decisions recorded at exactly `atMs`, as name → decision/acted/dryRun. */
async function stopRows(atMs: number): Promise<Record<string, string>> {
  const rows = await ts.store.query<{ workload_name: string; decision: string; acted: boolean | number; dry_run: boolean | number }>(
    "SELECT workload_name, decision, acted, dry_run FROM actions FINAL WHERE action = 'stop' AND toUnixTimestamp64Milli(ts) = {atMs:Int64} ORDER BY workload_name", { atMs })
  return Object.fromEntries(rows.map((r) => [r.workload_name, `${r.decision}${r.acted ? ' acted' : ''}${r.dry_run ? ' dry-run' : ''}`]))
}

const touched = (names: readonly string[]) => kube.mutations().filter((m) => names.some((n) => m.path.endsWith(`/${n}`)))

beforeAll(async () => {
  const url = await kube.start()
  seedKube()
  ts = await openTestStore()
  base = configSchema.parse({ collector: { kubernetes: { clusters: [{ name: 'c1', server: url, insecureSkipTlsVerify: true }] } } })
  await seedFleet(ts.writers.sinks, () => ts.writers.flush(), FLEET, c)
})

afterAll(async () => {
  await kube.close()
  await ts?.close()
})

/** Plans at NOW with enforcement on (not dry-run) and carries the stops out at LATER; `over` replaces the audit writer or adds a leadership signal. */
async function planAndStopLater(over: Partial<Pick<ExecutorDeps, 'audit' | 'leadership'>>): Promise<Awaited<ReturnType<typeof executeStops>>> {
  const config = configWith({ dryRun: false })
  const rt = alertsRuntime(deps(config, NOW))
  const run = await assessRunning(ts.store.query, config.idle, NOW)
  const exemptions = await readExemptions(run.assessed, rt.actuators, config.alerts.enforcer.exemptLabel)
  const plan = planActions(run.assessed, enforcerPolicy(config), exemptions, NOW)
  const prior = await loadPriorDecisions(ts.store.query, NOW - 86_400_000, ['stop'])
  return executeStops(plan.stops, prior, {
    query: ts.store.query, idle: config.idle, actuators: rt.actuators, audit: rt.audit, now: () => LATER,
    exemptLabel: config.alerts.enforcer.exemptLabel, dryRun: false, actor: 'test', logger: silentLogger, ...over,
  })
}

describe('idle enforcer against a loopback Kubernetes API', () => {
  it('in dry-run (the default) changes nothing and audits what it would do, once per idle episode', async () => {
    const config = configWith({}, true)
    expect(config.alerts.enforcer.dryRun).toBe(true)
    const rt = alertsRuntime(deps(config, NOW))
    await evaluateIdle(deps(config, NOW), rt)
    expect(kube.mutations()).toEqual([])
    expect(await stopRows(NOW)).toEqual({
      'nb-exempt': 'exempt dry-run', 'nb-idle': 'dry-run dry-run', 'nb-race': 'dry-run dry-run', 'pod-idle': 'disabled dry-run',
      'svc-idle': 'dry-run dry-run', 'train-idle': 'exempt dry-run', 'train-stop': 'dry-run dry-run',
    })
    // A second dry run in the same episode decides the same and writes nothing new.
    await evaluateIdle(deps(config, NOW + 1), rt)
    expect(await stopRows(NOW + 1)).toEqual({})
    expect(kube.mutations()).toEqual([])
  })

  it('stops nothing before the grace period after the warning has passed', async () => {
    const config = configWith({ dryRun: false })
    const at = c.at(-40) + 30_000
    const result = await evaluateIdle(deps(config, at), alertsRuntime(deps(config, at)))
    expect(result.stops).toEqual([])
    expect(kube.mutations()).toEqual([])
  })

  it('makes no change once this scheduler has lost its leadership, and records why', async () => {
    const lost = new AbortController()
    lost.abort()
    const audited: string[] = []
    const before = kube.mutations().length
    const results = await planAndStopLater({ audit: async (rows) => { audited.push(...rows.map((r) => r.decision)) }, leadership: lost.signal })
    expect(kube.mutations()).toHaveLength(before)
    expect(results.filter((r) => r.acted)).toEqual([])
    // The stops it would have made are the ones it refused as not-leader.
    expect(results.filter((r) => r.decision === 'not-leader').map((r) => r.key).sort()).toEqual(['c1/vision/Deployment/svc-idle', 'c1/vision/Job/train-stop', 'c1/vision/Notebook/nb-idle'])
    expect(audited).toContain('not-leader')
  })

  describe('a live run: planned at NOW, carried out six minutes later', () => {
    let results: Awaited<ReturnType<typeof executeStops>>
    beforeAll(async () => {
      results = await planAndStopLater({})
    })

    it('gives an idle notebook exactly the stop annotation, as RFC 3339 of the moment it acts', () => {
      const stamp = new Date(Math.floor(LATER / 1000) * 1000).toISOString().replace('.000Z', 'Z')
      expect(touched(['nb-idle'])).toEqual([{
        method: 'PATCH', path: '/apis/kubeflow.org/v1/namespaces/vision/notebooks/nb-idle', contentType: 'application/merge-patch+json', authorization: undefined,
        body: { metadata: { annotations: { 'kubeflow-resource-stopped': stamp } } },
      }])
      expect(kube.get(path('Notebook', 'vision', 'nb-idle'))?.metadata.annotations).toEqual({ 'kubeflow-resource-stopped': stamp })
    })

    it('suspends an idle Job and scales an idle Deployment to 0, keeping its replicas in an annotation', () => {
      expect(touched(['train-stop']).map((m) => m.body)).toEqual([{ spec: { suspend: true } }])
      const [scale] = touched(['svc-idle'])
      expect(scale?.body).toMatchObject({ metadata: { annotations: { 'gpuscope.io/replicas-before-stop': '2' } }, spec: { replicas: 0 } })
      expect(kube.get(path('Deployment', 'vision', 'svc-idle'))?.spec).toEqual({ replicas: 0 })
    })

    it('spares a notebook that became active between the plan and the stop (fresh evidence), and audits why', async () => {
      expect(results.find((r) => r.key === 'c1/vision/Notebook/nb-race')).toMatchObject({ decision: 'stood-down', acted: false })
      expect(touched(['nb-race'])).toEqual([])
    })

    it('never touches exempt (label on the workload or its namespace), active, unknown or re-idled workloads, nor a bare pod while deletion is off', async () => {
      expect(touched(['nb-exempt', 'train-idle', 'train-busy', 'svc-unknown', 'nb-revived', 'nb-race', 'pod-idle'])).toEqual([])
      expect(kube.mutations().map((m) => `${m.method} ${m.path}`).sort()).toEqual([
        'PATCH /apis/apps/v1/namespaces/vision/deployments/svc-idle',
        'PATCH /apis/batch/v1/namespaces/vision/jobs/train-stop',
        'PATCH /apis/kubeflow.org/v1/namespaces/vision/notebooks/nb-idle',
      ])
    })

    it('audits every acted stop with its evidence', async () => {
      expect(await stopRows(LATER)).toEqual({ 'nb-idle': 'stopped acted', 'nb-race': 'stood-down', 'svc-idle': 'stopped acted', 'train-stop': 'stopped acted' })
      const [row] = await ts.store.query<{ evidence: string; reason: string }>("SELECT evidence, reason FROM actions FINAL WHERE action = 'stop' AND workload_name = 'nb-idle' AND acted")
      const evidence = JSON.parse(row?.evidence ?? '{}')
      expect(evidence).toMatchObject({ verdict: 'idle', state: 'warned', gpus: 1, team: 'vision', fresh: { verdict: 'idle', state: 'warned' }, operation: { type: 'patch' } })
      expect(row?.reason).toMatch(/^annotated kubeflow-resource-stopped=/)
    })
  })

  it('deletes an idle bare pod only once deletion is enabled, and leaves stopped workloads alone', async () => {
    kube.requests.length = 0
    const config = configWith({ dryRun: false, deleteBarePods: true })
    const at = c.at(8) + 30_000
    const result = await evaluateIdle(deps(config, at), alertsRuntime(deps(config, at)))
    expect(kube.mutations().map((m) => `${m.method} ${m.path}`)).toEqual(['DELETE /api/v1/namespaces/vision/pods/pod-idle'])
    expect(result.stops.filter((s) => s.acted).map((s) => s.key)).toEqual(['c1/vision/Pod/pod-idle'])
  })
})
