import { pino, type Logger as Pino } from 'pino'
import type { Config } from '../config/schema'

/**
 * The process logger: JSON lines on stderr (stdout stays free for command
 * output). Any field named like a secret is censored, as a second line of
 * defence behind "never log a secret".
 */
export function createLogger(config: Config['log'], name = 'gpuscope'): Pino {
  const secretKeys = ['password', 'token', 'secret', 'webhookUrl', 'apiKey', 'accessKey', 'secretAccessKey', 'authorization']
  return pino(
    {
      name,
      level: config.level,
      redact: { paths: secretKeys.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]), censor: '<redacted>' },
    },
    pino.destination({ fd: 2, sync: true }),
  )
}
