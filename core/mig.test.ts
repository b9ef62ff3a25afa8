import { describe, expect, it } from 'vitest'
import { gpuFractionOfResource, migSlicesOfModel, parseMigProfile } from './mig.js'

describe('gpuFractionOfResource', () => {
  it.each([
    { name: 'a full GPU', resource: 'nvidia.com/gpu', model: undefined, want: 1 },
    { name: 'a full GPU on any model', resource: 'nvidia.com/gpu', model: 'NVIDIA A30', want: 1 },
    { name: '1g.10gb on an A100-80GB is 1/7', resource: 'nvidia.com/mig-1g.10gb', model: 'NVIDIA A100-SXM4-80GB', want: 1 / 7 },
    { name: '3g.40gb on an A100-80GB is 3/7', resource: 'nvidia.com/mig-3g.40gb', model: 'NVIDIA A100-SXM4-80GB', want: 3 / 7 },
    { name: '7g.80gb on an A100-80GB is 1', resource: 'nvidia.com/mig-7g.80gb', model: 'NVIDIA A100-SXM4-80GB', want: 1 },
    { name: '1g.20gb on an H100 is 1/7', resource: 'nvidia.com/mig-1g.20gb', model: 'NVIDIA H100 80GB HBM3', want: 1 / 7 },
    { name: '1g.5gb on an A100-40GB is 1/7', resource: 'nvidia.com/mig-1g.5gb', model: 'NVIDIA-A100-PCIE-40GB', want: 1 / 7 },
    { name: '4g.20gb on an A100-40GB is 4/7', resource: 'nvidia.com/mig-4g.20gb', model: 'NVIDIA A100-PCIE-40GB', want: 4 / 7 },
    { name: '1g.6gb on an A30 is 1/4', resource: 'nvidia.com/mig-1g.6gb', model: 'NVIDIA A30', want: 1 / 4 },
    { name: '2g.12gb on an A30 is 2/4', resource: 'nvidia.com/mig-2g.12gb', model: 'NVIDIA-A30', want: 2 / 4 },
    { name: '4g.24gb on an A30 is 1', resource: 'nvidia.com/mig-4g.24gb', model: 'NVIDIA A30', want: 1 },
    { name: 'media extensions do not change the size', resource: 'nvidia.com/mig-1g.10gb+me', model: 'NVIDIA A100-SXM4-80GB', want: 1 / 7 },
    { name: '1g.12gb on an H100-96GB is 1/7', resource: 'nvidia.com/mig-1g.12gb', model: 'NVIDIA GH200 96GB HBM3', want: 1 / 7 },
    { name: '1g.18gb on an H200 is 1/7', resource: 'nvidia.com/mig-1g.18gb', model: 'NVIDIA H200', want: 1 / 7 },
    { name: 'an unknown model falls back to the profile', resource: 'nvidia.com/mig-2g.20gb', model: 'Some Future GPU', want: 2 / 7 },
    // No model given: the slice count is inferred from the profile.
    { name: 'inferred 1g.10gb is 1/7', resource: 'nvidia.com/mig-1g.10gb', model: undefined, want: 1 / 7 },
    { name: 'inferred 1g.10gb+me is 1/7', resource: 'nvidia.com/mig-1g.10gb+me', model: undefined, want: 1 / 7 },
    { name: 'inferred 1g.5gb is 1/7', resource: 'nvidia.com/mig-1g.5gb', model: undefined, want: 1 / 7 },
    { name: 'inferred 4g.20gb is 4/7', resource: 'nvidia.com/mig-4g.20gb', model: undefined, want: 4 / 7 },
    { name: 'inferred 7g.80gb is 1', resource: 'nvidia.com/mig-7g.80gb', model: undefined, want: 1 },
    { name: 'inferred 1g.12gb (H100-96GB) is 1/7, not an A30 slice', resource: 'nvidia.com/mig-1g.12gb', model: undefined, want: 1 / 7 },
    { name: 'inferred 1g.24gb (H100-96GB) is 1/7', resource: 'nvidia.com/mig-1g.24gb', model: undefined, want: 1 / 7 },
    { name: 'inferred 2g.24gb (H100-96GB) is 2/7, not an A30 slice', resource: 'nvidia.com/mig-2g.24gb', model: undefined, want: 2 / 7 },
    { name: 'inferred 1g.6gb is an A30 1/4', resource: 'nvidia.com/mig-1g.6gb', model: undefined, want: 1 / 4 },
    { name: 'inferred 1g.6gb+me is an A30 1/4', resource: 'nvidia.com/mig-1g.6gb+me', model: undefined, want: 1 / 4 },
    { name: 'inferred 2g.12gb is an A30 2/4', resource: 'nvidia.com/mig-2g.12gb', model: undefined, want: 2 / 4 },
    { name: 'inferred 4g.24gb is a whole A30', resource: 'nvidia.com/mig-4g.24gb', model: undefined, want: 1 },
    // Unknown or impossible resources.
    { name: 'CPU is not a GPU', resource: 'cpu', model: undefined, want: undefined },
    { name: 'another vendor is unknown', resource: 'amd.com/gpu', model: undefined, want: undefined },
    { name: 'a time-sliced shared GPU is unknown', resource: 'nvidia.com/gpu.shared', model: undefined, want: undefined },
    { name: 'a malformed MIG profile is unknown', resource: 'nvidia.com/mig-1g', model: undefined, want: undefined },
    { name: 'an unknown attribute suffix is unknown', resource: 'nvidia.com/mig-1g.10gb+xx', model: undefined, want: undefined },
    { name: '7g on an A30 is impossible', resource: 'nvidia.com/mig-7g.24gb', model: 'NVIDIA A30', want: undefined },
    { name: '3g on an A30 is impossible', resource: 'nvidia.com/mig-3g.18gb', model: 'NVIDIA A30', want: undefined },
    { name: '5g on an A100 is impossible', resource: 'nvidia.com/mig-5g.50gb', model: 'NVIDIA A100-SXM4-80GB', want: undefined },
    { name: '0g is impossible', resource: 'nvidia.com/mig-0g.10gb', model: undefined, want: undefined },
  ])('$name', ({ resource, model, want }) => {
    expect(gpuFractionOfResource(resource, model)).toBe(want)
  })
})

