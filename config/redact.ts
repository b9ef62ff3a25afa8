import { SECRET_KEY } from './schema'

/** Placeholder shown instead of a secret value. */
export const REDACTED = '<redacted>'

/**
 * A deep copy of a config-shaped value with every secret replaced by
 * <redacted> (empty secrets stay empty so a reader sees they are unset), and
 * credentials embedded in URLs (user:pass@host) masked too.
 */
export function redact(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => redact(v, key))
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]))
  }
  if (typeof value === 'string') {
    if (SECRET_KEY.test(key)) return value === '' ? '' : REDACTED
    return maskUrlCredentials(value)
  }
  return value
}

/** Masks the password part of a URL with credentials; other strings pass unchanged. */
export function maskUrlCredentials(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@\s]+):[^@/\s]+@/i, `$1:${REDACTED}@`)
}
