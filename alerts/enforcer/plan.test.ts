import { describe, expect, it } from 'vitest'
import type { IdleAssessment } from '../../core/idleMachine'
import type { IdleWorkload } from '../../store/queries/idle'
import { NOTEBOOK_STOPPED_ANNOTATION, REPLICAS_ANNOTATION, rfc3339, stopOperation } from './kinds'
import { noExemptions, planActions, type EnforcerPolicy, type Exemptions } from './plan'

const NOW = Date.UTC(2025, 5, 2, 12, 0, 30)
const MIN = 60_000

const policy = (over: Partial<EnforcerPolicy> = {}): EnforcerPolicy => ({
  enabled: true, dryRun: false, namespaceAllowList: [], protectedNamespaces: ['kube-system'], maxActionsPerRun: 5, deleteBarePods: false, clusters: ['c1'], graceMs: 120 * MIN, ...over,
})

interface W { name: string; kind?: string; ns?: string; cluster?: string; action?: 'warn' | 'stop'; verdict?: IdleAssessment['verdict']; waste?: number; dueInMin?: number }
function assessed(w: W): { workload: IdleWorkload; assessment: IdleAssessment } {
  const action = w.action ?? 'stop'
  const workload: IdleWorkload = {
    cluster: w.cluster ?? 'c1', namespace: w.ns ?? 'ml', kind: w.kind ?? 'Job', name: w.name, team: 'ml', project: 'p', user: 'ana', pods: [`${w.name}-0`], nodes: ['n1'],
    evidence: { kind: w.kind ?? 'Job', startMs: NOW - 600 * MIN, gpus: 1, minutes: [], actions: [] },
  }
  const assessment = {
    verdict: w.verdict ?? 'idle', state: action === 'stop' ? 'warned' : 'idle', windowMs: 60 * MIN, idleSinceMs: NOW - 300 * MIN, idleSinceExact: true, wastedGpuHours: w.waste ?? 5,
    metric: 'grEngineActive', coverageRatio: 1, maxUtilRatio: 0, lastGpuActivityMs: undefined, fbUsedMaxBytes: null, kernel: undefined,
    warnedAtMs: action === 'stop' ? NOW - 150 * MIN : undefined, stoppedAtMs: undefined, nextAction: { action, atMs: NOW + (w.dueInMin ?? -1) * MIN }, signals: [],
  } as IdleAssessment
  return { workload, assessment }
}

const outcomes = (p: ReturnType<typeof planActions>) => [...p.warns, ...p.stops].map((a) => `${a.action} ${a.workload.name}: ${a.outcome}`)

