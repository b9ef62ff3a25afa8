/** Response schemas of /idle and /insights (api/routes/idle.ts), and the idle verdict the workload view shares. */
import { z } from 'zod'
import { anyJson, epochMs, MsWindow } from './common'

const nullableNumber = z.number().nullable()

/** core/idle.ts IdleVerdict. */
export const IdleVerdict = z.enum(['unknown', 'active', 'suspect', 'idle', 'stuck', 'hung']).meta({ id: 'IdleVerdict', description: 'What the evidence says now; stuck = a job idle since its start, hung = a notebook kernel busy while its GPUs do nothing.' })

/** core/idle.ts IdleState. */
export const IdleState = z.enum(['unknown', 'active', 'suspect', 'idle', 'warned', 'stopped']).meta({ id: 'IdleState', description: 'The step of the idle state machine: active -> suspect -> idle -> warned -> stopped.' })

/** core/idle.ts DcgmMetricName: the metric a verdict read, named by its DCGM field as the workload view names it. */
export const IdleMetric = z.enum(['DCGM_FI_PROF_GR_ENGINE_ACTIVE', 'DCGM_FI_DEV_GPU_UTIL', 'mixed', 'none']).describe('which DCGM metric the verdict read: DCGM_FI_PROF_GR_ENGINE_ACTIVE where profiling exists, else DCGM_FI_DEV_GPU_UTIL/100; mixed when both (minute by minute); none without samples')

/** core/idle.ts Signal. */
export const Signal = z
  .strictObject({ name: z.string(), value: z.union([z.number(), z.string(), z.boolean()]).nullable(), note: z.string() })
  .meta({ id: 'Signal', description: 'A named fact behind a verdict, with its value and a sentence for people.' })

/** core/idleMachine.ts KernelSummary. */
export const KernelSummary = z.strictObject({ busyNow: z.boolean(), lastActivityMs: nullableNumber, latestPollMs: epochMs }).describe('Jupyter kernel facts (notebooks)')

/** core/idleMachine.ts NextAction. */
export const NextAction = z.strictObject({ action: z.enum(['warn', 'stop']), atMs: epochMs }).describe('what the enforcer does next, and when')

/** The evidence facts an idle verdict rests on (core/idleMachine.ts), shared by the assessment and GET /idle's evidence. */
const evidenceFields = {
  metric: IdleMetric,
  coverageRatio: nullableNumber.describe('share of the evaluated minutes (the stretch below the threshold inside the window, or the whole window when active) with a sample on every GPU; null without samples'),
  maxUtilRatio: nullableNumber,
  lastGpuActivityMs: nullableNumber.describe('end of the minute of the newest reading at or above the threshold; null when none in the lookback'),
  fbUsedMaxBytes: nullableNumber,
  kernel: KernelSummary.nullable(),
}

/** The idle assessment of a running workload as GET /workloads/{id} shows it (core/idleMachine.ts IdleAssessment, absent fields as null). */
export const IdleAssessment = z
  .strictObject({
    verdict: IdleVerdict,
    state: IdleState,
    windowMs: z.number(),
    idleSinceMs: nullableNumber,
    idleSinceExact: z.boolean().describe('false when the stretch may be older than the evidence reaches or its start is only known to the hour'),
    wastedGpuHours: z.number(),
    ...evidenceFields,
    warnedAtMs: nullableNumber,
    stoppedAtMs: nullableNumber,
    nextAction: NextAction.nullable(),
    signals: z.array(Signal),
  })
  .meta({ id: 'IdleAssessment', description: "The idle core's verdict, state and evidence for one running workload." })

const UtilPoint = z.strictObject({ tsMs: epochMs, utilRatio: nullableNumber, maxUtilRatio: nullableNumber, fbUsedMaxBytes: nullableNumber })

/** One workload of GET /idle. */
export const IdleWorkload = z
  .strictObject({
    cluster: z.string(),
    namespace: z.string(),
    kind: z.string(),
    name: z.string(),
    owner: z.strictObject({ team: z.string(), project: z.string(), user: z.string() }),
    pods: z.array(z.string()),
    nodes: z.array(z.string()),
    gpus: z.number(),
    startMs: epochMs,
    state: IdleState,
    verdict: IdleVerdict,
    idleSinceMs: nullableNumber,
    idleSinceExact: z.boolean().describe('false when the stretch may be older than the evidence reaches or its start is only known to the hour'),
    wastedGpuHours: z.number(),
    warnedAtMs: nullableNumber,
    stoppedAtMs: nullableNumber,
    nextAction: NextAction.nullable(),
    evidence: z.strictObject({
      windowMs: z.number(),
      ...evidenceFields,
      series: z.array(UtilPoint).describe('utilization over the evidence window; null where unsampled'),
    }),
    signals: z.array(Signal),
  })
  .meta({ id: 'IdleWorkload', description: 'A running GPU workload, its step in the idle state machine and the evidence.' })

const msByKind = z.record(z.string(), z.number())

/** The idle policy (config/idle.ts) as answers show it. */
export const IdlePolicy = z.strictObject({
  utilBelow: z.number(),
  notebookWindowMs: z.number(),
  jobWindowMs: z.number(),
  windowsByKindMs: msByKind,
  holdForMs: z.number(),
  graceMs: z.number(),
  minCoverage: z.number(),
  stalenessMs: z.number(),
  stuckMinAgeMs: z.number(),
  stuckUtilBelow: z.number(),
  activityStat: z.enum(['max', 'mean']),
  requireKernelActivity: z.boolean(),
})

/** GET /api/v1/idle data. */
export const idleData = z.strictObject({
  window: z.strictObject({ fromMs: epochMs, toMs: epochMs, stepMs: z.number() }),
  policy: IdlePolicy.extend({
    windowsMs: msByKind.describe('the idle window per kind: Notebook, default (every other kind) and overrides'),
  }),
  totals: z.strictObject({
    workloads: z.number().int(),
    gpus: z.number(),
    byState: z.record(z.string(), z.number().int()).describe('workloads per state'),
    idleGpus: z.number(),
    wastedGpuHours: z.number(),
  }),
  workloads: z.array(IdleWorkload),
})

/** core/insights.ts Finding. */
export const Finding = z
  .strictObject({
    type: z.enum(['team-efficiency', 'right-size', 'low-memory', 'cull-notebook']),
    team: z.string(),
    subject: z.string().describe('the team, or the workload as cluster/namespace/kind/name'),
    message: z.string(),
    suggestion: z.string(),
    impactGpuHours: z.number(),
    evidence: z.record(z.string(), anyJson).describe('the numbers behind the finding'),
  })
  .meta({ id: 'Finding', description: 'One finding: what, about whom, what to do, and the GPU-hours at stake.' })

/** GET /api/v1/insights data. */
export const insightsData = z.strictObject({
  window: MsWindow,
  policy: z.strictObject({ efficiencyBelow: z.number(), memoryBelowRatio: z.number(), cullAfterMs: z.number(), minGpuHours: z.number(), utilBelow: z.number() }),
  counts: z.record(z.string(), z.number().int()).describe('findings per type'),
  findings: z.array(Finding),
})
