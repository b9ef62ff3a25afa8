/**
 * Inline SVG charts for the report: no script, no external asset, so the
 * HTML renders the same in a browser, a mail client or a PDF printer. Every
 * text is escaped; numbers are rounded to 0.1 px to keep the markup small.
 */

/** One line of a chart: points in (epoch ms, value), drawn in order; null values break the line. */
export interface LineSpec {
  name: string
  color: string
  points: Array<[number, number | null]>
  dashed?: boolean
  /** Draw each point as a marker (a circle) instead of a line through them: for sparse events such as hours above capacity. */
  markers?: boolean
}

/** A shaded band between two bounds (a prediction interval). */
export interface BandSpec {
  name: string
  color: string
  opacity: number
  points: Array<[number, number, number]>
}

/** A time chart: lines over bands, a y axis in `unit`, time on x. */
export interface TimeChartSpec {
  id: string
  title: string
  unit: string
  lines: LineSpec[]
  bands?: BandSpec[]
  width?: number
  height?: number
}

const PAD = { left: 64, right: 16, top: 28, bottom: 44 }
const r1 = (x: number) => Math.round(x * 10) / 10

/** Escapes text for HTML and SVG. */
export const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** "Nice" tick values from lo up to the first tick at or above hi: steps of 1, 2 or 5 × 10^k, about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo]
  const raw = (hi - lo) / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag
  const first = Math.ceil(lo / step - 1e-9)
  const last = Math.ceil(hi / step - 1e-9)
  return Array.from({ length: last - first + 1 }, (_, i) => Number(((first + i) * step).toPrecision(12)))
}

/** Renders a time chart as an `<svg>` element with a title, axes, gridlines, bands, lines and a legend. */
export function timeChart(spec: TimeChartSpec): string {
  const width = spec.width ?? 880
  const height = spec.height ?? 300
  const xs = [...spec.lines.flatMap((l) => l.points.map((p) => p[0])), ...(spec.bands ?? []).flatMap((b) => b.points.map((p) => p[0]))]
  const ys = [...spec.lines.flatMap((l) => l.points.map((p) => p[1]).filter((v): v is number => v !== null)), ...(spec.bands ?? []).flatMap((b) => b.points.flatMap((p) => [p[1], p[2]]))]
  if (xs.length === 0) return emptyChart(spec, width, height)
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)]
  const yTicks = niceTicks(0, Math.max(1, ...ys) * 1.02)
  const yMax = yTicks[yTicks.length - 1]!
  const sx = (x: number) => r1(PAD.left + ((x - x0) / Math.max(1, x1 - x0)) * (width - PAD.left - PAD.right))
  const sy = (y: number) => r1(height - PAD.bottom - (y / yMax) * (height - PAD.top - PAD.bottom))
  const parts: string[] = [title(spec.title, width)]
  parts.push(...yTicks.map((t) => `<line class="grid" x1="${PAD.left}" x2="${width - PAD.right}" y1="${sy(t)}" y2="${sy(t)}" stroke="#e3e3e3"/><text x="${PAD.left - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11">${fmt(t)}</text>`))
  parts.push(...timeTicks(x0, x1).map((t) => `<text x="${sx(t)}" y="${height - PAD.bottom + 16}" text-anchor="middle" font-size="11">${new Date(t).toISOString().slice(0, 10)}</text>`))
  parts.push(`<text x="14" y="${r1((PAD.top + height - PAD.bottom) / 2)}" font-size="11" transform="rotate(-90 14 ${r1((PAD.top + height - PAD.bottom) / 2)})" text-anchor="middle">${escapeXml(spec.unit)}</text>`)
  for (const b of spec.bands ?? []) {
    const upper = b.points.map((p) => `${sx(p[0])},${sy(p[2])}`)
    const lower = [...b.points].reverse().map((p) => `${sx(p[0])},${sy(p[1])}`)
    parts.push(`<path class="band" data-name="${escapeXml(b.name)}" d="M${upper.join('L')}L${lower.join('L')}Z" fill="${b.color}" fill-opacity="${b.opacity}" stroke="none"/>`)
  }
  for (const l of spec.lines) {
    if (l.markers) {
      parts.push(...l.points.filter((p): p is [number, number] => p[1] !== null).map(([x, y]) => `<circle class="marker" data-name="${escapeXml(l.name)}" cx="${sx(x)}" cy="${sy(y)}" r="3.5" fill="${l.color}"/>`))
      continue
    }
    const d = pathOf(l.points, sx, sy)
    if (d) parts.push(`<path class="line" data-name="${escapeXml(l.name)}" d="${d}" fill="none" stroke="${l.color}" stroke-width="1.6"${l.dashed ? ' stroke-dasharray="6 4"' : ''}/>`)
  }
  parts.push(`<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${height - PAD.bottom}" stroke="#888"/><line x1="${PAD.left}" x2="${width - PAD.right}" y1="${height - PAD.bottom}" y2="${height - PAD.bottom}" stroke="#888"/>`)
  parts.push(legend([...spec.lines.map((l) => ({ name: l.name, color: l.color, opacity: 1 })), ...(spec.bands ?? []).map((b) => ({ name: b.name, color: b.color, opacity: b.opacity }))], width, height))
  return svg(spec.id, spec.title, width, height, parts)
}

