import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { alertsSchema } from '../config/alerts'
import { loadConfig } from '../config/load'
import { REDACTED, redact } from '../config/redact'
import { configSchema } from '../config/schema'

// The alerts section of the config: safe defaults, every secret redacted by `config print`,
// and each bad value named by its path.
const target = { name: 't', provider: 'aws', pool: 'burst', gpusPerNode: 8, maxNodes: 2, usdPerGpuHour: 1, adapter: { type: 'webhook', webhookUrl: 'https://scale.example/hook?token=abc' } }
const pool = { cluster: 'c1', pool: 'dgx', maxBurstGpus: 16, monthlyBudgetUsd: 100, targets: [target] }

const issues = (alerts: unknown): string[] => {
  const r = alertsSchema.safeParse(alerts)
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

describe('alerts config', () => {
  it('is off and dry-run by default, everywhere it could act', () => {
    const a = configSchema.parse({}).alerts
    expect([a.enabled, a.dryRun, a.enforcer.enabled, a.enforcer.dryRun, a.enforcer.deleteBarePods, a.burst.enabled, a.burst.dryRun, a.admission.enabled]).toEqual([false, true, false, true, false, false, true, false])
    expect(a.enforcer.exemptLabel).toBe('gpuscope.io/exempt')
  })

  it('redacts every webhook URL, token, signing secret and key in config print', () => {
    const a = alertsSchema.parse({
      slack: { defaultWebhookUrl: 'https://hooks.slack.com/services/T/B/default', teamWebhooks: [{ team: 'nlp', webhookUrl: 'https://hooks.slack.com/services/T/B/nlp' }], botToken: 'xoxb-1' },
      burst: {
        pools: [{ ...pool, targets: [{ ...target, adapter: { ...target.adapter, signingSecret: 's3cr3t' } }, { ...target, name: 'a', adapter: { type: 'aws-asg', region: 'us-east-1', autoScalingGroupName: 'g', accessKeyId: 'AKIDX', secretAccessKey: 'aws-secret' } }] }],
      },
    })
    const shown = JSON.stringify(redact(a))
    for (const secret of ['services/T/B', 'xoxb-1', 's3cr3t', 'AKIDX', 'aws-secret', 'token=abc']) expect(shown).not.toContain(secret)
    expect(shown.split(REDACTED).length - 1).toBe(7)
  })

  it('takes the Slack secrets from GPUSCOPE_* environment variables', () => {
    const env = { GPUSCOPE_ALERTS_SLACK_DEFAULT_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/env', GPUSCOPE_ALERTS_SLACK_BOT_TOKEN: 'xoxb-env' }
    const cwd = mkdtempSync(join(tmpdir(), 'gpuscope-alerts-config-'))
    const { config } = loadConfig({ env, cwd })
    rmSync(cwd, { recursive: true, force: true })
    expect([config.alerts.slack.defaultWebhookUrl, config.alerts.slack.botToken]).toEqual(['https://hooks.slack.com/services/T/B/env', 'xoxb-env'])
  })

  it.each([
    { name: 'a bad cron expression', alerts: { evaluateCron: 'every minute' }, want: ['evaluateCron: must be a cron expression (5 or 6 fields, node-cron syntax)'] },
    { name: 'a webhook that is not a URL', alerts: { slack: { defaultWebhookUrl: 'hooks.slack.com/x' } }, want: ['slack.defaultWebhookUrl: must be an http(s) URL, or empty'] /* the value is not echoed */ },
    { name: 'two webhooks for one team', alerts: { slack: { teamWebhooks: [{ team: 'a', webhookUrl: 'https://x.example/1' }, { team: 'a', webhookUrl: 'https://x.example/2' }] } }, want: ['slack.teamWebhooks: teams must be unique'] },
    { name: 'a Slack id that is not one', alerts: { slack: { userMap: { ana: 'ana@example.com' } } }, want: ['slack.userMap.ana: must be a Slack member id such as U012AB3CD'] },
    { name: 'a negative per-run cap', alerts: { enforcer: { maxActionsPerRun: -1 } }, want: ['enforcer.maxActionsPerRun: Too small: expected number to be >=0'] },
    { name: 'a burst pool without targets', alerts: { burst: { pools: [{ ...pool, targets: [] }] } }, want: ['burst.pools.0.targets: Too small: expected array to have >=1 items'] },
    { name: 'an unknown adapter type', alerts: { burst: { pools: [{ ...pool, targets: [{ ...target, adapter: { type: 'gcp-mig' } }] }] } }, want: ["burst.pools.0.targets.0.adapter.type: Invalid discriminator value. Expected 'webhook' | 'aws-asg' | 'kubernetes-patch'"] },
    { name: 'a TLS certificate without its key', alerts: { admission: { tls: { certFile: '/tls.crt' } } }, want: ['admission.tls.keyFile: certFile and keyFile must be given together'] },
    { name: 'a typo', alerts: { enforcer: { dryrun: false } }, want: ['enforcer: Unrecognized key: "dryrun"'] },
  ])('rejects $name, naming the field', ({ alerts, want }) => {
    expect(issues(alerts)).toEqual(want)
  })
})