describe('planActions', () => {
  it.each([
    { name: 'a due stop goes ahead', w: { name: 'j' }, want: 'stop j: stop' },
    { name: 'dry-run', w: { name: 'j' }, p: { dryRun: true }, want: 'stop j: dry-run' },
    { name: 'the enforcer off', w: { name: 'j' }, p: { enabled: false }, want: 'stop j: disabled' },
    { name: 'a kind gpuscope cannot stop', w: { name: 'pt', kind: 'PyTorchJob' }, want: 'stop pt: unsupported' },
    { name: 'a bare pod while deletion is off', w: { name: 'p', kind: 'Pod' }, want: 'stop p: disabled' },
    { name: 'a bare pod once deletion is on', w: { name: 'p', kind: 'Pod' }, p: { deleteBarePods: true }, want: 'stop p: stop' },
    { name: 'a protected namespace', w: { name: 'j', ns: 'kube-system' }, want: 'stop j: not-allowed' },
    { name: 'a namespace outside the allow-list', w: { name: 'j', ns: 'ml' }, p: { namespaceAllowList: ['research'] }, want: 'stop j: not-allowed' },
    { name: 'a cluster without credentials', w: { name: 'j', cluster: 'c9' }, want: 'stop j: no-cluster' },
    { name: 'a stop not due yet', w: { name: 'j', dueInMin: 5 }, want: undefined },
    { name: 'a warning for a hung notebook (never stopped)', w: { name: 'nb', kind: 'Notebook', action: 'warn' as const, verdict: 'hung' as const }, want: 'warn nb: hung' },
    { name: 'a warning under dry-run', w: { name: 'j', action: 'warn' as const }, p: { dryRun: true }, want: 'warn j: dry-run' },
  ])('$name', ({ w, p, want }) => {
    const plan = planActions([assessed(w)], policy(p), noExemptions(), NOW)
    expect(outcomes(plan)).toEqual(want === undefined ? [] : [want])
  })

  it('blocks exempt and unverified workloads, exemptions read from the cluster', () => {
    const ex: Exemptions = { exempt: new Map([['c1/ml/Job/a', 'namespace ml is labelled gpuscope.io/exempt=true']]), unverified: new Map([['c1/ml/Job/b', 'HTTP 403']]) }
    const plan = planActions([assessed({ name: 'a' }), assessed({ name: 'b' })], policy(), ex, NOW)
    expect(plan.stops.map((s) => [s.workload.name, s.outcome, s.reason])).toEqual([
      ['a', 'exempt', 'namespace ml is labelled gpuscope.io/exempt=true'],
      ['b', 'unverified', 'exemption labels could not be read: HTTP 403'],
    ])
  })

  it('stops at most maxActionsPerRun per run, most wasteful first (dry-run stops count too)', () => {
    const ws = [assessed({ name: 'small', waste: 1 }), assessed({ name: 'big', waste: 9 }), assessed({ name: 'mid', waste: 4 })]
    expect(outcomes(planActions(ws, policy({ maxActionsPerRun: 2 }), noExemptions(), NOW))).toEqual(['stop big: stop', 'stop mid: stop', 'stop small: limit'])
    expect(outcomes(planActions(ws, policy({ maxActionsPerRun: 1, dryRun: true }), noExemptions(), NOW))).toEqual(['stop big: dry-run', 'stop mid: limit', 'stop small: limit'])
  })

  it('tells a warned owner when the stop comes: one grace period after the warning', () => {
    const [warn] = planActions([assessed({ name: 'j', action: 'warn' })], policy(), noExemptions(), NOW).warns
    expect(warn?.stopAtMs).toBe(NOW + 120 * MIN)
  })
})

describe('stopOperation', () => {
  const meta = (extra: Record<string, unknown> = {}) => ({ metadata: { resourceVersion: '42', ...extra } })
  it.each([
    { name: 'Notebook: the Kubeflow stop annotation, RFC 3339 in seconds', kind: 'Notebook' as const, obj: meta(), want: { type: 'patch', patch: { metadata: { annotations: { [NOTEBOOK_STOPPED_ANNOTATION]: '2025-06-02T12:00:30Z' } } } } },
    { name: 'Notebook already stopped', kind: 'Notebook' as const, obj: meta({ annotations: { [NOTEBOOK_STOPPED_ANNOTATION]: '2025-06-01T00:00:00Z' } }), want: { type: 'already-stopped' } },
    { name: 'Job: suspend', kind: 'Job' as const, obj: { ...meta(), spec: { suspend: false } }, want: { type: 'patch', patch: { spec: { suspend: true } } } },
    { name: 'Job already suspended', kind: 'Job' as const, obj: { ...meta(), spec: { suspend: true } }, want: { type: 'already-stopped' } },
    { name: 'StatefulSet: scale to 0, replicas kept, guarded by resourceVersion', kind: 'StatefulSet' as const, obj: { ...meta(), spec: { replicas: 3 } }, want: { type: 'patch', patch: { metadata: { annotations: { [REPLICAS_ANNOTATION]: '3' }, resourceVersion: '42' }, spec: { replicas: 0 } } } },
    { name: 'Deployment already at 0', kind: 'Deployment' as const, obj: { ...meta(), spec: { replicas: 0 } }, want: { type: 'already-stopped' } },
    { name: 'Pod: delete', kind: 'Pod' as const, obj: meta(), want: { type: 'delete' } },
  ])('$name', ({ kind, obj, want }) => {
    expect(stopOperation(kind, obj, NOW + 999)).toMatchObject(want)
  })

  it('writes RFC 3339 in whole seconds as Kubeflow does', () => {
    expect(rfc3339(Date.UTC(2025, 0, 2, 3, 4, 5, 678))).toBe('2025-01-02T03:04:05Z')
  })
})
