import { describe, expect, it } from 'vitest'
import type { AlertsDeps } from '../alerts/evaluate'
import { startAlerts } from '../alerts/schedule'
import { configSchema } from '../config/schema'
import type { Logger, QueryFn } from '../core/ports'
import { silentLogger } from './helpers/store'

// The schedules without a store: a query function the test controls, so a run can be held
// in flight. No test waits for a cron tick; runNow drives the jobs.
const NOW = Date.UTC(2025, 5, 2, 9)

function held() {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => (release = resolve))
  let calls = 0
  const query: QueryFn = async <T>() => {
    calls++
    await gate
    return [] as T[]
  }
  return { query, release, calls: () => calls }
}

function deps(alerts: Record<string, unknown>, query: QueryFn, logger: Logger = silentLogger): AlertsDeps {
  return { config: configSchema.parse({ alerts }), query, logger, now: () => NOW, sinks: { actions: { write: async () => {} } } }
}

const SLACK = { defaultWebhookUrl: 'https://hooks.slack.invalid/services/T/B/x' }
const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('alerts schedules', () => {
  it('schedules nothing while alerts are disabled (the default)', async () => {
    const s = startAlerts(deps({}, held().query))
    expect(s.jobs()).toEqual([])
    expect(await s.runNow('idle')).toEqual({ status: 'skipped', reason: "no job 'idle'" })
    await s.stop()
  })

  it('schedules the idle evaluation, digests and burst on their cron expressions from config', async () => {
    const s = startAlerts(deps({
      enabled: true, evaluateCron: '*/2 * * * *', slack: { ...SLACK, digestCron: '30 8 * * 1-5' },
      burst: { enabled: true, cron: '*/3 * * * *' },
    }, held().query))
    expect(s.jobs()).toEqual([{ name: 'idle', cron: '*/2 * * * *' }, { name: 'digest', cron: '30 8 * * 1-5' }, { name: 'burst', cron: '*/3 * * * *' }])
    expect(s.burst).toBeDefined()
    await s.stop()
  })

  it('never overlaps two runs of one job, and stop() waits for the run in flight', async () => {
    const h = held()
    const s = startAlerts(deps({ enabled: true, slack: SLACK }, h.query), { start: false })
    const first = s.runNow('idle')
    await tick()
    expect(await s.runNow('idle')).toEqual({ status: 'skipped', reason: "a run of 'idle' is still in flight" })
    let stopped = false
    const stopping = s.stop().then(() => (stopped = true))
    await tick()
    expect(stopped).toBe(false)
    h.release()
    expect((await first).status).toBe('done')
    await stopping
    expect(stopped).toBe(true)
  })

  it('logs a failed run and starts the next one fresh', async () => {
    const errors: unknown[] = []
    let fail = true
    const query: QueryFn = async <T>() => {
      if (fail) throw new Error('store unavailable')
      return [] as T[]
    }
    const s = startAlerts(deps({ enabled: true, slack: SLACK }, query, { ...silentLogger, error: (o: unknown) => void errors.push(o) }), { start: false })
    expect(await s.runNow('idle')).toEqual({ status: 'failed', error: 'store unavailable' })
    expect(errors).toEqual([{ job: 'idle', err: 'store unavailable' }])
    fail = false
    expect((await s.runNow('idle')).status).toBe('done')
    await s.stop()
  })
})
