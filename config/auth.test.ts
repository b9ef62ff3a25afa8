import { describe, expect, it } from 'vitest'
import { authSchema } from './auth'

const tok = (name: string, token: string, role = 'viewer') => ({ name, token, role })
const A = 'aaaaaaaaaaaaaaaa-secret'
const B = 'bbbbbbbbbbbbbbbb-secret'

/** Every issue as `path: message`. */
function issues(input: unknown): string[] {
  const parsed = authSchema.safeParse(input)
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

describe('auth config', () => {
  it.each([
    { name: 'disabled by default, no tokens', input: {}, want: [] },
    { name: 'viewer, admin and team roles', input: { enabled: true, tokens: [tok('v', A), tok('a', B, 'admin'), tok('t', `${A}x`, 'team:ml.vision_2')] }, want: [] },
    { name: 'duplicate name', input: { tokens: [tok('ci', A), tok('ci', B)] }, want: ["tokens.1.name: duplicate token name 'ci'"] },
    { name: 'duplicate token', input: { tokens: [tok('alice', A), tok('bob', A)] }, want: ["tokens.1.token: the same token is configured twice (second holder 'bob')"] },
    { name: 'enabled without tokens', input: { enabled: true }, want: ['tokens: auth is enabled but no tokens are configured'] },
    { name: 'unknown role', input: { tokens: [tok('x', A, 'root')] }, want: ['tokens.0.role: must be viewer, admin or team:<name>'] },
    { name: 'empty team', input: { tokens: [tok('x', A, 'team:')] }, want: ['tokens.0.role: must be viewer, admin or team:<name>'] },
    { name: 'short token', input: { tokens: [tok('x', 'short')] }, want: ['tokens.0.token: must be at least 16 characters'] },
  ])('$name', ({ input, want }) => {
    expect(issues(input)).toEqual(want)
  })

  it('never echoes a token value in an issue', () => {
    const all = issues({ enabled: true, tokens: [tok('alice', A), tok('bob', A), tok('bob', 'tiny-secret')] }).join('\n')
    expect(all).not.toContain(A)
    expect(all).not.toContain('tiny-secret')
  })
})
