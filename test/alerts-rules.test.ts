import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

// deploy/prometheus/gpuscope-rules.yml through Debian's promtool: `check rules` (syntax,
// PromQL, templates) and `test rules` (the alerts fire on the series they are about, and
// only after their `for`). Without promtool the tests are skipped, except in CI.
const PROMTOOL = '/usr/bin/promtool'
const RULES = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'deploy', 'prometheus', 'gpuscope-rules.yml')
const have = existsSync(PROMTOOL)
if (!have && process.env.CI) throw new Error(`${PROMTOOL} is required in CI (Debian package prometheus)`)

const dir = mkdtempSync(join(tmpdir(), 'gpuscope-rules-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const promtool = (...args: string[]) => spawnSync(PROMTOOL, args, { encoding: 'utf8' })

/** A promtool rule unit test (YAML is a superset of JSON). */
function unitTest(name: string, test: unknown): string {
  const file = join(dir, `${name}.yml`)
  writeFileSync(file, JSON.stringify({ rule_files: [RULES], evaluation_interval: '1m', tests: [test] }))
  return file
}

describe.skipIf(!have)('Prometheus rules', () => {
  it('pass promtool check rules', () => {
    const r = promtool('check', 'rules', RULES)
    expect(r.stderr).toBe('')
    expect(r.stdout).toContain('SUCCESS: 13 rules found')
    expect(r.status).toBe(0)
  })

  it.each([
    {
      name: 'capacity near full fires after 30 minutes at 90% allocated, not before',
      test: {
        interval: '1m',
        input_series: [
          { series: 'gpuscope_capacity_gpus{cluster="c1",pool="dgx",gpu_model="H100"}', values: '64x60' },
          { series: 'gpuscope_allocated_gpus{cluster="c1",pool="dgx",gpu_model="H100",team="nlp"}', values: '40x60' },
          { series: 'gpuscope_allocated_gpus{cluster="c1",pool="dgx",gpu_model="H100",team="vision"}', values: '18x60' },
          { series: 'gpuscope_pending_gpus{cluster="c1",team="nlp"}', values: '0x60' },
        ],
        alert_rule_test: [
          { eval_time: '29m', alertname: 'GpuscopeCapacityNearFull', exp_alerts: [] },
          { eval_time: '31m', alertname: 'GpuscopeCapacityNearFull', exp_alerts: [{ exp_labels: { severity: 'warning', cluster: 'c1', pool: 'dgx' }, exp_annotations: { summary: 'Pool dgx in c1 is 90.62% allocated', description: 'GPU allocation has stayed at or above 90% of capacity for 30 minutes.' } }] },
          { eval_time: '31m', alertname: 'GpuscopeCapacityFullWithPendingDemand', exp_alerts: [] },
        ],
      },
    },
    {
      name: 'full with pending demand fires after 15 minutes',
      test: {
        interval: '1m',
        input_series: [
          { series: 'gpuscope_capacity_gpus{cluster="c1",pool="dgx",gpu_model="H100"}', values: '64x30' },
          { series: 'gpuscope_allocated_gpus{cluster="c1",pool="dgx",gpu_model="H100",team="nlp"}', values: '64x30' },
          { series: 'gpuscope_pending_gpus{cluster="c1",team="nlp"}', values: '16x30' },
        ],
        alert_rule_test: [
          { eval_time: '14m', alertname: 'GpuscopeCapacityFullWithPendingDemand', exp_alerts: [] },
          {
            eval_time: '16m', alertname: 'GpuscopeCapacityFullWithPendingDemand',
            exp_alerts: [{ exp_labels: { severity: 'warning', cluster: 'c1', pool: 'dgx' }, exp_annotations: { summary: 'Pool dgx in c1 is full and GPU pods are pending', description: 'Every GPU is allocated and pods wait for GPUs: reclaim idle GPUs (/api/v1/idle) or burst (/api/v1/burst).' } }],
          },
        ],
      },
    },
    {
      name: 'idle workloads fire per team after 30 minutes',
      test: {
        interval: '1m',
        input_series: [
          { series: 'gpuscope_idle_workloads{cluster="c1",team="nlp"}', values: '2x40' },
          { series: 'gpuscope_idle_workloads{cluster="c1",team="vision"}', values: '0x40' },
        ],
        alert_rule_test: [
          {
            eval_time: '35m', alertname: 'GpuscopeIdleGpuWorkloads',
            exp_alerts: [{ exp_labels: { severity: 'info', cluster: 'c1', team: 'nlp' }, exp_annotations: { summary: '2 idle GPU workload(s) of team nlp in c1', description: 'Workloads hold GPUs with utilization below the idle threshold for their whole idle window. See /api/v1/idle?team=nlp.' } }],
          },
        ],
      },
    },
    {
      name: 'a collector whose last success is 15 minutes old is down after 5 more',
      test: {
        interval: '1m',
        // The last success stays at t=0 (0 s); at 21 min it is 1260 s old.
        input_series: [{ series: 'gpuscope_collector_last_success_timestamp_seconds{source="dcgm:c1"}', values: '0x30' }],
        alert_rule_test: [
          { eval_time: '19m', alertname: 'GpuscopeCollectorDown', exp_alerts: [] },
          {
            eval_time: '21m', alertname: 'GpuscopeCollectorDown',
            exp_alerts: [{ exp_labels: { severity: 'warning', source: 'dcgm:c1' }, exp_annotations: { summary: 'gpuscope collector dcgm:c1 has not succeeded for 21m 0s', description: 'Its data is missing: idle verdicts turn unknown and reports have gaps.' } }],
          },
        ],
      },
    },
  ])('$name (promtool test rules)', ({ name, test }) => {
    const r = promtool('test', 'rules', unitTest(name.replace(/\W+/g, '-'), { name, ...test }))
    expect(r.stdout + r.stderr).toContain('SUCCESS')
    expect(r.status).toBe(0)
  })
})
