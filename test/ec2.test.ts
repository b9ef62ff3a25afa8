import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EC2Client, paginateDescribeInstanceTypes } from '@aws-sdk/client-ec2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { awsSchema, staticPriceSchema } from '../config/cloud'
import { defaultConfig } from '../config/schema'
import { UpstreamError } from '../core/errors'
import type { Logger } from '../core/ports'
import { awsSources } from '../collector/cloud'
import { ALWAYS_MS } from '../collector/cloud/prices'
import { CollectorHealth } from '../collector/health'
import { CollectorScheduler } from '../collector/scheduler'
import type { CollectorDeps, PollSource } from '../collector/source'
import { createStore, type Store } from '../store/client'
import { migrate } from '../store/migrate'
import { createWriters, type StoreWriters } from '../store/sinks'
import { gpuInstanceTypeFixtures, startFakeEc2, type AwsJson, type FakeEc2 } from './fakes/ec2'

// The official SDK against a loopback EC2 endpoint serving moto's real instance types, into embedded chDB.
const dir = mkdtempSync(join(tmpdir(), 'gpuscope-ec2-'))
const storeConfig = { ...defaultConfig().store, path: dir, writer: { ...defaultConfig().store.writer, flushIntervalMs: 20 } }
const KEY_ID = 'AKIDGPUSCOPETESTKEY1'
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYgpuscopeFAKE'
const NOW = Math.floor(Date.now() / 1000) * 1000
const HOUR = 3_600_000
const logs: string[] = []
const capture: Logger = {
  info: (o, m) => void logs.push(JSON.stringify([o, m])),
  warn: (o, m) => void logs.push(JSON.stringify([o, m])),
  error: (o, m) => void logs.push(JSON.stringify([o, m])),
  debug: (o, m) => void logs.push(JSON.stringify([o, m])),
}

let store: Store
let writers: StoreWriters
let fake: FakeEc2
let deps: CollectorDeps
const gpuTypes = gpuInstanceTypeFixtures()
const withoutB200 = gpuTypes.filter((t) => t.InstanceType !== 'p6-b200.48xlarge')
// A CPU type, so a non-GPU instance has a known type (moto's fixture holds GPU types only).
const m5 = { InstanceType: 'm5.xlarge', CurrentGeneration: true, VCpuInfo: { DefaultVCpus: 4 }, MemoryInfo: { SizeInMiB: 16384 } }

const running = { Code: 16, Name: 'running' }
const instance = (id: string, type: string, extra: AwsJson = {}): AwsJson => ({
  InstanceId: id, InstanceType: type, State: running, Placement: { AvailabilityZone: 'us-east-1a' },
  PrivateDnsName: `ip-10-0-0-${id.length}.ec2.internal`, LaunchTime: new Date(NOW - 5 * HOUR), Tags: [], ...extra,
})
const tags = (cluster: string, pool: string) => [{ Key: 'gpuscope.io/cluster', Value: cluster }, { Key: 'gpuscope.io/pool', Value: pool }, { Key: 'Name', Value: 'gpu-node' }]
const INSTANCES: AwsJson[] = [
  instance('i-0a1b2c3d4e5f60001', 'p5.48xlarge', { InstanceLifecycle: 'spot', Tags: tags('burst-east', 'h100-spot'), PrivateDnsName: 'ip-10-0-1-10.ec2.internal' }),
  instance('i-0a1b2c3d4e5f60002', 'p4d.24xlarge', { Tags: tags('burst-east', 'a100'), PrivateDnsName: 'ip-10-0-1-11.ec2.internal', Placement: { AvailabilityZone: 'us-east-1b' } }),
  instance('i-0a1b2c3d4e5f60003', 'g6f.large', { InstanceLifecycle: 'spot', PrivateDnsName: '' }),
  instance('i-0a1b2c3d4e5f60004', 'p5.4xlarge', { InstanceLifecycle: 'capacity-block', Tags: tags('burst-east', 'h100-block'), PrivateDnsName: 'ip-10-0-1-12.ec2.internal' }),
  instance('i-0a1b2c3d4e5f60005', 'm5.xlarge', { Tags: tags('burst-east', 'cpu') }),
  instance('i-0a1b2c3d4e5f60006', 'g5.xlarge', { State: { Code: 80, Name: 'stopped' } }),
]

