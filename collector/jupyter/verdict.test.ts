import { describe, expect, it } from 'vitest'
import { notebookVerdict, type KernelActivity } from './verdict'

const NOW = Date.parse('2024-05-01T12:00:00Z')
const T1 = Date.parse('2024-05-01T09:00:00Z')
const T2 = Date.parse('2024-05-01T10:30:00Z')
const k = (kernelId: string, executionState: string, lastActivityMs: number): KernelActivity => ({ kernelId, executionState, lastActivityMs })

describe('notebookVerdict follows the Kubeflow culler contract', () => {
  it.each([
    { name: 'all idle: newest last_activity', kernels: [k('a', 'idle', T1), k('b', 'idle', T2)], want: { active: false, lastActivityMs: T2 } },
    { name: 'one busy: active now', kernels: [k('a', 'idle', T2), k('b', 'busy', T1)], want: { active: true, lastActivityMs: NOW } },
    { name: 'starting is not idle: active now', kernels: [k('a', 'starting', T1)], want: { active: true, lastActivityMs: NOW } },
    { name: 'state unknown (pre-5.0 server) is not idle', kernels: [k('a', 'unknown', T1)], want: { active: true, lastActivityMs: NOW } },
    { name: 'no kernels, no status: unknown', kernels: [], want: { active: false, lastActivityMs: undefined } },
    { name: 'no kernels: the /api/status row gives the time', kernels: [k('', '', T1)], want: { active: false, lastActivityMs: T1 } },
    { name: 'an unreadable time among idle kernels: unknown', kernels: [k('a', 'idle', T1), k('b', 'idle', Number.NaN)], want: { active: false, lastActivityMs: undefined } },
    { name: 'a busy kernel wins over an unreadable time', kernels: [k('a', 'busy', Number.NaN)], want: { active: true, lastActivityMs: NOW } },
  ])('$name', ({ kernels, want }) => {
    expect(notebookVerdict(kernels, NOW)).toEqual(want)
  })
})
