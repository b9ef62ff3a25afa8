import { describe, expect, it } from 'vitest'
import { podImages } from '../../kubernetes/podInterval'
import type { SimCluster, SimPod } from './cluster'
import { podObject, SIM_IMAGES, simImage } from './objects'
import { profileOf, type SimKind } from './profiles'

const T0 = Date.UTC(2026, 5, 1)
const sim = { trace: 'helios-earth-2020-05' } as SimCluster
const simPod = (kind: SimKind, workloadName: string, name = `${workloadName}-0`): SimPod => ({
  uid: `uid-${name}`, name, namespace: 'ml', profile: profileOf(workloadName, kind), kind, workloadName, numGpu: 1, share: 1,
  createdMs: T0, startMs: T0 + 1_000, final: 'Running', node: 'n1', devices: [0],
})

describe('simulated pods carry a container image', () => {
  it.each<{ kind: SimKind; registry: RegExp }>([
    { kind: 'Job', registry: /^nvcr\.io\/nvidia\/(pytorch|nemo|tensorflow):/ },
    { kind: 'Notebook', registry: /notebook/ },
    { kind: 'Deployment', registry: /tritonserver|vllm/ },
  ])('a $kind runs one of its kind\'s real public images, the same for every pod of the workload', ({ kind, registry }) => {
    const first = podObject(sim, simPod(kind, 'w1'), T0 + 2_000)
    const second = podObject(sim, simPod(kind, 'w1', 'w1-1'), T0 + 2_000)
    const images = podImages(first)
    expect(images).toHaveLength(1)
    expect(SIM_IMAGES[kind]).toContain(images[0])
    expect(images[0]).toMatch(registry)
    expect(podImages(second)).toEqual(images)
  })

  it('spreads the workloads of a kind over its images', () => {
    const used = new Set(Array.from({ length: 40 }, (_, i) => simImage({ kind: 'Job', workloadName: `job-${i}` })))
    expect(used).toEqual(new Set(SIM_IMAGES.Job))
  })
})
