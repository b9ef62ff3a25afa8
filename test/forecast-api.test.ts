import { Command } from 'commander'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registerForecastCommands } from '../cli/forecast'
import type { Config } from '../config/schema'
import { openTestStore, type TestStore } from './helpers/store'
import { backfillHelios, startTestApp, type TestApp } from './helpers/app'

// The Helios Earth month in chDB (ending 2026-07-01), served by the API and read by the
// forecast CLI commands; "now" is the end of the trace.
const HOUR = 3_600_000
const END = Date.parse('2026-07-01T00:00:00Z')
let ts: TestStore
let app: TestApp
let base: string

beforeAll(async () => {
  ts = await openTestStore()
  await backfillHelios(ts, END)
  app = await startTestApp(ts, { now: () => END })
  base = app.base
}, 300_000)

afterAll(async () => {
  await app?.close()
  await ts?.close()
})

async function get(path: string, status = 200): Promise<any> {
  const res = await fetch(base + path)
  expect(res.status).toBe(status)
  return res.headers.get('content-type')?.includes('json') ? res.json() : res.text()
}

/** Runs `gpuscope forecast ...` in-process on the test store; returns what it printed on stdout and on stderr. */
async function run(...args: string[]): Promise<{ out: string; err: string[] }> {
  const lines: string[] = []
  const err: string[] = []
  const program = new Command().exitOverride()
  const loaded = { config: ts.config as Config, file: undefined, envVars: [] }
  registerForecastCommands(program, () => loaded, { openStore: async () => ({ ...ts.store, close: async () => {} }), out: (t) => lines.push(t), err: (t) => err.push(t), now: () => END })
  await program.parseAsync(['node', 'gpuscope', 'forecast', ...args])
  return { out: lines.join('\n'), err }
}

/** What `gpuscope forecast ...` printed on stdout. */
const cli = async (...args: string[]): Promise<string> => (await run(...args)).out

