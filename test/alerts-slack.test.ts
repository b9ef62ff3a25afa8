import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assessRunning } from '../api/routes/idle'
import { alertsRuntime, evaluateIdle, sendDigests, type AlertsDeps } from '../alerts/evaluate'
import { dmChannel, webhookChannel, type SlackMessage } from '../alerts/slack/send'
import { fleetClock, MIN, quietKernel, seedFleet, until, type WorkloadSpec } from './helpers/idleFleet'
import { configSchema, type Config } from '../config/schema'
import { FakeSlack } from './fakes/slack'
import { openTestStore, type TestStore } from './helpers/store'

// Slack alerts end to end: the store holds three idle workloads; a loopback Slack records
// what arrives. Clock: T0 a recent whole hour, NOW 30 s after it; notebook window 30 min,
// job window 60 min; reminders 60 and 180 min after the warning.
const c = fleetClock()
const NOW = c.at(0) + 30_000
const FLEET: WorkloadSpec[] = [
  { name: 'nb-a', ns: 'vision', kind: 'Notebook', user: 'ana', util: until(-480, 0.3, 0), kernel: quietKernel(-480) },
  { name: 'job-b', ns: 'nlp', kind: 'Job', user: 'bo', gpus: 2, util: until(-300, 0.5, 0), warnedAtMin: -150 },
  { name: 'nb-c', ns: 'ops', kind: 'Notebook', user: 'cy', util: until(-120, 0.4, 0), kernel: quietKernel(-120) },
  { name: 'job-busy', ns: 'nlp', kind: 'Job', util: () => 0.6 },
]

const slack = new FakeSlack()
let ts: TestStore
let config: Config
const logs: unknown[] = []
const logger = { info: (...a: unknown[]) => logs.push(a), warn: (...a: unknown[]) => logs.push(a), error: (...a: unknown[]) => logs.push(a), debug: (...a: unknown[]) => logs.push(a) }
const sleeps: number[] = []

let DEFAULT_URL = ''
let NLP_URL = ''
let OPS_URL = ''
const DM = '/api/chat.postMessage'
const TOKEN = 'xoxb-secret-token'

function deps(nowMs: number): AlertsDeps {
  return {
    config, query: ts.store.query, logger, now: () => nowMs, sleep: async (ms) => void sleeps.push(ms),
    sinks: { actions: { write: async (rows) => { const p = ts.writers.sinks.actions.write(rows); await ts.writers.flush(); await p } } },
  }
}
const run = (nowMs: number) => evaluateIdle(deps(nowMs), alertsRuntime(deps(nowMs)))
const bodies = (url: string) => slack.delivered(url).map((r) => r.body)

