import { describe, expect, it } from 'vitest'
import { escapeTsv, msToText, strArray } from './tsv'

describe('TSV encoding', () => {
  it.each([
    { name: 'epoch', ms: 0, want: '0000000000.000' },
    { name: 'one day and a half second', ms: 86_400_500, want: '0000086400.500' },
    { name: 'millisecond padding', ms: 1_788_264_000_007, want: '1788264000.007' },
    { name: 'fraction of a ms is dropped', ms: 1_788_264_000_123.9, want: '1788264000.123' },
  ])('time: $name', ({ ms, want }) => {
    expect(msToText(ms)).toBe(want)
  })
  it('refuses a time before 1970 or NaN rather than storing a wrong one', () => {
    expect(() => msToText(-1)).toThrow(RangeError)
    expect(() => msToText(Number.NaN)).toThrow(RangeError)
  })
  it.each([
    { name: 'plain', s: 'abc', want: 'abc' },
    { name: 'tab, newline, CR, backslash', s: 'a\tb\nc\rd\\e', want: 'a\\tb\\nc\\rd\\\\e' },
  ])('string: $name', ({ s, want }) => {
    expect(escapeTsv(s)).toBe(want)
  })
  it.each([
    { name: 'unknown (undefined) is the empty array', v: undefined, want: '[]' },
    { name: 'empty', v: [], want: '[]' },
    { name: 'images in order', v: ['nvcr.io/nvidia/pytorch:24.05-py3', 'busybox'], want: "['nvcr.io/nvidia/pytorch:24.05-py3','busybox']" },
    { name: 'quote, backslash, tab and newline escaped once', v: ["a'b\\c\td\ne"], want: "['a\\'b\\\\c\\td\\ne']" },
  ])('string array: $name', ({ v, want }) => {
    expect(strArray((r: { v: string[] | undefined }) => r.v)({ v })).toBe(want)
  })
})
