import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { sharedFixtures } from '../helpers/fixtures'

/**
 * A loopback EC2 endpoint speaking the EC2 Query protocol the AWS SDK uses:
 * POST / with a form-encoded body (`Action=...&Version=2016-11-15&...`, lists
 * flattened as `Filter.1.Value.1`), answered with XML whose element names are
 * the lower-camel member names, lists as `<item>` children, and the few
 * irregular names below. Errors use EC2's envelope
 * `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
 * It serves DescribeInstances, DescribeInstanceTypes and DescribeSpotPriceHistory
 * with server-side paging, and can fail calls on demand.
 */

/** JSON as the AWS CLI prints it (PascalCase members), the shape of the shared fixtures. */
export type AwsJson = Record<string, unknown>

/** moto's DescribeInstanceTypes entries for the 70 GPU types (shared/fixtures/aws-ec2). */
export function gpuInstanceTypeFixtures(): AwsJson[] {
  const file = sharedFixtures('aws-ec2', 'describe-instance-types_gpu_from-moto.json')
  return (JSON.parse(readFileSync(file, 'utf8')) as { InstanceTypes: AwsJson[] }).InstanceTypes
}

/**
 * Members whose XML name is not their lower-camel name, read from the SDK's
 * own EC2 schema (`xmlName` traits of DescribeInstances/DescribeInstanceTypes/
 * DescribeSpotPriceHistory output members). Lists of these shapes are `...Set`.
 */
const WIRE_NAMES: Readonly<Record<string, string>> = {
  InstanceTypes: 'instanceTypeSet',
  Workloads: 'workloadSet',
  EbsCards: 'ebsCardSet',
  InterfaceTypes: 'interfaceTypeSet',
  SpotPriceHistory: 'spotPriceHistorySet',
  Reservations: 'reservationSet',
  Instances: 'instancesSet',
  Groups: 'groupSet',
  SecurityGroups: 'groupSet',
  Tags: 'tagSet',
  State: 'instanceState',
  PublicDnsName: 'dnsName',
  PublicIpAddress: 'ipAddress',
  StateTransitionReason: 'reason',
  BlockDeviceMappings: 'blockDeviceMapping',
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }
const escapeXml = (s: string) => s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] as string)

/** One AWS JSON member as EC2 XML. */
export function toEc2Xml(member: string, value: unknown): string {
  const tag = WIRE_NAMES[member] ?? member.charAt(0).toLowerCase() + member.slice(1)
  return element(tag, value)
}

function element(tag: string, value: unknown): string {
  if (value === undefined || value === null) return ''
  if (Array.isArray(value)) return `<${tag}>${value.map((v) => element('item', v)).join('')}</${tag}>`
  if (value instanceof Date) return `<${tag}>${value.toISOString()}</${tag}>`
  if (typeof value === 'object') return `<${tag}>${Object.entries(value).map(([k, v]) => toEc2Xml(k, v)).join('')}</${tag}>`
  return `<${tag}>${escapeXml(String(value))}</${tag}>`
}

/** An injected failure: the HTTP status and EC2 error code; `{accessKeyId}` in the message is replaced by the caller's key id. */
export interface Ec2Failure {
  status: number
  code: string
  message: string
}

/** A call the fake answered (or failed). */
export interface Ec2Call {
  action: string
  params: Record<string, string>
  /** The SigV4 credential scope the SDK signed with: `<key id>/<date>/<region>/ec2/aws4_request`. */
  credential: string
}

/** What the fake serves; tests may change it between polls. */
export interface Ec2Data {
  instanceTypes: AwsJson[]
  /** Instances in DescribeInstances' JSON shape; each is its own reservation unless `ReservationId` groups them. */
  instances: AwsJson[]
  spotPriceHistory: AwsJson[]
  /** Server-side page size per action (forces the client to follow NextToken). */
  pageSize: Partial<Record<string, number>>
}

/** A running fake EC2 endpoint. */
export interface FakeEc2 {
  url: string
  data: Ec2Data
  calls: Ec2Call[]
  /** Fails the next `times` calls of `action` with `failure`. */
  failNext(action: string, times: number, failure: Ec2Failure): void
  close(): Promise<void>
}

type Handler = (params: Record<string, string>, data: Ec2Data) => string

/** `Prefix.1`, `Prefix.2`, ... values of a flattened list parameter. */
function listParam(params: Record<string, string>, prefix: string): string[] {
  const out: string[] = []
  for (let i = 1; params[`${prefix}.${i}`] !== undefined; i++) out.push(params[`${prefix}.${i}`] as string)
  return out
}

/** One page of `items` from the NextToken offset, with the next token when more remain. */
function page<T>(items: readonly T[], params: Record<string, string>, action: string, data: Ec2Data): { items: T[]; next: string } {
  const start = Number(params.NextToken ?? '0')
  if (!Number.isInteger(start) || start < 0) throw failure(400, 'InvalidParameterValue', `Invalid value '${params.NextToken}' for nextToken`)
  const asked = Number(params.MaxResults ?? '1000')
  const size = Math.max(1, Math.min(asked, data.pageSize[action] ?? asked))
  const end = start + size
  return { items: items.slice(start, end), next: end < items.length ? String(end) : '' }
}

function failure(status: number, code: string, message: string): Ec2Failure & Error {
  return Object.assign(new Error(message), { status, code })
}