// Current spot prices per us-east-1 zone from the SkyPilot catalog rows in shared/fixtures/aws-ec2 (zone ids use1-az1..az6
// given zone names here; that mapping differs per account), in the documented DescribeSpotPriceHistory shape.
const P5_SPOT = ['30.326000', '27.694800', '20.993400', '29.351100', '25.877400', '25.302600']
const P4D_SPOT: Record<string, string> = { a: '6.791500', b: '9.610700', f: '5.093300' }
const spot = (type: string, zone: string, price: string, atMs: number, product = 'Linux/UNIX'): AwsJson =>
  ({ AvailabilityZone: `us-east-1${zone}`, InstanceType: type, ProductDescription: product, SpotPrice: price, Timestamp: new Date(atMs).toISOString() })
const SPOT_HISTORY: AwsJson[] = [
  ...P5_SPOT.map((p, i) => spot('p5.48xlarge', 'abcdef'[i] as string, p, NOW - 2 * HOUR + i * 60_000)),
  ...P5_SPOT.map((_, i) => spot('p5.48xlarge', 'abcdef'[i] as string, '99.000000', NOW - 30 * HOUR)), // superseded
  spot('p5.48xlarge', 'a', '61.000000', NOW - HOUR, 'Windows'), // another product
  ...Object.entries(P4D_SPOT).map(([z, p]) => spot('p4d.24xlarge', z, p, NOW - 3 * HOUR)),
]

const STATIC_PRICES = [
  staticPriceSchema.parse({ provider: 'aws', region: 'us-east-1', instanceType: 'p5.48xlarge', gpus: 8, usdPerHour: 55.04, effectiveFrom: '2025-06-01T00:00:00Z' }),
  staticPriceSchema.parse({ provider: 'onprem', instanceType: 'H100', usdPerHour: 2.1 }),
]

function sources(over: object = {}): { region: PollSource; statics: PollSource } {
  const config = awsSchema.parse({ enabled: true, regions: ['us-east-1'], endpoint: fake.url, accessKeyId: KEY_ID, secretAccessKey: SECRET, requestTimeoutMs: 5_000, ...over })
  const [region, statics] = awsSources(config, STATIC_PRICES, deps) as PollSource[]
  if (!region || !statics) throw new Error('expected aws/us-east-1 and prices/static')
  return { region, statics }
}

const callsSince = (n: number, action?: string) => fake.calls.slice(n).filter((c) => action === undefined || c.action === action)
const poll = (s: PollSource, atMs: number) => s.poll(atMs, new AbortController().signal)

async function instancesAt(atMs: number): Promise<Record<string, unknown>[]> {
  return store.query(
    `SELECT instance_id, instance_type, lifecycle, state, gpus, gpu_model, cluster, node FROM cloud_instances
     WHERE toUnixTimestamp64Milli(ts) = {t:Int64} ORDER BY instance_id`,
    { t: atMs },
  )
}

async function prices(): Promise<Record<string, unknown>[]> {
  return store.query(
    `SELECT provider, region, instance_type, lifecycle, gpus, usd_per_hour, toUnixTimestamp64Milli(effective_from_ts) AS from_ms
     FROM prices FINAL ORDER BY provider, region, instance_type, lifecycle`,
  )
}

let region: PollSource
let statics: PollSource

