import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** Repository root, for spawning the CLI the way a user does. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..')

/** A child process running a gpuscope entry point, with its stdout and stderr lines collected. */
export interface Child {
  proc: ChildProcess
  stdout: string[]
  stderr: string[]
  /** Resolves with the first line (stdout or stderr) that matches, or rejects when the process exits first. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Spawns `node <script> ...args` through tsx with the given extra env (never inheriting GPUSCOPE_* from the caller). */
export function spawnScript(script: string, args: string[], env: Record<string, string>): Child {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GPUSCOPE_')))
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const stdout: string[] = []
  const stderr: string[] = []
  const listeners: Array<(line: string) => void> = []
  const feed = (into: string[]) => (line: string) => {
    into.push(line)
    for (const l of listeners) l(line)
  }
  createInterface({ input: proc.stdout! }).on('line', feed(stdout))
  createInterface({ input: proc.stderr! }).on('line', feed(stderr))
  const exit = once(proc, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  const waitForLine = (re: RegExp, timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const seen = [...stdout, ...stderr].find((l) => re.test(l))
      if (seen) return resolve(seen)
      const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; stderr:\n${stderr.join('\n')}`)), timeoutMs)
      listeners.push((line) => {
        if (re.test(line)) {
          clearTimeout(timer)
          resolve(line)
        }
      })
      void exit.then(({ code }) => {
        clearTimeout(timer)
        reject(new Error(`process exited (${code}) before a line matching ${re}; stderr:\n${stderr.join('\n')}`))
      })
    })
  return { proc, stdout, stderr, waitForLine, exit }
}

/** The port from serve's "listening" log line. */
export async function listeningPort(child: Child): Promise<number> {
  const line = await child.waitForLine(/"msg":"listening"/)
  return (JSON.parse(line) as { port: number }).port
}

/** Polls a URL until it answers 200, at most `tries` times. */
export async function waitFor200(url: string, tries = 100): Promise<Response> {
  let last = ''
  for (let i = 0; i < tries; i++) {
    try {
      const res = await fetch(url)
      if (res.status === 200) return res
      last = `status ${res.status}`
    } catch (err) {
      last = (err as Error).message
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} did not answer 200 after ${tries} tries (${last})`)
}
