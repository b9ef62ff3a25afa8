import type { Logger } from '../core/ports'

/** Peak resident set size seen by polling, plus the kernel's own high-water mark. */
export interface RssReport {
  /** Highest `process.memoryUsage().rss` among the polls, in bytes. */
  sampledPeakBytes: number
  /** `process.resourceUsage().maxRSS` (the kernel's high-water mark for the whole process), in bytes. */
  maxRssBytes: number
}

/**
 * Polls RSS every `intervalMs`. A poll cannot run while the event loop is
 * busy (encoding a batch), so the kernel's maxRSS is reported next to it: that
 * one misses nothing but covers the whole process life, set-up included.
 */
export function watchRss(intervalMs = 50): { stop(): RssReport } {
  let peak = process.memoryUsage().rss
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, intervalMs)
  return {
    stop: () => {
      clearInterval(timer)
      peak = Math.max(peak, process.memoryUsage().rss)
      return { sampledPeakBytes: peak, maxRssBytes: process.resourceUsage().maxRSS * 1024 }
    },
  }
}

/** Bytes as MiB, one decimal. */
export const mib = (bytes: number): number => Math.round((bytes / 1_048_576) * 10) / 10

/** Seconds since `startNs` (from `process.hrtime.bigint()`). */
export const secondsSince = (startNs: bigint): number => Number(process.hrtime.bigint() - startNs) / 1e9

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** A logger that keeps benchmark output clean: warnings and errors only, as JSON lines on stderr. */
export const stderrLogger = (): Logger => {
  const line = (level: string) => (obj: object | string, msg?: string) => {
    process.stderr.write(JSON.stringify({ level, ...(typeof obj === 'string' ? { msg: obj } : { ...obj, msg }) }) + '\n')
  }
  return { info() {}, debug() {}, warn: line('warn'), error: line('error') }
}
