import { describe, expect, it } from 'vitest'
import { parseExposition } from './exposition'

describe('parseExposition (Prometheus text format 0.0.4)', () => {
  it.each([
    {
      name: 'unescapes \\\\, \\" and \\n in label values, and keeps , } = inside quotes',
      text: 'm{a="x\\"y\\\\z\\nw",b="c,}d=e"} 1\n',
      want: [{ name: 'm', labels: { a: 'x"y\\z\nw', b: 'c,}d=e' }, value: 1 }],
    },
    {
      name: 'reads an optional millisecond timestamp',
      text: 'm{a="1"} 2 1700000000123\n',
      want: [{ name: 'm', labels: { a: '1' }, value: 2, timestampMs: 1700000000123 }],
    },
    {
      name: 'keeps every labelled histogram series apart (bucket, sum, count)',
      text: '# TYPE h histogram\nh_bucket{m="get",le="1"} 1\nh_bucket{m="get",le="+Inf"} 2\nh_sum{m="get"} 3\nh_count{m="get"} 2\nh_bucket{m="post",le="+Inf"} 6\nh_sum{m="post"} 7\n',
      want: [
        { name: 'h_bucket', labels: { m: 'get', le: '1' }, value: 1 },
        { name: 'h_bucket', labels: { m: 'get', le: '+Inf' }, value: 2 },
        { name: 'h_sum', labels: { m: 'get' }, value: 3 },
        { name: 'h_count', labels: { m: 'get' }, value: 2 },
        { name: 'h_bucket', labels: { m: 'post', le: '+Inf' }, value: 6 },
        { name: 'h_sum', labels: { m: 'post' }, value: 7 },
      ],
    },
    {
      name: 'keeps the last sample of a body without a trailing newline',
      text: 'a 1\na 2',
      want: [{ name: 'a', labels: {}, value: 1 }, { name: 'a', labels: {}, value: 2 }],
    },
    {
      name: 'accepts CRLF line ends, blank lines, comments and a trailing comma in the label set',
      text: '# HELP a help\r\n\r\na{x="1",} 1\r\n',
      want: [{ name: 'a', labels: { x: '1' }, value: 1 }],
    },
    {
      name: 'reads NaN, +Inf, -Inf, exponents and very large integers (as float64)',
      text: 'a NaN\nb +Inf\nc -Inf\nd 1.5e3\ne 9223372036854775794\n',
      want: [
        { name: 'a', labels: {}, value: NaN },
        { name: 'b', labels: {}, value: Infinity },
        { name: 'c', labels: {}, value: -Infinity },
        { name: 'd', labels: {}, value: 1500 },
        { name: 'e', labels: {}, value: 9223372036854775807 },
      ],
    },
  ])('$name', ({ text, want }) => {
    expect(parseExposition(text)).toEqual(want)
  })

  it('keeps labels named like Object properties (__proto__, constructor) as plain labels', () => {
    const [sample] = parseExposition('m{__proto__="p",constructor="c"} 1\n')
    expect(Object.entries(sample?.labels ?? {})).toEqual([['__proto__', 'p'], ['constructor', 'c']])
  })

  it.each([
    { name: 'an HTML error page', text: '<!DOCTYPE html>\n<html></html>\n', error: /line 1: expected a metric name/ },
    { name: 'a sample without a value', text: 'ok 1\nm{a="1"}\n', error: /line 2: expected a value/ },
    { name: 'a non-numeric value', text: 'm 12abc\n', error: /bad value '12abc'/ },
    { name: 'an unterminated label value', text: 'm{a="x} 1\n', error: /unterminated label value/ },
    { name: 'an unknown escape', text: 'm{a="\\t"} 1\n', error: /bad escape/ },
    { name: 'a duplicate label', text: 'm{a="1",a="2"} 1\n', error: /duplicate label 'a'/ },
    { name: 'a fractional timestamp', text: 'm 1 17.5\n', error: /bad timestamp/ },
  ])('rejects $name, naming the line', ({ text, error }) => {
    expect(() => parseExposition(text)).toThrow(error)
  })
})

describe('parseExposition label sets shared across metrics', () => {
  it('parses a repeated label set once, shares it frozen, and still reads braces and escapes inside values', () => {
    const body = [
      'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-a",note="x}y"} 7',
      'DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-a",note="x}y"} 100',
      'DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-b",note="say \\"hi\\"\\n"} 9 1700000000000',
      'DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-b",note="say \\"hi\\"\\n"} 5 1700000000000',
    ].join('\n')
    const [a1, a2, b1, b2] = parseExposition(body)
    expect(a1?.labels).toEqual({ gpu: '0', UUID: 'GPU-a', note: 'x}y' })
    expect(a2?.labels).toBe(a1?.labels)
    expect(Object.isFrozen(a1?.labels)).toBe(true)
    expect(b1?.labels.note).toBe('say "hi"\n')
    expect(b2?.labels).toBe(b1?.labels)
    expect([a1?.value, a2?.value, b1?.value, b1?.timestampMs]).toEqual([7, 100, 9, 1700000000000])
  })
})
