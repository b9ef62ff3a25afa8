/**
 * MIG (Multi-Instance GPU) fractions: how much of a full GPU one Kubernetes
 * extended resource is, so that a MIG slice counts as its fraction of a GPU
 * (DESIGN.md, Definitions). Profiles are named `<g>g.<mem>gb`, where g is the
 * number of compute slices out of the GPU's total: 7 on A100/H100/H200-class
 * GPUs (A100-40GB 1g.5gb..7g.40gb, A100/H100-80GB 1g.10gb..7g.80gb, H100-96GB
 * and H100 NVL 1g.12gb/1g.24gb/2g.24gb.., H200 1g.18gb..7g.141gb), 4 on an A30
 * (1g.6gb, 2g.12gb, 4g.24gb).
 */

/** A MIG profile's size: compute slices (the `g` count) and memory in GB. */
export interface MigProfile {
  computeSlices: number
  memGb: number
}

const FULL_GPU_RESOURCE = 'nvidia.com/gpu'
const MIG_RESOURCE_PREFIX = 'nvidia.com/mig-'

// Attribute suffixes (media extensions `+me`, `+me.all`, `-me`; graphics `+gfx`)
// change what the slice can do, not how much of the GPU it is.
const MIG_PROFILE = /^(\d+)g\.(\d+)gb(?:\+me|\+me\.all|-me|\+gfx)?$/

/** Compute-slice counts a GPU instance can have, by the GPU's total slices. */
const VALID_SLICES: Readonly<Record<4 | 7, readonly number[]>> = {
  4: [1, 2, 4],
  7: [1, 2, 3, 4, 7],
}

const FOUR_SLICE_MODELS = /\bA30\b/i
const SEVEN_SLICE_MODELS = /\b(A100|A800|H100|H800|H20|H200|GH200|B200|GB200|B300|GB300)\b/i

/** Parses a MIG profile such as `1g.10gb` or `1g.10gb+me` into its size; undefined when it is not one. */
export function parseMigProfile(profile: string): MigProfile | undefined {
  const match = MIG_PROFILE.exec(profile.trim())
  if (!match) return undefined
  const computeSlices = Number(match[1])
  const memGb = Number(match[2])
  if (computeSlices < 1 || memGb < 1) return undefined
  return { computeSlices, memGb }
}

/**
 * Total compute slices of a GPU model as Kubernetes or dcgm-exporter name it
 * (`NVIDIA A100-SXM4-80GB`, `NVIDIA-A30`): 4 for an A30, 7 for
 * A100/H100/H200-class GPUs; undefined for a model not known to support MIG.
 */
export function migSlicesOfModel(gpuModel: string): 4 | 7 | undefined {
  if (FOUR_SLICE_MODELS.test(gpuModel)) return 4
  if (SEVEN_SLICE_MODELS.test(gpuModel)) return 7
  return undefined
}

/**
 * Fraction of a full GPU one unit of a Kubernetes resource is: 1 for
 * `nvidia.com/gpu`, g/slices for `nvidia.com/mig-<g>g.<mem>gb`, undefined for
 * any other resource or a profile the GPU cannot have (such as 7g on an A30).
 * The slice count comes from `gpuModel` when it is known, else from the
 * profile: memory of exactly 6 GB per compute slice with g in {1, 2, 4} is the
 * A30's pattern (4 slices), and every other profile is taken as 7-slice.
 */
export function gpuFractionOfResource(resourceName: string, gpuModel?: string): number | undefined {
  const name = resourceName.trim()
  if (name === FULL_GPU_RESOURCE) return 1
  if (!name.startsWith(MIG_RESOURCE_PREFIX)) return undefined
  const profile = parseMigProfile(name.slice(MIG_RESOURCE_PREFIX.length))
  if (!profile) return undefined
  const slices = (gpuModel === undefined ? undefined : migSlicesOfModel(gpuModel)) ?? inferSlices(profile)
  if (!VALID_SLICES[slices].includes(profile.computeSlices)) return undefined
  return profile.computeSlices / slices
}

// No known 7-slice profile with g in {1, 2, 4} has exactly 6 GB per compute
// slice (A100-40GB has 5, the larger parts 10 or more), so this does not
// mistake H100 profiles such as 1g.12gb, 1g.24gb or 2g.24gb for an A30's.
function inferSlices(profile: MigProfile): 4 | 7 {
  const a30Like = profile.memGb === 6 * profile.computeSlices && VALID_SLICES[4].includes(profile.computeSlices)
  return a30Like ? 4 : 7
}
