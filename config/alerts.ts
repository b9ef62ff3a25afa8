import { validate as isCron } from 'node-cron'
import { z } from 'zod'

/**
 * Alerts, the idle-shutdown enforcer, the burst controller and the admission
 * hook (issue 7). Everything that changes a cluster is off and dry-run by
 * default. Secrets (webhook URLs, tokens, signing secrets, keys) sit under key
 * names that config/schema.ts SECRET_KEY matches, so `config print` redacts
 * them: per-team webhooks are a list of `{ team, webhookUrl }` rather than a
 * `{ team: url }` record, because redaction matches the last key of a path and
 * a team name is not a secret-looking key.
 */

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS
const ms = z.number().int().positive()
const ratio = z.number().min(0).max(1)
const httpUrl = z.url({ protocol: /^https?$/ })
// A plain string (not a union) so GPUSCOPE_* env vars can set it (config/load.ts maps string leaves): secrets come from the environment in a cluster.
const optionalUrl = z.string().refine((s) => s === '' || (/^https?:\/\//i.test(s) && URL.canParse(s)), { message: 'must be an http(s) URL, or empty' })
const cron = z.string().refine((s) => isCron(s), { message: 'must be a cron expression (5 or 6 fields, node-cron syntax)' })
const unique = <T>(xs: readonly T[], key: (x: T) => string): boolean => new Set(xs.map(key)).size === xs.length

const teamWebhookSchema = z.strictObject({
  team: z.string().min(1),
  /** Incoming-webhook URL of the team's channel (secret). */
  webhookUrl: httpUrl,
})

const slackSchema = z.strictObject({
  /** Incoming webhook for teams without their own (secret); empty = no default channel. */
  defaultWebhookUrl: optionalUrl.default(''),
  /** Per-team channels (secret URLs). */
  teamWebhooks: z.array(teamWebhookSchema).refine((xs) => unique(xs, (t) => t.team), 'teams must be unique').default([]),
  /** Bot token for direct messages to owners through the Web API (secret); empty = no DMs. */
  botToken: z.string().default(''),
  /** Web API base URL (tests point it at a loopback recorder). */
  apiUrl: httpUrl.default('https://slack.com/api/'),
  /** Workload user (as collected) → Slack member id, for mentions and DMs. */
  userMap: z.record(z.string().min(1), z.string().regex(/^[UW][A-Z0-9]+$/, 'must be a Slack member id such as U012AB3CD')).default({}),
  /** gpuscope dashboard base URL for the "Open in gpuscope" button; empty = no button. */
  dashboardUrl: optionalUrl.default(''),
  /** Snooze link; `{cluster}`, `{namespace}`, `{kind}`, `{name}` are filled in. Empty = only the exemption label is offered. */
  snoozeUrl: z.string().default(''),
  /** Reminders after the warning, as offsets from it (each sent once per idle episode). */
  remindersMs: z.array(ms).default(() => [HOUR_MS]),
  /** Daily digest per team. */
  digestCron: cron.default('0 9 * * *'),
  /** Workloads listed in a digest (most wasteful first). */
  digestTop: z.number().int().min(1).max(50).default(10),
  /** Attempts per message (429 and 5xx are retried; other 4xx are not). */
  maxAttempts: z.number().int().min(1).max(10).default(4),
  retryBaseMs: ms.default(1_000),
  retryMaxMs: ms.default(30_000),
  /** A Retry-After longer than this is not waited for in the run: the message is retried by the next run. */
  maxRetryAfterMs: ms.default(2 * MINUTE_MS),
  timeoutMs: ms.default(10_000),
})

const enforcerSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Decide and audit, change nothing. */
  dryRun: z.boolean().default(true),
  /** A workload or namespace with this label set to `true` is never stopped. */
  exemptLabel: z.string().min(1).default('gpuscope.io/exempt'),
  /** Namespaces the enforcer may act in; empty = every namespace except the protected ones. */
  namespaceAllowList: z.array(z.string().min(1)).default([]),
  /** Never acted in, whatever the allow-list says. */
  protectedNamespaces: z.array(z.string().min(1)).default(() => ['kube-system', 'kube-public', 'kube-node-lease']),
  /** Stops performed (or, in dry-run, that would be) per run; the most wasteful go first. */
  maxActionsPerRun: z.number().int().min(0).default(5),
  /** Bare pods (no controller) can only be deleted, which loses them: off unless chosen. */
  deleteBarePods: z.boolean().default(false),
  requestTimeoutMs: ms.default(10_000),
})

