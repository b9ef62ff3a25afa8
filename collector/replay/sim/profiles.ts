import { between, hash32, pick, unit } from './random'

/**
 * Who owns a simulated workload and how it uses its GPUs. The traces hold no
 * owners and no utilization, so both are synthesised, deterministically from
 * the pod's key; the model and its calibration are in docs/replay.md.
 */

/** Kind of a simulated workload, as its top owner would be in Kubernetes. */
export type SimKind = 'Job' | 'Notebook' | 'Deployment'

/** Utilization class of a job or service: its mean GR_ENGINE_ACTIVE band. */
export type UtilClass = 'idle' | 'low' | 'medium' | 'high'

/** The synthetic owner and behaviour of one workload. */
export interface WorkloadProfile {
  key: string
  /** hash32(key): the seed of every per-minute draw. */
  seed: number
  kind: SimKind
  team: string
  project: string
  user: string
  /** Jobs and services: the band and the mean activity drawn from it (0 for idle). */
  utilClass: UtilClass
  meanUtil: number
  /** Notebooks: interactive (bursty, working hours) or abandoned (idle after its first hours). */
  notebook?: { behaviour: 'interactive' | 'abandoned'; activeForMs: number }
  /** Fraction of GPU memory held while allocated (idle work often keeps its model loaded). */
  fbHeldRatio: number
}

/** Teams, their projects and people: a small organisation sharing one fleet. */
export const ORG: ReadonlyArray<{ team: string; weight: number; projects: string[]; users: string[] }> = [
  { team: 'vision', weight: 20, projects: ['detection', 'segmentation', 'video'], users: ['ana', 'bo', 'chen', 'dara'] },
  { team: 'nlp', weight: 22, projects: ['llm-pretrain', 'llm-finetune', 'search'], users: ['eli', 'femi', 'gus', 'hana', 'ivo'] },
  { team: 'speech', weight: 10, projects: ['asr', 'tts'], users: ['jun', 'kai', 'lea'] },
  { team: 'recsys', weight: 16, projects: ['ranking', 'ads-ctr'], users: ['mo', 'nia', 'omar'] },
  { team: 'research', weight: 14, projects: ['rl', 'generative', 'theory'], users: ['pia', 'quin', 'raj', 'sol'] },
  { team: 'platform', weight: 8, projects: ['serving', 'eval'], users: ['tom', 'uma'] },
  { team: 'robotics', weight: 10, projects: ['sim2real', 'grasping'], users: ['val', 'wen', 'xia'] },
]

/** Mean-activity bands per kind (weights sum to 1). Calibrated in docs/replay.md. */
const UTIL_BANDS: Record<Exclude<SimKind, 'Notebook'>, ReadonlyArray<readonly [UtilClass, number]>> = {
  Job: [['idle', 0.22], ['low', 0.28], ['medium', 0.3], ['high', 0.2]],
  Deployment: [['idle', 0.36], ['low', 0.46], ['medium', 0.14], ['high', 0.04]],
}
const BAND_RANGE: Record<UtilClass, readonly [number, number]> = { idle: [0, 0], low: [0.01, 0.1], medium: [0.1, 0.5], high: [0.5, 0.95] }

/** Share of notebooks that are abandoned (left running, kernel idle, GPUs idle). */
export const ABANDONED_SHARE = 0.45

/** Builds the profile of a workload from its key and kind; same key, same profile. */
export function profileOf(key: string, kind: SimKind): WorkloadProfile {
  const org = pick(ORG.map((o) => [o, o.weight] as const), key, 'team')
  const project = org.projects[Math.floor(unit(key, 'project') * org.projects.length)] as string
  const user = org.users[Math.floor(unit(key, 'user') * org.users.length)] as string
  const base = { key, seed: hash32(key), kind, team: org.team, project, user, fbHeldRatio: between(0.25, 0.9, key, 'fb') }
  if (kind === 'Notebook') {
    const abandoned = unit(key, 'abandoned') < ABANDONED_SHARE
    const activeForMs = Math.round(between(1, 12, key, 'active-hours') * 3_600_000)
    return { ...base, utilClass: abandoned ? 'idle' : 'low', meanUtil: 0, notebook: { behaviour: abandoned ? 'abandoned' : 'interactive', activeForMs } }
  }
  const utilClass = pick(UTIL_BANDS[kind], key, 'band')
  const [lo, hi] = BAND_RANGE[utilClass]
  return { ...base, utilClass, meanUtil: utilClass === 'idle' ? 0 : between(lo, hi, key, 'mean') }
}