describe('GET /api/v1/forecast', () => {
  it('forecasts the next 24 h of Helios demand hour by hour with P5..P95, choosing a model that beats seasonal naive', async () => {
    const body = await get('/api/v1/forecast?series=cluster=helios-earth&horizon=24h')
    expect(body.status).toBe('success')
    const d = body.data
    expect(d.series).toBe('cluster=helios-earth')
    expect(d.originTs).toBe('2026-07-01T00:00:00.000Z')
    expect(d.points).toHaveLength(24)
    expect(d.points[0].ts).toBe('2026-07-01T00:00:00.000Z')
    expect(d.quantileProbs).toEqual([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
    expect(d.choice.naive).toBe(false)
    expect(d.choice.score.smapeRatio).toBeLessThan(d.choice.bar.smapeRatio)
    expect(d.backtest.residuals).toBeUndefined()
  })

  it('answers CSV with one row per hour and a column per quantile', async () => {
    const csv: string = await get('/api/v1/forecast?series=cluster=helios-earth&horizon=24h&format=csv')
    const lines = csv.trim().split('\n')
    expect(lines[0]).toBe('ts,pointGpus,p5Gpus,p10Gpus,p25Gpus,p50Gpus,p75Gpus,p90Gpus,p95Gpus')
    expect(lines).toHaveLength(25)
  })

  const FORMS = 'a horizon is a duration of whole hours (24h, 7d, 13w) or a quarter to forecast through the end of (2026-Q4), at most 730 d (2 years, 17520 h) ahead'
  it.each([
    { name: 'an unknown cluster is 404', path: '/api/v1/forecast?series=cluster=nope', status: 404, type: 'not_found' },
    { name: 'a bad horizon is 400', path: '/api/v1/forecast?series=fleet&horizon=soon', status: 400, type: 'bad_input', message: `bad horizon 'soon': ${FORMS}` },
    { name: 'an unknown parameter is 400', path: '/api/v1/forecast?cluster=x', status: 400, type: 'bad_input' },
    { name: 'a horizon past 2 years is 400 naming the maximum', path: '/api/v1/forecast?series=fleet&horizon=100000d', status: 400, type: 'bad_input', message: "bad horizon '100000d': 100000 d ahead is more than the maximum, 730 d (2 years, 17520 h)" },
    { name: 'quarter 5 is 400 naming what a horizon accepts', path: '/api/v1/forecast?series=fleet&horizon=2026-Q5', status: 400, type: 'bad_input', message: `bad horizon '2026-Q5': ${FORMS}` },
    { name: 'a backtest horizon past 2 years is 400', path: '/api/v1/forecast/backtest?series=fleet&horizon=100000d', status: 400, type: 'bad_input', message: "bad horizon '100000d': 100000 d ahead is more than the maximum, 730 d (2 years, 17520 h)" },
    { name: 'a plan through a quarter past 2 years is 400', path: '/api/v1/capacity-plan?horizon=2030-Q4', status: 400, type: 'bad_input', message: "bad horizon '2030-Q4': 1645 d ahead is more than the maximum, 730 d (2 years, 17520 h)" },
  ])('$name', async ({ path, status, type, message }) => {
    const body = await get(path, status)
    expect(body.error.type).toBe(type)
    if (message !== undefined) expect(body.error.message).toBe(message)
  })
})

describe('GET /api/v1/forecast/backtest', () => {
  it('backtests at 24 h and 7 d and skips 28 d on 31 days of history, with the reason', async () => {
    const body = await get('/api/v1/forecast/backtest?series=cluster=helios-earth')
    const outcomes = body.data.outcomes
    expect(outcomes.map((o: any) => o.horizonHours)).toEqual([24, 168, 672])
    const day = outcomes[0].backtest.scores.find((s: any) => s.modelId === 'snaive24')
    expect(Math.round(day.smapeRatio * 1000) / 10).toBe(11.3)
    expect(outcomes[2].skipped).toBe('needs 35 d of history (7 origins 24 h apart), the series has 31 d')
  })
})

describe('GET /api/v1/capacity-plan', () => {
  it('plans a quarter for Helios with the config fallback prices while the prices table is empty, and says so', async () => {
    const body = await get('/api/v1/capacity-plan?cluster=helios-earth')
    const plan = body.data
    expect(plan.horizonHours).toBe(13 * 168)
    expect(plan.capacityGpus).toBe(856)
    expect(plan.burst.prices.fallback).toBe(true)
    expect(plan.burst.prices.spot).toEqual({ usdPerGpuHour: 0.85, source: 'config fallback (forecast.burst.fallbackSpotUsdPerGpuHour)', from: 'config-fallback' })
    // A placeholder price is a warning, not only a note.
    expect(body.warnings).toContain('burst costs use placeholder prices (spot $0.85/GPU-h from config fallback (forecast.burst.fallbackSpotUsdPerGpuHour), on-demand $4.10/GPU-h from config fallback ' +
      '(forecast.burst.fallbackOnDemandUsdPerGpuHour)): no burst policy target and no cloud price in the prices table for spot or on-demand; set forecast.burst.fallback*, or collect cloud prices')
    expect(plan.burst.p90.spotCostUsd).toBeCloseTo(plan.burst.p90.gpuHours * 0.85, 6)
    expect(plan.buy.capacityNeededGpus).toBe(Math.ceil(plan.peak.p90Gpus / 0.85 - 1e-9))
    expect(plan.buy.gpus).toBe(Math.max(0, plan.buy.capacityNeededGpus - 856))
    // Both burst figures: above capacity (what the burst policy bursts) and above 85% of it (like for like with buying).
    expect(plan.burst.aboveTarget.thresholdGpus).toBeCloseTo(0.85 * 856, 9)
    expect(plan.burst.aboveTarget.p90.gpuHours).toBeGreaterThan(plan.burst.p90.gpuHours)
    expect(plan.burst.aboveTarget.p90.spotCostUsd).toBeCloseTo(plan.burst.aboveTarget.p90.gpuHours * 0.85, 6)
    expect(plan.months.map((m: any) => m.month)).toEqual(['2026-05', '2026-06', '2026-07', '2026-08', '2026-09'])
    const june = plan.months[1]
    expect(june.actualHours).toBe(720)
    expect(june.utilRatio).toBeNull()
  })

  it('says which figures rest on intervals widened past the longest backtest (7 d on 31 days), with the buy figure within it and the P50 trend', async () => {
    const plan = (await get('/api/v1/capacity-plan?cluster=helios-earth&horizon=13w')).data
    expect(plan.intervals).toEqual({ backtestHorizonHours: 168, widenedFromMs: END + 168 * HOUR })
    expect(plan.startsNow).toBe(true)
    expect(plan.buy.extrapolated).toBe(plan.peak.p90AtMs >= END + 168 * HOUR)
    expect(plan.buy.withinBacktest.throughMs).toBe(END + 168 * HOUR)
    expect(plan.buy.withinBacktest.gpus).toBeLessThanOrEqual(plan.buy.gpus)
    expect(plan.exceeds.p90.hoursAboveWithinBacktest).toBeLessThanOrEqual(plan.exceeds.p90.hoursAbove)
    expect(plan.p50Trend.windowHours).toBe(168)
    expect(plan.p50Trend.firstRatio).toBeCloseTo(plan.p50Trend.firstGpus / 856, 9)
    expect(plan.burst.p90.extrapolatedGpuHours).toBeLessThanOrEqual(plan.burst.p90.gpuHours)
    expect(plan.burst.policyCap).toMatchObject({ gpus: null, why: 'not capped: no burst policy in alerts.burst.pools covers cluster=helios-earth' })
    expect(plan.notes.some((n: string) => n.startsWith(`from ${new Date(END + 168 * HOUR).toISOString().slice(0, 10)} on (past the longest backtest, 7 d)`))).toBe(true)
  })

  it('prices bursting from the prices table when it has spot and on-demand rows, cheapest per GPU-hour, never at an on-prem rate', async () => {
    const at = END - 30 * 24 * HOUR
    await ts.writers.sinks.prices.write([
      // The static prices collector's on-prem row: $1.20 a V100-hour is what the fleet costs, not what bursting costs.
      { provider: 'onprem', region: '', instanceType: 'V100', lifecycle: 'on-demand', gpus: 1, usdPerHour: 1.2, effectiveFromMs: at },
      { provider: 'aws', region: 'us-east-1', instanceType: 'p4d.24xlarge', lifecycle: 'on-demand', gpus: 8, usdPerHour: 32.7726, effectiveFromMs: at },
      { provider: 'aws', region: 'us-east-1', instanceType: 'p4d.24xlarge', lifecycle: 'spot', gpus: 8, usdPerHour: 6.7915, effectiveFromMs: at },
      { provider: 'aws', region: 'us-east-1', instanceType: 'p5.48xlarge', lifecycle: 'on-demand', gpus: 8, usdPerHour: 98.32, effectiveFromMs: at },
    ])
    await ts.writers.flush()
    const plan = (await get('/api/v1/capacity-plan?cluster=helios-earth&horizon=4w')).data
    expect(plan.burst.prices.fallback).toBe(false)
    expect(plan.burst.prices.onDemand.usdPerGpuHour).toBeCloseTo(32.7726 / 8, 9)
    expect(plan.burst.prices.onDemand.source).toBe('prices table: aws us-east-1 p4d.24xlarge on-demand')
    expect(plan.burst.prices.spot.usdPerGpuHour).toBeCloseTo(6.7915 / 8, 9)
    expect(plan.burst.prices.onPremProviders).toEqual(['', 'onprem'])
  })

  it('has no team parameter: capacity belongs to nodes', async () => {
    const body = await get('/api/v1/capacity-plan?cluster=helios-earth&team=vision', 400)
    expect(body.error.message).toBe("bad query: unknown parameter(s) 'team'")
  })
})

describe('gpuscope forecast (CLI)', () => {
  it('backtest prints a table per horizon and the choice, naming the baseline', async () => {
    const out = await cli('backtest', '--series', 'cluster=helios-earth', '--horizon', '24h')
    expect(out).toMatch(/^backtest of cluster=helios-earth: 31 d of hourly demand from 2026-05-31T00:00Z/)
    expect(out).toMatch(/24 h\s+snaive24\s+11\.33\s+1\.000\s+75\.9/)
    expect(out).toContain('24 h: mean of seasonal naive (24 h) and Holt-Winters damped (daily + weekly) beats seasonal naive (24 h)')
  })

  it('plan prints the dates, the GPUs to buy and the burst alternative with its price source', async () => {
    const out = await cli('plan', '--series', 'cluster=helios-earth', '--horizon', '2026-Q3')
    expect(out).toContain('Capacity plan for cluster=helios-earth, 2026-07-01 to 2026-10-01 (92 d)')
    expect(out).toMatch(/P90 demand (first exceeds capacity on \d{4}-\d\d-\d\d|stays within capacity)/)
    expect(out).toMatch(/Buy: (no GPUs|\d+ GPUs)/)
    expect(out).toContain('Burst prices: spot $0.85/GPU-h from prices table: aws us-east-1 p4d.24xlarge spot; on-demand $4.10/GPU-h from prices table: aws us-east-1 p4d.24xlarge on-demand.')
    expect(out).toMatch(/\nP50 demand averages [\d,.]+ GPUs \(\d+\.\d% of capacity\) over the first 7 d and [\d,.]+ GPUs \(\d+\.\d%\) over the last 7 d\./)
    expect(out).toMatch(/at most [\d,.]+ at P90 \(\$[\d,]+ spot, \$[\d,]+ on-demand; every hour at its own P90 at once, an upper bound\)/)
    expect(out).toMatch(/\nBurst policy \(it bursts only when on-prem GPUs are fully allocated\), with nothing bought: demand above capacity, [\d,.]+ GPU-hours at P50/)
  })

  it('plan refuses a team series, naming why', async () => {
    const teams = (await cli('list')).split('\n').filter((s) => s.startsWith('team='))
    await expect(cli('plan', '--series', teams[0]!)).rejects.toThrow(/a capacity plan needs capacity, which belongs to nodes: plan a cluster, pool or GPU model, not team/)
  })

  it('batch forecasts the fleet and every listed series on worker threads, one row each, and reports progress', async () => {
    const progress: string[] = []
    const lines: string[] = []
    const program = new Command().exitOverride()
    const loaded = { config: ts.config as Config, file: undefined, envVars: [] }
    registerForecastCommands(program, () => loaded, { openStore: async () => ({ ...ts.store, close: async () => {} }), out: (t) => lines.push(t), err: (t) => progress.push(t), now: () => END })
    await program.parseAsync(['node', 'gpuscope', 'forecast', 'batch', '--workers', '2', '--format', 'json'])
    const rows = JSON.parse(lines.join('\n')) as Array<{ label: string; forecast?: { model: { id: string; label: string }; horizonHours: number }; error?: string }>
    const listed = (await cli('list')).split('\n')
    expect(rows.map((r) => r.label)).toEqual(['fleet', ...listed])
    const cluster = rows.find((r) => r.label === 'cluster=helios-earth')!
    expect(cluster.forecast?.horizonHours).toBe(13 * 168)
    // The same model `forecast show` chooses for that series.
    expect(await cli('show', '--series', 'cluster=helios-earth', '--horizon', '13w')).toContain(`forecast of cluster=helios-earth from 2026-07-01T00:00Z, 91 d: ${cluster.forecast!.model.label}\n`)
    // The store's warnings on a series come first, then the progress lines.
    expect(progress.filter((l) => l.startsWith('warning: '))).toContain('warning: gpuModel=Tesla-V100-SXM2-32GB: pods never bound to a node have no pool or GPU model: their pending demand is in the cluster and team series, not in this one')
    expect(progress.find((l) => l.startsWith('forecast batch:'))).toBe(`forecast batch: ${rows.length} series, horizon 13w, 2 worker(s)`)
    expect(progress.at(-1)).toMatch(new RegExp(`^forecast batch: ${rows.length}/${rows.length} series \\(\\d+\\.\\d s\\)$`))
  }, 120_000)

  it('batch prints a table ranked by P90 peak, and refuses a bad --workers', async () => {
    const out = await cli('batch', '--series', 'cluster=helios-earth', 'fleet', '--horizon', '7d', '--workers', '1')
    const [header, rule, ...rows] = out.split('\n')
    expect(header).toMatch(/^series\s+history\s+model\s+decidedBy\s+smapePct\s+naiveSmapePct\s+mase\s+coverage80Pct\s+peakP50Gpus\s+peakP90Gpus\s+note$/)
    expect(rule).toMatch(/^-+/)
    expect(rows).toHaveLength(3)
    expect(rows[2]).toBe('2 series forecast; P50/P90 peak = highest hourly quantile over the horizon')
    await expect(cli('batch', '--workers', 'two')).rejects.toThrow("bad --workers 'two': expected a whole number from 1 to 64")
    await expect(cli('batch', '--workers', '0')).rejects.toThrow("bad --workers '0': expected a whole number from 1 to 64")
    await expect(cli('batch', '--horizon', 'soon')).rejects.toThrow("bad horizon 'soon': a horizon is a duration of whole hours (24h, 7d, 13w) or a quarter to forecast through the end of (2026-Q4), at most 730 d (2 years, 17520 h) ahead")
  }, 120_000)

  describe('--format json and csv on a pool series: stdout is only the data, the warning goes to stderr', () => {
    const WARNING = 'warning: pods never bound to a node have no pool or GPU model: their pending demand is in the cluster and team series, not in this one'
    const pool = async () => (await cli('list')).split('\n').find((s) => s.startsWith('pool='))!

    it('plan --format json', async () => {
      const { out, err } = await run('plan', '--series', await pool(), '--horizon', '7d', '--format', 'json')
      expect(JSON.parse(out)).toMatchObject({ horizonHours: 168 })
      expect(err).toEqual([WARNING])
    })

    it('plan --format csv is the monthly trend, unrounded, as the API answers it', async () => {
      const { out, err } = await run('plan', '--series', await pool(), '--horizon', '7d', '--format', 'csv')
      const [header, ...rows] = out.split('\n')
      expect(header).toBe('month,actualHours,forecastHours,capacityGpus,allocatedGpus,demandGpus,p50DemandGpus,p90DemandGpus,allocationRatio,forecastDemandRatio,utilRatio,utilMetric')
      expect(rows.map((r) => r.split(',')[0])).toEqual(['2026-05', '2026-06', '2026-07'])
      expect(err).toEqual([WARNING])
    })

    it('show --format csv is one row per hour with a column per quantile', async () => {
      const { out, err } = await run('show', '--series', await pool(), '--horizon', '24h', '--models', 'snaive168', '--format', 'csv')
      const [header, ...rows] = out.split('\n')
      expect(header).toBe('ts,pointGpus,p5Gpus,p10Gpus,p25Gpus,p50Gpus,p75Gpus,p90Gpus,p95Gpus')
      expect(rows).toHaveLength(24)
      expect(rows[0]).toMatch(/^2026-07-01T00:00:00\.000Z(,\d+(\.\d+)?){8}$/)
      expect(err).toEqual([WARNING])
    })

    it('backtest --format csv', async () => {
      const { out, err } = await run('backtest', '--series', await pool(), '--horizon', '24h', '--models', 'snaive168', '--format', 'csv')
      expect(out.split('\n')[0]).toBe('horizon,model,smapePct,mase,maeGpus,coverage80Pct,coverage50Pct,origins,chosen,note')
      expect(err).toEqual([WARNING])
    })
  })

  it('list names the series the store can forecast', async () => {
    const out = await cli('list')
    expect(out.split('\n')).toContain('cluster=helios-earth')
  })
})