describe('parseMigProfile', () => {
  it.each([
    { name: '1g.10gb', profile: '1g.10gb', want: { computeSlices: 1, memGb: 10 } },
    { name: '3g.40gb', profile: '3g.40gb', want: { computeSlices: 3, memGb: 40 } },
    { name: '7g.141gb', profile: '7g.141gb', want: { computeSlices: 7, memGb: 141 } },
    { name: 'media extensions suffix', profile: '1g.10gb+me', want: { computeSlices: 1, memGb: 10 } },
    { name: 'surrounding spaces', profile: ' 2g.12gb ', want: { computeSlices: 2, memGb: 12 } },
    { name: 'empty for a full GPU', profile: '', want: undefined },
    { name: 'missing memory', profile: '1g', want: undefined },
    { name: 'a resource name, not a profile', profile: 'nvidia.com/mig-1g.10gb', want: undefined },
    { name: 'zero memory', profile: '1g.0gb', want: undefined },
  ])('$name', ({ profile, want }) => {
    expect(parseMigProfile(profile)).toEqual(want)
  })
})

describe('migSlicesOfModel', () => {
  it.each([
    { name: 'A100 SXM', model: 'NVIDIA A100-SXM4-80GB', want: 7 },
    { name: 'A100 Kubernetes label form', model: 'NVIDIA-A100-SXM4-40GB', want: 7 },
    { name: 'H100', model: 'NVIDIA H100 80GB HBM3', want: 7 },
    { name: 'H200', model: 'NVIDIA H200', want: 7 },
    { name: 'A30', model: 'NVIDIA A30', want: 4 },
    { name: 'a GPU without MIG', model: 'Tesla T4', want: undefined },
    { name: 'A3000 is not an A30', model: 'NVIDIA RTX A3000', want: undefined },
  ])('$name', ({ model, want }) => {
    expect(migSlicesOfModel(model)).toBe(want)
  })
})