const webhookAdapterSchema = z.strictObject({
  type: z.literal('webhook'),
  /** Receives a JSON POST per scaling decision (secret: it may embed a token). */
  webhookUrl: httpUrl,
  /** HMAC-SHA256 key for the `X-Gpuscope-Signature` header (secret); empty = unsigned. */
  signingSecret: z.string().default(''),
  timeoutMs: ms.default(10_000),
})

const awsAsgAdapterSchema = z.strictObject({
  type: z.literal('aws-asg'),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region name such as us-east-1'),
  autoScalingGroupName: z.string().min(1),
  /** Override endpoint (tests, VPC endpoints); empty = the SDK's regional endpoint. */
  endpoint: optionalUrl.default(''),
  accessKeyId: z.string().default(''),
  secretAccessKey: z.string().default(''),
  maxAttempts: z.number().int().min(1).max(10).default(3),
})

/**
 * A dotted field path split into keys: `.` separates keys, `\.` is a dot
 * inside a key and `\\` a backslash (`spec.limits.nvidia\.com/gpu` → spec,
 * limits, nvidia.com/gpu; inside JSON or YAML double quotes each backslash is
 * doubled: "spec.limits.nvidia\\.com/gpu"). Throws on an empty key, a
 * dangling or unknown escape, or a `__proto__` key.
 */
export function parseFieldPath(path: string): string[] {
  const keys: string[] = []
  let key = ''
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]
    if (ch === '\\') {
      const next = path[++i]
      if (next !== '.' && next !== '\\') throw new Error(next === undefined ? 'ends with a lone \\' : `unknown escape \\${next} (only \\. and \\\\)`)
      key += next
    } else if (ch === '.') {
      keys.push(key)
      key = ''
    } else key += ch
  }
  keys.push(key)
  if (keys.some((k) => k === '')) throw new Error('has an empty key')
  if (keys.includes('__proto__')) throw new Error('has a __proto__ key')
  return keys
}

/** Why a field path cannot be patched by the burst controller, or undefined when it can: a `spec` field, or one annotation or label. */
export function fieldPathProblem(path: string): string | undefined {
  let keys: string[]
  try {
    keys = parseFieldPath(path)
  } catch (err) {
    return `not a field path: ${(err as Error).message}`
  }
  const [first, second] = keys
  if (first === 'spec' && keys.length >= 2) return undefined
  if (first === 'metadata' && (second === 'annotations' || second === 'labels') && keys.length === 3) return undefined
  return 'must be a field under spec (spec.replicas), or metadata.annotations.<key> / metadata.labels.<key>'
}

// An object URL path on the API server: core (/api/v1) or a group (/apis/<group>/<version>), optionally namespaced, ending in
// <resource>/<name>, or in /scale (the scale subresource, whose spec.replicas many controllers serve). No query, no `..`.
const DNS_NAME = '[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?'
const KUBE_OBJECT_PATH = new RegExp(`^/(?:api/v1|apis/${DNS_NAME}/v[0-9][a-z0-9]*)(?:/namespaces/${DNS_NAME})?/[a-z0-9][-a-z0-9.]*/${DNS_NAME}(?:/scale)?$`)

