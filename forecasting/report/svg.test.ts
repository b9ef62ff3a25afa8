import { describe, expect, it } from 'vitest'
import { barChart, escapeXml, niceTicks, timeChart } from './svg'

describe('report SVG', () => {
  it.each([
    { lo: 0, hi: 873, want: [0, 200, 400, 600, 800, 1000] },
    { lo: 0, hi: 1, want: [0, 0.2, 0.4, 0.6, 0.8, 1] },
    { lo: 0, hi: 45, want: [0, 10, 20, 30, 40, 50] },
  ])('ticks from $lo cover $hi', ({ lo, hi, want }) => {
    expect(niceTicks(lo, hi)).toEqual(want)
  })

  it('escapes text so a team name cannot inject markup', () => {
    const svg = barChart({ id: 'b', title: 't', unit: 'GPU-h', bars: [{ label: '<script>alert(1)</script>', value: 3 }] })
    expect(svg).not.toContain('<script>')
    expect(svg).toContain(escapeXml('<script>alert(1)</script>'))
  })

  it('breaks a line at unknown values instead of drawing them as 0', () => {
    const svg = timeChart({ id: 'c', title: 't', unit: 'GPUs', lines: [{ name: 'used', color: '#000', points: [[0, 5], [1, null], [2, 5], [3, 6]] }] })
    const d = /class="line" data-name="used" d="([^"]+)"/.exec(svg)![1]!
    expect(d.match(/M/g)).toHaveLength(2)
    expect(d.match(/L/g)).toHaveLength(1)
  })

  it('draws "no data" rather than an empty frame when there are no points', () => {
    expect(timeChart({ id: 'e', title: 't', unit: 'GPUs', lines: [] })).toContain('>no data</text>')
  })
})
