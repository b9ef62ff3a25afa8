import { describe, expect, it } from 'vitest'
import { awsSchema } from '../../config/cloud'
import { UpstreamError } from '../../core/errors'
import { awsError, awsSecrets, collectPages, MAX_PAGES, scrubSecrets } from './ec2Client'

const config = awsSchema.parse({ accessKeyId: 'AKIDGPUSCOPEUNIT0001', secretAccessKey: 'c2VjcmV0/key+value', sessionToken: 'FwoGZXIvYXdzEJr//token' })

describe('AWS errors', () => {
  it('scrubs the configured secrets and anything shaped like an access key id', () => {
    const text = 'key AKIDGPUSCOPEUNIT0001 secret c2VjcmV0/key+value token FwoGZXIvYXdzEJr//token chain key AKIAIOSFODNN7EXAMPLE'
    expect(scrubSecrets(text, awsSecrets(config))).toBe('key <redacted> secret <redacted> token <redacted> chain key <redacted>')
  })

  it('names the call, region, AWS code, HTTP status and attempts, and keeps no SDK object as the cause', () => {
    const sdkError = Object.assign(new Error('Request limit exceeded.'), {
      name: 'RequestLimitExceeded', Code: 'RequestLimitExceeded', $fault: 'client',
      $metadata: { httpStatusCode: 503, requestId: 'req-1', attempts: 3 }, $response: { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDGPUSCOPEUNIT0001/...' } },
    })
    const err = awsError('DescribeInstances', 'us-east-1', sdkError, awsSecrets(config))
    expect(err).toBeInstanceOf(UpstreamError)
    expect(err.message).toBe('aws us-east-1: DescribeInstances failed: RequestLimitExceeded: Request limit exceeded., HTTP 503, 3 attempt(s)')
    expect(err.cause).toEqual({ code: 'RequestLimitExceeded', httpStatusCode: 503, requestId: 'req-1', attempts: 3 })
  })

  it('reports a network failure without metadata', () => {
    const err = awsError('DescribeInstanceTypes', 'eu-west-1', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), [])
    expect(err.message).toBe('aws eu-west-1: DescribeInstanceTypes failed: Error: connect ECONNREFUSED 127.0.0.1:1')
  })
})

describe('pagination', () => {
  async function* pages(n: number) {
    for (let i = 0; i < n; i++) yield { items: [i] }
  }

  it(`collects up to ${MAX_PAGES} pages, and stops with an error on a token that never ends`, async () => {
    expect(await collectPages(pages(MAX_PAGES), (p) => p.items)).toHaveLength(MAX_PAGES)
    await expect(collectPages(pages(Number.MAX_SAFE_INTEGER), (p) => p.items)).rejects.toThrow(`pagination did not end after ${MAX_PAGES} pages`)
  })
})

describe('AWS config', () => {
  it.each([
    { name: 'a key id without its secret', input: { accessKeyId: 'AKIDX' }, path: ['secretAccessKey'] },
    { name: 'a session token without keys', input: { sessionToken: 't' }, path: ['sessionToken'] },
    { name: 'a region that is not one', input: { regions: ['us_east_1'] }, path: ['regions', 0] },
    { name: 'a repeated region', input: { regions: ['us-east-1', 'us-east-1'] }, path: ['regions'] },
    { name: 'an endpoint that is not an http(s) URL', input: { endpoint: 'localhost:4566' }, path: ['endpoint'] },
  ])('rejects $name, naming the field', ({ input, path }) => {
    const parsed = awsSchema.safeParse(input)
    expect(parsed.error?.issues.map((i) => i.path)).toEqual([path])
  })

  it('takes the default credential chain when no keys are given', () => {
    expect(awsSecrets(awsSchema.parse({}))).toEqual([])
  })
})