function matchesFilters(instance: AwsJson, params: Record<string, string>): boolean {
  for (let i = 1; params[`Filter.${i}.Name`] !== undefined; i++) {
    const name = params[`Filter.${i}.Name`]
    const values = listParam(params, `Filter.${i}.Value`)
    const actual = name === 'instance-state-name' ? (instance.State as AwsJson | undefined)?.Name : name === 'instance-type' ? instance.InstanceType : undefined
    if (name !== 'instance-state-name' && name !== 'instance-type') throw failure(400, 'InvalidParameterValue', `The filter '${name}' is invalid`)
    if (!values.includes(String(actual))) return false
  }
  return true
}

const describeInstances: Handler = (params, data) => {
  const reservations = new Map<string, AwsJson[]>()
  for (const inst of data.instances.filter((i) => matchesFilters(i, params))) {
    const { ReservationId, ...rest } = inst
    const id = typeof ReservationId === 'string' ? ReservationId : `r-${String(inst.InstanceId).slice(2)}`
    reservations.set(id, [...(reservations.get(id) ?? []), rest])
  }
  const all = [...reservations].map(([id, instances]) => ({ ReservationId: id, OwnerId: '123456789012', Groups: [], Instances: instances }))
  const { items, next } = page(all, params, 'DescribeInstances', data)
  return toEc2Xml('Reservations', items) + (next ? toEc2Xml('NextToken', next) : '')
}

const describeInstanceTypes: Handler = (params, data) => {
  const wanted = listParam(params, 'InstanceType')
  const types = wanted.length > 0 ? data.instanceTypes.filter((t) => wanted.includes(String(t.InstanceType))) : data.instanceTypes
  const { items, next } = page(types, params, 'DescribeInstanceTypes', data)
  return toEc2Xml('InstanceTypes', items) + (next ? toEc2Xml('NextToken', next) : '')
}

/**
 * Per (type, zone, product): the last price change at or before StartTime,
 * then every change up to EndTime, newest first (as EC2 documents it).
 */
const describeSpotPriceHistory: Handler = (params, data) => {
  const types = listParam(params, 'InstanceType')
  const products = listParam(params, 'ProductDescription')
  const startMs = params.StartTime ? Date.parse(params.StartTime) : -Infinity
  const endMs = params.EndTime ? Date.parse(params.EndTime) : Infinity
  const series = new Map<string, AwsJson[]>()
  for (const h of data.spotPriceHistory) {
    if (types.length > 0 && !types.includes(String(h.InstanceType))) continue
    if (products.length > 0 && !products.includes(String(h.ProductDescription))) continue
    const key = `${String(h.InstanceType)}|${String(h.AvailabilityZone)}|${String(h.ProductDescription)}`
    series.set(key, [...(series.get(key) ?? []), h])
  }
  const out: AwsJson[] = []
  for (const records of series.values()) {
    const sorted = [...records].sort((a, b) => Date.parse(String(b.Timestamp)) - Date.parse(String(a.Timestamp)))
    const inRange = sorted.filter((r) => Date.parse(String(r.Timestamp)) > startMs && Date.parse(String(r.Timestamp)) <= endMs)
    const before = sorted.find((r) => Date.parse(String(r.Timestamp)) <= startMs)
    out.push(...inRange, ...(before ? [before] : []))
  }
  const { items, next } = page(out, params, 'DescribeSpotPriceHistory', data)
  return toEc2Xml('SpotPriceHistory', items) + toEc2Xml('NextToken', next)
}

const HANDLERS: Readonly<Record<string, Handler>> = {
  DescribeInstances: describeInstances,
  DescribeInstanceTypes: describeInstanceTypes,
  DescribeSpotPriceHistory: describeSpotPriceHistory,
}

function credentialOf(req: IncomingMessage): string {
  return /Credential=([^,\s]+)/.exec(req.headers.authorization ?? '')?.[1] ?? ''
}

function sendError(res: ServerResponse, f: Ec2Failure): void {
  res.writeHead(f.status, { 'content-type': 'text/xml;charset=UTF-8' })
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(f.code)}</Code><Message>${escapeXml(f.message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`)
}

/** Starts a fake EC2 endpoint on 127.0.0.1 with a free port. */
export async function startFakeEc2(initial: Partial<Ec2Data> = {}): Promise<FakeEc2> {
  const data: Ec2Data = { instanceTypes: [], instances: [], spotPriceHistory: [], pageSize: {}, ...initial }
  const calls: Ec2Call[] = []
  const failures: Array<{ action: string; left: number; failure: Ec2Failure }> = []
  const sockets = new Set<Socket>()

  function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
    const params = Object.fromEntries(new URLSearchParams(body))
    const action = params.Action ?? ''
    const credential = credentialOf(req)
    calls.push({ action, params, credential })
    if (req.method !== 'POST' || req.url !== '/') return sendError(res, { status: 400, code: 'InvalidRequest', message: 'POST / expected' })
    const injected = failures.find((f) => f.action === action && f.left > 0)
    if (injected) {
      injected.left--
      return sendError(res, { ...injected.failure, message: injected.failure.message.replaceAll('{accessKeyId}', credential.split('/')[0] ?? '') })
    }
    const handler = HANDLERS[action]
    if (!handler) return sendError(res, { status: 400, code: 'InvalidAction', message: `The action ${action} is not valid for this web service.` })
    try {
      const inner = handler(params, data)
      res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' })
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${randomUUID()}</requestId>${inner}</${action}Response>`)
    } catch (err) {
      const f = err as Partial<Ec2Failure> & Error
      sendError(res, { status: f.status ?? 500, code: f.code ?? 'InternalError', message: f.message })
    }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => answer(req, res, Buffer.concat(chunks).toString('utf8')))
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    data,
    calls,
    failNext: (action, times, failure) => void failures.push({ action, left: times, failure }),
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