const date = (ms: number) => `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${new Date(ms).toISOString().replace('.000Z', 'Z')}>`
const isoMs = (ms: number) => new Date(ms).toISOString()
const fields = (...texts: string[]) => ({ type: 'section', fields: texts.map((text) => ({ type: 'mrkdwn', text })) })
const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } })
const button = (query: string) => ({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in gpuscope' }, url: `https://gpuscope.example/d/idle?${query}` }] })
const context = (text: string) => ({ type: 'context', elements: [{ type: 'mrkdwn', text }] })
const OFF = 'It will not be stopped automatically: the idle-shutdown enforcer is off (alerts.enforcer.enabled).'

const ALERT_NB_A: SlackMessage = {
  text: 'Notebook vision/nb-a holds 1 GPU(s) idle: 8.0 GPU-hours (~$24.00) wasted so far',
  blocks: [
    { type: 'header', text: { type: 'plain_text', text: 'GPU workload idle: nb-a' } },
    fields('*Workload*\nNotebook `vision/nb-a` on c1', '*Owner*\n<@U0ANA>', '*Team*\nvision', '*GPUs held*\n1', `*Idle since*\n${date(c.at(-480))}`, '*Wasted*\n8.0 GPU-hours (~$24.00)'),
    section([
      '*Evidence*',
      '• highest max reading in the last 30m (activity is &gt;= 0.05): 0.0% of DCGM_FI_PROF_GR_ENGINE_ACTIVE',
      '• below 0.05 for 8h at least (window 30m, hold 10m)',
      '• share of evaluated minutes with a sample on every GPU (unknown below 0.8): 100%',
      '• the stretch began before the minute lookback; its start comes from the hourly rollup',
      `• every kernel idle at the newest poll ${isoMs(c.at(0))}`,
      `• kernel activity last seen ${isoMs(c.at(-480))}`,
    ].join('\n')),
    section(`*What happens next*\n${OFF}`),
    section('*How to keep it*\nUse the GPUs again, or exempt it: `kubectl label notebooks.kubeflow.org nb-a -n vision gpuscope.io/exempt=true`. Free them when you are done.'),
    button('var-cluster=c1&var-namespace=vision&var-workload=nb-a'),
    context('gpuscope idle alert · idle · one alert per idle episode'),
  ],
}

const reminderJobB = (step: number, sinceWarning: string, waste: string) => ({
  text: `Reminder: Job nlp/job-b is still idle since the warning ${sinceWarning} ago: ${waste} wasted`,
  blocks: [
    section(`:hourglass: *Reminder ${step}*: Job \`nlp/job-b\` is still idle since the warning ${sinceWarning} ago.`),
    fields('*Workload*\nJob `nlp/job-b` on c1', '*Owner*\nbo', '*Team*\nnlp', '*GPUs held*\n2', `*Idle since*\n${date(c.at(-300))}`, `*Wasted*\n${waste}`),
    section(`*What happens next*\n${OFF}`),
    section('*How to keep it*\nUse the GPUs again, or exempt it: `kubectl label job job-b -n nlp gpuscope.io/exempt=true`. Free them when you are done.'),
    button('var-cluster=c1&var-namespace=nlp&var-workload=job-b'),
    context(`gpuscope idle reminder ${step}`),
  ],
})

beforeAll(async () => {
  await slack.start()
  DEFAULT_URL = slack.webhookUrl('default-secret')
  NLP_URL = slack.webhookUrl('nlp-secret')
  OPS_URL = slack.webhookUrl('ops-secret')
  ts = await openTestStore()
  config = {
    ...configSchema.parse({
      alerts: {
        enabled: true, usdPerGpuHour: 3,
        slack: {
          defaultWebhookUrl: DEFAULT_URL, teamWebhooks: [{ team: 'nlp', webhookUrl: NLP_URL }, { team: 'ops', webhookUrl: OPS_URL }],
          botToken: TOKEN, apiUrl: `${slack.url}/api/`, userMap: { ana: 'U0ANA' }, dashboardUrl: 'https://gpuscope.example/d/idle', remindersMs: [60 * MIN, 180 * MIN],
        },
      },
    }),
    store: ts.config.store,
  }
  await seedFleet(ts.writers.sinks, () => ts.writers.flush(), FLEET, c)
  // Slack rate-limits the ops channel for ten minutes: longer than a run waits (maxRetryAfterMs 2 min).
  slack.script(OPS_URL, [{ status: 429, retryAfter: '600' }])
})

afterAll(async () => {
  await slack.close()
  await ts?.close()
})

describe('Slack idle alerts against a loopback Slack', () => {
  it('sends one Block Kit alert to the team channel (the default webhook for vision) and DMs the mapped owner', async () => {
    const result = await run(NOW)
    expect(bodies(DEFAULT_URL)).toEqual([ALERT_NB_A])
    expect(bodies(DM)).toEqual([{ channel: 'U0ANA', ...ALERT_NB_A }])
    expect(slack.delivered(DM)[0]?.authorization).toBe(`Bearer ${TOKEN}`)
    expect(result.warned.map((w) => [w.key, w.decision, w.channels])).toEqual([
      ['c1/vision/Notebook/nb-a', 'sent', ['default', 'DM U0ANA']],
      ['c1/ops/Notebook/nb-c', 'failed', ['team ops']],
    ])
  })

  it('reminds a warned workload at the first passed step, in its team channel', () => {
    expect(bodies(NLP_URL)).toEqual([reminderJobB(1, '2h30m30s', '10.0 GPU-hours (~$30.00)')])
  })

  it('does not wait out a Retry-After longer than the run allows: the 429 answer is audited once and nothing more is sent', async () => {
    expect(slack.requests.filter((r) => r.path === new URL(OPS_URL).pathname).map((r) => r.status)).toEqual([429])
    expect(sleeps).toEqual([])
    const rows = await ts.store.query<{ decision: string; acted: boolean | number; reason: string }>("SELECT decision, acted, reason FROM actions FINAL WHERE action = 'warn' AND workload_name = 'nb-c'")
    expect(rows.map((r) => [r.decision, Boolean(r.acted)])).toEqual([['failed', false]])
    expect(rows[0]?.reason).toBe('slack webhook (team ops) failed: HTTP 429; Retry-After 600000 ms exceeds 120000 ms, left for the next run')
  })

  it('sends nothing new on the next run of the same episode, except the warning Slack refused before', async () => {
    slack.reset()
    const result = await run(NOW + MIN)
    expect(slack.requests.map((r) => r.path)).toEqual([new URL(OPS_URL).pathname])
    expect(result.warned.map((w) => [w.key, w.decision])).toEqual([['c1/ops/Notebook/nb-c', 'sent']])
    expect(result.reminded).toEqual([])
    const nbC = (await assessRunning(ts.store.query, config.idle, NOW + 2 * MIN)).assessed.find((x) => x.workload.name === 'nb-c')
    expect(nbC?.assessment.state).toBe('warned')
  })

  it('sends the second reminder once its step passes, once', async () => {
    slack.reset()
    await run(c.at(31) + 30_000)
    expect(bodies(NLP_URL)).toEqual([reminderJobB(2, '3h1m30s', '11.0 GPU-hours (~$33.10)')]) // 2 GPUs x 5 h 31 min at $3
    slack.reset()
    await run(c.at(32) + 30_000)
    expect(slack.requests).toEqual([])
  })

  it('sends each team its daily digest', async () => {
    slack.reset()
    const result = await sendDigests(deps(NOW), alertsRuntime(deps(NOW)))
    expect(result.map((r) => [r.team, r.workloads, r.delivered, r.channel])).toEqual([['nlp', 1, true, 'team nlp'], ['ops', 1, true, 'team ops'], ['vision', 1, true, 'default']])
    expect(bodies(NLP_URL)).toEqual([{
      text: 'gpuscope daily digest for nlp: 1 idle workload(s) hold 2 GPU(s), 10.0 GPU-hours (~$30.00) wasted',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Idle GPUs of nlp' } },
        section('*1* idle workload(s) hold *2* GPU(s); *10.0 GPU-hours (~$30.00)* wasted in their current idle stretches.'),
        section(`• Job \`nlp/job-b\` (bo): 2 GPU(s) warned, idle since ${date(c.at(-300))}, 10.0 GPU-hours (~$30.00)`),
        button('var-team=nlp'),
        context(`gpuscope daily digest · ${new Date(NOW).toISOString().replace('.000Z', 'Z')}`),
      ],
    }])
  })

  it('never puts a webhook URL or the bot token in a log line or an audit row', async () => {
    const rows = await ts.store.query<{ reason: string; evidence: string }>('SELECT reason, evidence FROM actions FINAL')
    const text = JSON.stringify(logs) + JSON.stringify(rows)
    expect(logs.length).toBeGreaterThan(0)
    for (const secret of ['default-secret', 'nlp-secret', 'ops-secret', TOKEN]) expect(text).not.toContain(secret)
  })
})

describe('webhook delivery: 429 and retries (loopback Slack, waits recorded instead of slept)', () => {
  const cfg = () => config.alerts.slack
  const message: SlackMessage = { text: 'hello', blocks: [] }

  it.each([
    { name: 'a 429 waits its Retry-After, then delivers', script: [{ status: 429, retryAfter: '3' }], want: { delivered: true, attempts: 2, waitsMs: [3_000] } },
    { name: '5xx backs off exponentially, then delivers', script: [{ status: 500 }, { status: 503 }], want: { delivered: true, attempts: 3, waitsMs: [1_000, 2_000] } },
    { name: 'a 4xx other than 429 is not retried', script: [{ status: 404 }], want: { delivered: false, attempts: 1, waitsMs: [], error: 'slack webhook (t) failed: HTTP 404' } },
    { name: 'attempts are bounded', script: Array.from({ length: 5 }, () => ({ status: 500 })), want: { delivered: false, attempts: 4, waitsMs: [1_000, 2_000, 4_000], error: 'slack webhook (t) failed: HTTP 500' } },
  ])('$name', async ({ name, script, want }) => {
    const url = slack.webhookUrl(`retry-${name.length}-${script.length}`)
    slack.script(url, script)
    const waits: number[] = []
    const d = await webhookChannel('t', url, cfg(), async (ms) => void waits.push(ms)).send(message)
    expect(d).toEqual(want)
    expect(waits).toEqual(want.waitsMs)
    expect(slack.requests.filter((r) => r.path === new URL(url).pathname).length).toBe(want.attempts)
  })

  it('a rate-limited direct message waits its Retry-After too, and its errors never carry the token', async () => {
    slack.script(DM, [{ status: 429, retryAfter: '2' }])
    const waits: number[] = []
    expect(await dmChannel('U0ANA', cfg(), async (ms) => void waits.push(ms)).send(message)).toEqual({ delivered: true, attempts: 2, waitsMs: [2_000] })
    slack.script(DM, [{ status: 200, body: JSON.stringify({ ok: false, error: 'invalid_auth' }) }])
    const failed = await dmChannel('U0ANA', cfg(), async () => {}).send(message)
    expect(failed).toEqual({ delivered: false, attempts: 1, waitsMs: [], error: 'slack DM U0ANA failed: Slack says invalid_auth' })
  })
})