/**
 * Patches one Kubernetes object of the pool's cluster (or `cluster`) with the
 * target's new size: `field` becomes the new GPU or node count. Examples:
 * - a Karpenter NodePool's GPU limit: `apiPath: /apis/karpenter.sh/v1/nodepools/gpu-spot`,
 *   `field: spec.limits.nvidia\.com/gpu`, `value: gpus`, `format: string` (a quantity);
 * - a Cluster API MachineDeployment or MachinePool: `apiPath:
 *   /apis/cluster.x-k8s.io/v1beta1/namespaces/fleet/machinedeployments/gpu-burst`,
 *   `field: spec.replicas`, `value: nodes`, `format: number`;
 * - any CRD with a size field, e.g. `spec.scaling.desiredSize`, or a scale subresource (`.../scale`, `spec.replicas`).
 * The credentials are the collector's for that cluster (collector.kubernetes.clusters).
 */
const kubernetesPatchAdapterSchema = z.strictObject({
  type: z.literal('kubernetes-patch'),
  /** Cluster name as in collector.kubernetes.clusters; empty = the pool's cluster. */
  cluster: z.string().regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)?$/, 'must be a cluster name (a DNS label) or empty').default(''),
  /** URL path of the object on the API server. */
  apiPath: z.string().max(1024).regex(KUBE_OBJECT_PATH, 'must be an object path such as /apis/karpenter.sh/v1/nodepools/gpu-spot or /apis/<group>/<version>/namespaces/<ns>/<resource>/<name>'),
  /** JSON merge patch (RFC 7386) guarded by the resourceVersion read just before; the only kind the Kubernetes writer serves today. */
  patchType: z.enum(['merge'], { error: "must be 'merge' (JSON merge patch); JSON patch is not supported" }).default('merge'),
  /** Dotted path of the field to set; `\.` for a dot inside a key (parseFieldPath). */
  field: z.string().min(1).superRefine((s, ctx) => {
    const problem = fieldPathProblem(s)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  }),
  /** What is written: the target's new GPU count or its node count. */
  value: z.enum(['gpus', 'nodes']),
  /** `string` for Kubernetes quantities (Karpenter limits), `number` for counts such as replicas. */
  format: z.enum(['number', 'string']).default('number'),
}).refine((a) => a.format === 'string' || !a.field.startsWith('metadata.') || fieldPathProblem(a.field) !== undefined, { message: "annotations and labels hold strings: use format 'string'", path: ['format'] })

const burstTargetSchema = z.strictObject({
  name: z.string().min(1),
  provider: z.string().min(1),
  lifecycle: z.enum(['spot', 'on-demand']).default('spot'),
  /** Pool label value of the burst nodes as the collector records it. */
  pool: z.string().min(1),
  gpusPerNode: z.number().positive(),
  maxNodes: z.number().int().positive(),
  usdPerGpuHour: z.number().nonnegative(),
  adapter: z.discriminatedUnion('type', [webhookAdapterSchema, awsAsgAdapterSchema, kubernetesPatchAdapterSchema]),
})

const burstPoolSchema = z.strictObject({
  cluster: z.string().min(1),
  /** The on-prem pool whose saturation triggers a burst. */
  pool: z.string().min(1),
  /** Trigger when allocation >= this share of capacity (1 = fully allocated). */
  thresholdRatio: ratio.default(1),
  /** ... and pending GPU demand >= this ... */
  minPendingGpus: z.number().positive().default(1),
  /** ... continuously for this long (checked at every evaluation). */
  forMs: ms.default(10 * MINUTE_MS),
  maxBurstGpus: z.number().positive(),
  monthlyBudgetUsd: z.number().nonnegative(),
  /** A scale-out is allowed when this month's burst spend plus the new size run for this long stays within budget. */
  budgetLookaheadMs: ms.default(HOUR_MS),
  /** No scaling of the pool within this long after the last scaling action. */
  cooldownMs: ms.default(30 * MINUTE_MS),
  /** Scale in once nothing is pending and the burst nodes hold no GPU work for this long. */
  scaleInAfterMs: ms.default(30 * MINUTE_MS),
  /**
   * Reclaim before burst: hold the burst while GPUs allocated to idle, stuck or hung work in the cluster would cover
   * the pending demand; the audit row names them, and with the enforcer on (not dry-run) it runs at once.
   */
  reclaimFirst: z.boolean().default(true),
  /** Ordered: the first target with room is used (e.g. spot before on-demand). */
  targets: z.array(burstTargetSchema).min(1).refine((xs) => unique(xs, (t) => t.name), 'target names must be unique'),
})

