import type { GpuSample } from '../../core/model'

/**
 * The DCGM fields gpuscope stores, how each maps onto a GpuSample column, and
 * which values are DCGM "blank" sentinels (no data) rather than readings.
 */

/**
 * DCGM's blank sentinels (dcgm_structs.h): a field that could not be read is
 * reported as its type's BLANK base or just above it (NOT_FOUND = +1,
 * NOT_SUPPORTED = +2, NOT_PERMISSIONED = +3, ...), and DCGM tests them with
 * `value >= BLANK`. The exporter prints them as plain numbers.
 */
export const DCGM_INT32_BLANK = 0x7ffffff0 // 2147483632
/** 0x7ffffffffffffff0; as a float64 it rounds to 2^63, which the `>=` test still catches. */
export const DCGM_INT64_BLANK = 9223372036854775792
/** 2^47: float64 keeps whole numbers exact there, so BLANK + 1..15 stay distinct. */
export const DCGM_FP64_BLANK = 140737488355328

/** Storage type of a DCGM field, which decides its blank threshold. */
export type DcgmFieldType = 'int' | 'fp64'

/** The GpuSample columns a DCGM field can fill. */
export type MetricColumn = Exclude<
  { [K in keyof GpuSample]-?: NonNullable<GpuSample[K]> extends number ? K : never }[keyof GpuSample],
  'tsMs' | 'gpuIndex' | 'migInstance'
>

/** How one DCGM field becomes one GpuSample column. */
export interface DcgmField {
  column: MetricColumn
  type: DcgmFieldType
  /** Turns a cleaned exporter value into the column's unit. */
  convert: (value: number) => number
  /** Largest plausible exporter value; anything above is a glitch, stored as missing. */
  max?: number
}

const MIB = 1024 * 1024
const same = (v: number) => v

/**
 * Every DCGM field gpuscope reads. Utilization is GR_ENGINE_ACTIVE where the
 * profiling module runs, else GPU_UTIL/100 (DESIGN.md); both are kept so a
 * reader can tell which one backs a sample by which column is set.
 * DCGM_FI_PROF_SM_ACTIVE is off in the exporter's default set: never required.
 */
export const DCGM_FIELDS: Readonly<Record<string, DcgmField>> = {
  DCGM_FI_PROF_GR_ENGINE_ACTIVE: { column: 'grEngineActiveRatio', type: 'fp64', convert: same },
  DCGM_FI_PROF_SM_ACTIVE: { column: 'smActiveRatio', type: 'fp64', convert: same },
  DCGM_FI_PROF_SM_OCCUPANCY: { column: 'smOccupancyRatio', type: 'fp64', convert: same },
  DCGM_FI_PROF_PIPE_TENSOR_ACTIVE: { column: 'tensorActiveRatio', type: 'fp64', convert: same },
  DCGM_FI_PROF_DRAM_ACTIVE: { column: 'dramActiveRatio', type: 'fp64', convert: same },
  // A percentage; 4294967295 (uint32 -1) shows up as a spike on some drivers.
  DCGM_FI_DEV_GPU_UTIL: { column: 'gpuUtilRatio', type: 'int', convert: (v) => v / 100, max: 100 },
  // The exporter reports framebuffer memory in MiB.
  DCGM_FI_DEV_FB_USED: { column: 'fbUsedBytes', type: 'int', convert: (v) => v * MIB },
  DCGM_FI_DEV_FB_FREE: { column: 'fbFreeBytes', type: 'int', convert: (v) => v * MIB },
  DCGM_FI_DEV_POWER_USAGE: { column: 'powerWatts', type: 'fp64', convert: same },
  DCGM_FI_DEV_GPU_TEMP: { column: 'temperatureC', type: 'int', convert: same },
}

/** The metric names above, for a Prometheus `__name__=~` matcher. */
export const DCGM_METRIC_NAMES: readonly string[] = Object.keys(DCGM_FIELDS)

/**
 * True when a value is a DCGM blank sentinel for its field type. Integer
 * fields may reach the exporter as int32 or int64, so any integer at or above
 * the int32 base is blank: no field gpuscope stores comes close to 2^31 (MiB,
 * %, °C). Float fields use the fp64 base, which also covers the int64 one.
 */
export function isDcgmBlank(value: number, type: DcgmFieldType): boolean {
  return value >= (type === 'int' ? DCGM_INT32_BLANK : DCGM_FP64_BLANK)
}

/** A field's value in the column's unit, or undefined when it is not a reading (blank, NaN, ±Inf, negative, above `max`). */
export function cleanValue(field: DcgmField, raw: number): number | undefined {
  if (!Number.isFinite(raw) || raw < 0) return undefined
  if (isDcgmBlank(raw, field.type)) return undefined
  if (field.max !== undefined && raw > field.max) return undefined
  return field.convert(raw)
}
