import { describe, expect, it } from 'vitest'
import type { IdleWorkload } from '../../store/queries/idle'
import { dashboardLink, gpusText, howToKeep, slackDate, wasteText, whatHappens, type MessageContext } from './blocks'
import { retryAfterMs, waitAfter } from './send'

const AT = Date.UTC(2025, 5, 2, 14, 0, 0)
const w = { cluster: 'c1', namespace: 'ml', kind: 'Notebook', name: 'nb a', user: 'ana', team: 'ml' } as IdleWorkload
const ctx = (over: Partial<MessageContext> = {}): MessageContext => ({
  nowMs: AT, usdPerGpuHour: undefined, dashboardUrl: '', snoozeUrl: '', exemptLabel: 'gpuscope.io/exempt', graceMs: 7_200_000, ownerSlackId: undefined, ...over,
})

describe('Block Kit text', () => {
  it.each([
    { name: 'a stop', c: { outcome: 'stop' as const, reason: '', stopAtMs: AT }, want: `If it stays idle, gpuscope stops it at ${slackDate(AT)} by setting the \`kubeflow-resource-stopped\` annotation (the notebook's own Stop; its volume is kept).` },
    { name: 'dry-run', c: { outcome: 'dry-run' as const, reason: '', stopAtMs: AT }, want: `gpuscope runs in dry-run: it would stop it at ${slackDate(AT)}; nothing will be changed.` },
    { name: 'exempt', c: { outcome: 'exempt' as const, reason: 'the Notebook is labelled gpuscope.io/exempt=true', stopAtMs: undefined }, want: 'It is exempt (the Notebook is labelled gpuscope.io/exempt=true): it will not be stopped.' },
    { name: 'not allowed, escaped', c: { outcome: 'not-allowed' as const, reason: 'namespace <ml> is protected', stopAtMs: undefined }, want: 'It will not be stopped automatically: namespace &lt;ml&gt; is protected.' },
  ])('what happens next: $name', ({ c, want }) => {
    expect(whatHappens('Notebook', c)).toBe(want)
  })

  it('offers the exemption label and a filled-in snooze link', () => {
    expect(howToKeep(w, ctx({ snoozeUrl: 'https://gpuscope.example/snooze?c={cluster}&ns={namespace}&k={kind}&n={name}' }))).toBe(
      'Use the GPUs again, or exempt it: `kubectl label notebooks.kubeflow.org nb a -n ml gpuscope.io/exempt=true` or <https://gpuscope.example/snooze?c=c1&ns=ml&k=Notebook&n=nb%20a|snooze this alert>. Free them when you are done.',
    )
  })

  it.each([
    { gpus: 2, want: '2' },
    { gpus: 1 / 7, want: '0.14' },
  ])('shows $gpus GPUs as $want', ({ gpus, want }) => expect(gpusText(gpus)).toBe(want))

  it('shows the cost only when a price is known', () => {
    expect([wasteText(8, undefined), wasteText(8, 2.5)]).toEqual(['8.0 GPU-hours', '8.0 GPU-hours (~$20.00)'])
  })

  it('links the dashboard with its variables, and not at all without a URL', () => {
    expect(dashboardLink('https://grafana.example/d/gpu-idle/idle?orgId=1', { cluster: 'c1', workload: 'nb a' })).toBe('https://grafana.example/d/gpu-idle/idle?orgId=1&var-cluster=c1&var-workload=nb+a')
    expect(dashboardLink('', { cluster: 'c1' })).toBeUndefined()
  })
})

describe('Slack retry policy', () => {
  const policy = { maxAttempts: 4, retryBaseMs: 1_000, retryMaxMs: 5_000, maxRetryAfterMs: 60_000 }
  it.each([
    { name: 'Retry-After in seconds', header: '7', want: 7_000 },
    { name: 'Retry-After as an HTTP date', header: new Date(AT + 30_000).toUTCString(), want: 30_000 },
    { name: 'no header', header: null, want: undefined },
  ])('reads $name', ({ header, want }) => expect(retryAfterMs(header, AT)).toBe(want))

  it.each([
    { name: '429 waits its Retry-After', failure: { kind: 'rate-limited' as const, retryAfterMs: 7_000, message: '' }, attempt: 1, want: 7_000 },
    { name: '429 without Retry-After backs off', failure: { kind: 'rate-limited' as const, retryAfterMs: undefined, message: '' }, attempt: 2, want: 2_000 },
    { name: '429 longer than the run may wait gives up', failure: { kind: 'rate-limited' as const, retryAfterMs: 61_000, message: '' }, attempt: 1, want: undefined },
    { name: 'backoff is capped', failure: { kind: 'transient' as const, message: '' }, attempt: 3, want: 4_000 },
    { name: 'the last attempt gives up', failure: { kind: 'transient' as const, message: '' }, attempt: 4, want: undefined },
    { name: 'a permanent failure gives up', failure: { kind: 'permanent' as const, message: '' }, attempt: 1, want: undefined },
  ])('$name', ({ failure, attempt, want }) => expect(waitAfter(failure, attempt, policy)).toBe(want))
})
