/** A progress display for long work: a redrawn bar on a terminal, a line every few seconds otherwise (logs, CI). */
export interface Progress {
  update(done: number, total: number): void
  done(message: string): void
}

/** Minimum time between two plain progress lines when stderr is not a terminal. */
const LINE_EVERY_MS = 5_000

/** Creates a progress display for `label` writing to `out` (stderr by default). */
export function createProgress(label: string, out: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): Progress {
  const started = now()
  let lastLine = 0
  const tty = out.isTTY === true
  return {
    update(done, total) {
      const t = now()
      const pct = total > 0 ? Math.min(100, (done / total) * 100) : 100
      const rate = done / Math.max(0.001, (t - started) / 1000)
      const eta = rate > 0 && total > done ? Math.round((total - done) / rate) : 0
      const text = `${label}: ${pct.toFixed(0)}% (${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} rows, ${Math.round(rate).toLocaleString('en-US')} rows/s, ~${eta}s left)`
      if (tty) {
        const width = 24
        const filled = Math.round((pct / 100) * width)
        out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`)
      } else if (t - lastLine >= LINE_EVERY_MS || done >= total) {
        lastLine = t
        out.write(`${text}\n`)
      }
    },
    done(message) {
      out.write(`${tty ? '\r\x1b[K' : ''}${label}: ${message} in ${((now() - started) / 1000).toFixed(1)}s\n`)
    },
  }
}