beforeAll(async () => {
  store = await createStore(storeConfig)
  await migrate(store, storeConfig)
  writers = createWriters(store, storeConfig.writer, capture)
  fake = await startFakeEc2({
    instanceTypes: [...withoutB200, m5],
    instances: INSTANCES,
    spotPriceHistory: SPOT_HISTORY,
    pageSize: { DescribeInstances: 2, DescribeInstanceTypes: 25, DescribeSpotPriceHistory: 4 },
  })
  deps = { sinks: writers.sinks, query: store.query, logger: capture, now: () => NOW }
  ;({ region, statics } = sources())
})

afterAll(async () => {
  await fake?.close()
  await writers?.close()
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('AWS EC2 source against a loopback EC2 endpoint, into chDB', () => {
  it("reads back, through the SDK, exactly moto's DescribeInstanceTypes entries for every GPU type the fake serves", async () => {
    const client = new EC2Client({ region: 'us-east-1', endpoint: fake.url, credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET } })
    const listed: unknown[] = []
    for await (const p of paginateDescribeInstanceTypes({ client }, {})) listed.push(...(p.InstanceTypes ?? []))
    expect(listed).toEqual([...withoutB200, m5])
    client.destroy()
  })

  it('stores running GPU instances with GPU counts and models from the instance types, lifecycles, and cluster tags', async () => {
    const before = fake.calls.length
    const result = await poll(region, NOW)
    expect(result).toEqual({ rows: 4 + 4 })
    expect(await instancesAt(NOW)).toEqual([
      { instance_id: 'i-0a1b2c3d4e5f60001', instance_type: 'p5.48xlarge', lifecycle: 'spot', state: 'running', gpus: 8, gpu_model: 'NVIDIA H100', cluster: 'burst-east', node: 'ip-10-0-1-10.ec2.internal' },
      { instance_id: 'i-0a1b2c3d4e5f60002', instance_type: 'p4d.24xlarge', lifecycle: 'on-demand', state: 'running', gpus: 8, gpu_model: 'NVIDIA A100', cluster: 'burst-east', node: 'ip-10-0-1-11.ec2.internal' },
      { instance_id: 'i-0a1b2c3d4e5f60003', instance_type: 'g6f.large', lifecycle: 'spot', state: 'running', gpus: 0.125, gpu_model: 'NVIDIA L4', cluster: '', node: 'i-0a1b2c3d4e5f60003' },
      { instance_id: 'i-0a1b2c3d4e5f60004', instance_type: 'p5.4xlarge', lifecycle: 'on-demand', state: 'running', gpus: 1, gpu_model: 'NVIDIA H100', cluster: 'burst-east', node: 'ip-10-0-1-12.ec2.internal' },
    ])
    // Signed with the configured key, for the region, on the EC2 service.
    expect(callsSince(before).every((c) => c.credential.startsWith(`${KEY_ID}/`) && c.credential.endsWith('/us-east-1/ec2/aws4_request'))).toBe(true)
  })

  it('follows NextToken through every page of every call, and asks only for running instances', () => {
    const tokens = (action: string) => fake.calls.filter((c) => c.action === action).map((c) => c.params.NextToken)
    expect(tokens('DescribeInstances')).toEqual([undefined, '2', '4'])
    expect(tokens('DescribeInstanceTypes')).toEqual([undefined, '25', '50', undefined, '25', '50']) // the fidelity test's listing, then the poll's
    expect(tokens('DescribeSpotPriceHistory')).toEqual([undefined, '4', '8'])
    const first = fake.calls.find((c) => c.action === 'DescribeInstances')
    expect(first?.params).toMatchObject({ 'Filter.1.Name': 'instance-state-name', 'Filter.1.Value.1': 'running' })
    const spotCall = fake.calls.find((c) => c.action === 'DescribeSpotPriceHistory')
    expect(spotCall?.params).toMatchObject({ 'ProductDescription.1': 'Linux/UNIX', 'InstanceType.1': 'g4ad.16xlarge', StartTime: new Date(NOW).toISOString().replace('.000Z', 'Z'), EndTime: new Date(NOW).toISOString().replace('.000Z', 'Z') })
  })

  it('stores the current spot price per GPU type (mean over zones) and the built-in on-demand prices the config does not override', async () => {
    expect(await prices()).toEqual([
      { provider: 'aws', region: 'us-east-1', instance_type: 'p4d.24xlarge', lifecycle: 'on-demand', gpus: 8, usd_per_hour: 32.7726, from_ms: ALWAYS_MS },
      { provider: 'aws', region: 'us-east-1', instance_type: 'p4d.24xlarge', lifecycle: 'spot', gpus: 8, usd_per_hour: 7.165167, from_ms: NOW - 3 * HOUR },
      { provider: 'aws', region: 'us-east-1', instance_type: 'p5.48xlarge', lifecycle: 'spot', gpus: 8, usd_per_hour: 26.590883, from_ms: NOW - 2 * HOUR + 5 * 60_000 },
      { provider: 'aws', region: 'us-east-1', instance_type: 'p5en.48xlarge', lifecycle: 'on-demand', gpus: 8, usd_per_hour: 84.8, from_ms: ALWAYS_MS },
    ])
  })

  it('writes the configured static prices (on-prem $/GPU-hour, an AWS on-demand override) from prices/static', async () => {
    expect(await poll(statics, NOW)).toEqual({ rows: 2 })
    const rows = await prices()
    expect(rows).toContainEqual({ provider: 'onprem', region: '', instance_type: 'H100', lifecycle: 'on-demand', gpus: 1, usd_per_hour: 2.1, from_ms: ALWAYS_MS })
    expect(rows).toContainEqual({ provider: 'aws', region: 'us-east-1', instance_type: 'p5.48xlarge', lifecycle: 'on-demand', gpus: 8, usd_per_hour: 55.04, from_ms: Date.parse('2025-06-01T00:00:00Z') })
    // Writing the same table again keeps one row per price.
    await poll(statics, NOW + 1_000)
    expect(await prices()).toHaveLength(rows.length)
  })

  it('lists instance types once and serves later polls from the cache', async () => {
    const before = fake.calls.length
    await poll(region, NOW + 60_000)
    expect(callsSince(before, 'DescribeInstanceTypes')).toEqual([])
    expect(await instancesAt(NOW + 60_000)).toHaveLength(4)
  })

  it('lists instance types again when a running instance has a type the cache does not know', async () => {
    fake.data.instanceTypes.push(gpuTypes.find((t) => t.InstanceType === 'p6-b200.48xlarge') as AwsJson)
    fake.data.instances.push(instance('i-0a1b2c3d4e5f60007', 'p6-b200.48xlarge', { Tags: tags('burst-east', 'b200') }))
    const before = fake.calls.length
    await poll(region, NOW + 120_000)
    expect(callsSince(before, 'DescribeInstanceTypes')).toHaveLength(3)
    expect(await instancesAt(NOW + 120_000)).toContainEqual(
      { instance_id: 'i-0a1b2c3d4e5f60007', instance_type: 'p6-b200.48xlarge', lifecycle: 'on-demand', state: 'running', gpus: 8, gpu_model: 'NVIDIA B200', cluster: 'burst-east', node: 'ip-10-0-0-19.ec2.internal' },
    )
  })

  it('forces that listing only once for a type EC2 no longer lists, and stores no row for it (its GPUs are unknown)', async () => {
    fake.data.instances.push(instance('i-0a1b2c3d4e5f60008', 'p2.xlarge'))
    const before = fake.calls.length
    await poll(region, NOW + 130_000)
    expect(callsSince(before, 'DescribeInstanceTypes')).toHaveLength(3)
    const again = fake.calls.length
    await poll(region, NOW + 140_000)
    expect(callsSince(again, 'DescribeInstanceTypes')).toEqual([])
    expect((await instancesAt(NOW + 140_000)).map((r) => r.instance_type)).not.toContain('p2.xlarge')
    fake.data.instances.pop()
  })

  it('retries a throttled call (503 RequestLimitExceeded) through the SDK, then stores the poll', async () => {
    fake.failNext('DescribeInstances', 1, { status: 503, code: 'RequestLimitExceeded', message: 'Request limit exceeded.' })
    const before = fake.calls.length
    await poll(region, NOW + 180_000)
    expect(callsSince(before, 'DescribeInstances').map((c) => c.params.NextToken)).toEqual([undefined, undefined, '2', '4'])
    expect(await instancesAt(NOW + 180_000)).toHaveLength(5)
  })

  it('fails the poll with the AWS error code, status and attempts once the retries are used up', async () => {
    const { region: twoAttempts } = sources({ maxAttempts: 2 })
    fake.failNext('DescribeInstances', 2, { status: 503, code: 'RequestLimitExceeded', message: 'Request limit exceeded.' })
    const err = await poll(twoAttempts, NOW + 240_000).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UpstreamError)
    expect((err as Error).message).toBe('aws us-east-1: DescribeInstances failed: RequestLimitExceeded: Request limit exceeded., HTTP 503, 2 attempt(s)')
    expect(await instancesAt(NOW + 240_000)).toEqual([])
  })

  it('keeps the instances when spot prices fail, and names the failure in the warnings', async () => {
    fake.failNext('DescribeSpotPriceHistory', 1, { status: 403, code: 'UnauthorizedOperation', message: 'You are not authorized to perform this operation.' })
    const result = await poll(region, NOW + 300_000)
    expect(result.warnings).toEqual(['aws us-east-1: DescribeSpotPriceHistory failed: UnauthorizedOperation: You are not authorized to perform this operation., HTTP 403, 1 attempt(s)'])
    expect(await instancesAt(NOW + 300_000)).toHaveLength(5)
  })

  it('never lets the access key id or the secret key reach an error, a warning or a log line', async () => {
    const echo = 'AWS was not able to validate the provided access credentials (Credential={accessKeyId}/us-east-1/ec2, key ' + SECRET + ')'
    fake.failNext('DescribeInstances', 1, { status: 401, code: 'AuthFailure', message: echo })
    fake.failNext('DescribeSpotPriceHistory', 1, { status: 403, code: 'UnauthorizedOperation', message: echo })
    const health = new CollectorHealth(() => NOW)
    const scheduler = new CollectorScheduler([region], health, capture, () => NOW + 360_000)
    logs.length = 0
    await scheduler.runOnce('aws/us-east-1') // AuthFailure: the poll fails
    const [failed] = health.snapshot()
    await scheduler.runOnce('aws/us-east-1') // spot prices fail: a warning
    const seen = [...logs, failed?.lastError ?? ''].join('\n')
    expect(failed?.errors).toBe(1)
    expect(failed?.lastError).toMatch(/^aws us-east-1: DescribeInstances failed: AuthFailure: .*Credential=<redacted>\/us-east-1\/ec2, key <redacted>\), HTTP 401/)
    expect(logs.some((l) => l.includes('DescribeSpotPriceHistory failed: UnauthorizedOperation'))).toBe(true)
    expect(seen).not.toContain(KEY_ID)
    expect(seen).not.toContain(SECRET)
    // The echo really carried the key: the fake filled it in from the signed request.
    expect(fake.calls.at(-1)?.credential.startsWith(KEY_ID)).toBe(true)
  })

  it('builds only prices/static when AWS is disabled, and nothing without static prices', () => {
    const off = awsSchema.parse({})
    expect(awsSources(off, STATIC_PRICES, deps).map((s) => s.name)).toEqual(['prices/static'])
    expect(awsSources(off, [], deps)).toEqual([])
    expect(awsSources(awsSchema.parse({ enabled: true, regions: ['us-east-1', 'eu-west-1'] }), [], deps).map((s) => s.name)).toEqual(['aws/us-east-1', 'aws/eu-west-1'])
  })
})