/** One horizontal bar per row (e.g. GPU-hours by team), longest first as given. */
export function barChart(spec: { id: string; title: string; unit: string; bars: Array<{ label: string; value: number; color?: string }> }): string {
  const width = 880
  const rowH = 22
  const height = PAD.top + 12 + spec.bars.length * rowH + 24
  const left = 180
  const max = Math.max(1, ...spec.bars.map((b) => b.value))
  const parts = [title(spec.title, width)]
  spec.bars.forEach((b, i) => {
    const y = PAD.top + 8 + i * rowH
    const w = r1(((width - left - 90) * Math.max(0, b.value)) / max)
    parts.push(`<text x="${left - 8}" y="${y + 14}" text-anchor="end" font-size="12">${escapeXml(b.label)}</text>`)
    parts.push(`<rect class="bar" x="${left}" y="${y + 2}" width="${Math.max(w, 0.5)}" height="${rowH - 6}" fill="${b.color ?? '#4c78a8'}"/>`)
    parts.push(`<text x="${left + w + 6}" y="${y + 14}" font-size="11">${fmt(b.value)} ${escapeXml(spec.unit)}</text>`)
  })
  return svg(spec.id, spec.title, width, height, parts)
}

function svg(id: string, label: string, width: number, height: number, parts: string[]): string {
  return `<svg id="${escapeXml(id)}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(label)}" font-family="system-ui, sans-serif">${parts.join('')}</svg>`
}

const title = (text: string, width: number) => `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="600">${escapeXml(text)}</text>`

function emptyChart(spec: TimeChartSpec, width: number, height: number): string {
  return svg(spec.id, spec.title, width, height, [title(spec.title, width), `<text x="${width / 2}" y="${height / 2}" text-anchor="middle" font-size="13" fill="#888">no data</text>`])
}

function pathOf(points: Array<[number, number | null]>, sx: (x: number) => number, sy: (y: number) => number): string {
  let d = ''
  let pen = false
  for (const [x, y] of points) {
    if (y === null) {
      pen = false
      continue
    }
    d += `${pen ? 'L' : 'M'}${sx(x)},${sy(y)}`
    pen = true
  }
  return d
}

function legend(items: Array<{ name: string; color: string; opacity: number }>, width: number, height: number): string {
  let x = PAD.left
  return items
    .map((it) => {
      const out = `<rect x="${x}" y="${height - 16}" width="12" height="10" fill="${it.color}" fill-opacity="${it.opacity}"/><text x="${x + 16}" y="${height - 7}" font-size="11">${escapeXml(it.name)}</text>`
      x += 28 + it.name.length * 6.2
      return x > width ? '' : out
    })
    .join('')
}

/** Up to 6 day-aligned (UTC midnight) time ticks across [x0, x1]. */
function timeTicks(x0: number, x1: number): number[] {
  const day = 86_400_000
  const days = Math.max(1, (x1 - x0) / day)
  const step = [1, 2, 7, 14, 28, 56, 91].find((s) => days / s <= 6) ?? 182
  const out: number[] = []
  for (let t = Math.ceil(x0 / day) * day; t <= x1; t += step * day) out.push(t)
  return out
}

/** Compact number for axes and labels: 1,234 / 12.5 / 0.25. */
export function fmt(v: number): string {
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US')
  if (Math.abs(v) >= 10) return (Math.round(v * 10) / 10).toString()
  return (Math.round(v * 100) / 100).toString()
}