const burstSchema = z.strictObject({
  enabled: z.boolean().default(false),
  dryRun: z.boolean().default(true),
  cron: cron.default('* * * * *'),
  pools: z.array(burstPoolSchema).refine((xs) => unique(xs, (p) => `${p.cluster}/${p.pool}`), 'pools must be unique per cluster').default([]),
})

const tolerationSchema = z.strictObject({
  key: z.string().min(1),
  operator: z.enum(['Exists', 'Equal']).default('Exists'),
  value: z.string().default(''),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).default('NoSchedule'),
})

const admissionSchema = z.strictObject({
  /** When false the hook admits every pod unchanged. */
  enabled: z.boolean().default(false),
  /** The toleration that admits a pod to the (tainted) burst nodes. */
  toleration: tolerationSchema.default(() => tolerationSchema.parse({ key: 'gpuscope.io/burst' })),
  /** Node label holding the pool name: on-prem pools are preferred through it while bursting. */
  poolLabel: z.string().min(1).default('gpuscope.io/pool'),
  /** Pods requesting a resource with one of these prefixes are GPU pods. */
  gpuResourcePrefixes: z.array(z.string().min(1)).min(1).default(() => ['nvidia.com/']),
  /** How long the burst state read from the audit log is reused. */
  cacheMs: ms.default(10_000),
  /** An answer not ready within this admits the pod unchanged (the API server's webhook timeout is 10 s by default). */
  timeoutMs: ms.default(2_000),
  /** Serve the hook over HTTPS on its own port when a certificate and key are given (Kubernetes calls webhooks over HTTPS). */
  tls: z.strictObject({
    certFile: z.string().default(''),
    keyFile: z.string().default(''),
    host: z.string().min(1).default('0.0.0.0'),
    port: z.number().int().min(0).max(65_535).default(8443),
  }).refine((t) => (t.certFile === '') === (t.keyFile === ''), { message: 'certFile and keyFile must be given together', path: ['keyFile'] })
    .default(() => ({ certFile: '', keyFile: '', host: '0.0.0.0', port: 8443 })),
})

/** Alerts, the idle-shutdown enforcer and the burst controller. Everything that acts is dry-run by default. */
export const alertsSchema = z.strictObject({
  /** Starts the schedules (Slack alerts, enforcer, digests, burst); the admission hook has its own switch. */
  enabled: z.boolean().default(false),
  /** Forces every actor into dry-run whatever its own setting (a global safety switch). */
  dryRun: z.boolean().default(true),
  /** Idle evaluation: alerts, reminders and the enforcer. */
  evaluateCron: cron.default('*/5 * * * *'),
  /** Time zone of every cron expression. */
  timezone: z.string().min(1).default('UTC'),
  /** Price of an idle GPU-hour for the cost shown in alerts; unset = GPU-hours only. */
  usdPerGpuHour: z.number().nonnegative().optional(),
  /** Written as the `actor` of audit rows. */
  actor: z.string().min(1).default('gpuscope'),
  slack: slackSchema.default(() => slackSchema.parse({})),
  enforcer: enforcerSchema.default(() => enforcerSchema.parse({})),
  burst: burstSchema.default(() => burstSchema.parse({})),
  admission: admissionSchema.default(() => admissionSchema.parse({})),
})

/** Validated alerts configuration. */
export type AlertsConfig = z.infer<typeof alertsSchema>
/** Slack settings. */
export type SlackConfig = AlertsConfig['slack']
/** Idle-shutdown enforcer settings. */
export type EnforcerConfig = AlertsConfig['enforcer']
/** Burst controller settings. */
export type BurstConfig = AlertsConfig['burst']
/** One on-prem pool's burst policy. */
export type BurstPoolConfig = BurstConfig['pools'][number]
/** One cloud target of a burst pool. */
export type BurstTargetConfig = BurstPoolConfig['targets'][number]
/** Admission hook settings. */
export type AdmissionConfig = AlertsConfig['admission']
