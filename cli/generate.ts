/**
 * `gpuscope generate kueue | cluster-autoscaler | karpenter`: scheduler
 * configs from the burst policy (alerts.burst.pools), printed as
 * multi-document YAML or written into `--out DIR`. What the config does not
 * know (node-group names, NodeClass, instance types, on-prem capacity) comes
 * from flags with documented defaults; docs/scheduler-configs.md lists what an
 * operator must fill in.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import type { LoadedConfig } from '../config/load'
import type { Config } from '../config/schema'
import { InputError } from '../core/errors'
import {
  karpenterObjects, kueueObjects, parseNodeClassRef, parsePairs, priorityExpanderObjects, renderYaml, selectPools,
  KARPENTER_CAPACITY_TYPE, type CommonOptions, type Generated,
} from '../alerts/burst/generate/index'
import { fleetSnapshot } from '../store/queries/gauges'
import { cliIo, type CliDeps, type CliIo } from './forecast'

/** What the generate commands need from outside; tests capture stdout and stderr. */
export interface GenerateDeps extends CliDeps {
  err?: (text: string) => void
}

interface CommonFlags {
  cluster?: string
  pool?: string
  poolLabel?: string
  gpuResource: string
  capacityTypeLabel: string
  burstTaint: boolean
  out?: string
}

const DEFAULT_GPU_RESOURCE = 'nvidia.com/gpu'
const DEFAULT_NODE_CLASS = 'karpenter.k8s.aws/EC2NodeClass/default'

/** Registers `generate kueue | cluster-autoscaler | karpenter` on the program. */
export function registerGenerateCommands(program: Command, loadConfig: () => LoadedConfig, deps: GenerateDeps = {}): void {
  const generate = program.command('generate').description('scheduler configs from the burst policy (alerts.burst.pools): Kueue, cluster-autoscaler, Karpenter')
  const common = (cmd: Command) =>
    cmd
      .option('--cluster <name>', 'only the burst pools of this cluster (required when they span several)')
      .option('--pool <name>', 'only this on-prem burst pool')
      .option('--pool-label <key>', 'node label holding the pool name (default: config alerts.admission.poolLabel)')
      .option('--gpu-resource <name>', 'GPU extended resource', DEFAULT_GPU_RESOURCE)
      .option('--capacity-type-label <key>', "node label with 'spot' / 'on-demand' on cloud nodes; '' = none", KARPENTER_CAPACITY_TYPE)
      .option('--no-burst-taint', 'burst nodes are not tainted: no taint on NodePools, no toleration on Kueue flavors')
      .option('--out <dir>', 'write the YAML into DIR instead of stdout')

  common(generate.command('kueue').description('ResourceFlavors and a ClusterQueue per pool: flavors on-prem -> cloud spot -> cloud on-demand, whenCanBorrow: TryNextFlavor'))
    .option('--onprem-gpus <n>', 'on-prem GPU capacity: N for a single pool, or POOL=N,POOL=N')
    .option('--from-store', 'read on-prem capacity now from the store (for pools --onprem-gpus does not give)')
    .option('--per-gpu <list>', 'other resources the queues cover, per GPU: cpu=16,memory=128Gi (default: GPUs only)')
    .option('--namespace-selector <list>', 'namespaces allowed to submit, as labels k=v,k=v (default: every namespace)')
    .option('--cohort <name>', 'cohort the ClusterQueues join (default: none)')
    .option('--queue-name <name>', 'ClusterQueue name with a single pool (default: the pool name)')
    .action(async (opts: CommonFlags & { onpremGpus?: string; fromStore?: boolean; perGpu?: string; namespaceSelector?: string; cohort?: string; queueName?: string }) => {
      const io = cliIo(loadConfig, deps)
      const base = commonOptions(io.config, opts)
      const onpremGpus = await onpremCapacity(io, base, opts.onpremGpus, opts.fromStore === true)
      const g = kueueObjects(io.config.alerts.burst, {
        ...base,
        onpremGpus,
        perGpu: parsePairs(opts.perGpu, '--per-gpu'),
        namespaceSelector: parsePairs(opts.namespaceSelector, '--namespace-selector'),
        cohort: opts.cohort,
        queueName: opts.queueName,
      })
      emit(io, deps, 'kueue', 'kueue.yaml', g, opts.out)
    })

  common(generate.command('cluster-autoscaler').description('the cluster-autoscaler-priority-expander ConfigMap: spot above on-demand, a low-priority .* catch-all'))
    .option('--namespace <ns>', 'namespace the cluster-autoscaler runs in', 'kube-system')
    .option('--node-group <list>', 'node-group name regex per target: TARGET=REGEX,... (default: ^ASG$ for aws-asg targets, else .*POOL.*)')
    .action((opts: CommonFlags & { namespace: string; nodeGroup?: string }) => {
      const io = cliIo(loadConfig, deps)
      const g = priorityExpanderObjects(io.config.alerts.burst, { ...commonOptions(io.config, opts), namespace: opts.namespace, nodeGroups: parsePairs(opts.nodeGroup, '--node-group') })
      emit(io, deps, 'cluster-autoscaler', 'cluster-autoscaler-priority-expander.yaml', g, opts.out)
    })

  common(generate.command('karpenter').description('Karpenter NodePools per cloud target: weights spot above on-demand, GPU limits from the policy'))
    .option('--node-class <ref>', 'NodeClass of the NodePools as GROUP/KIND/NAME', DEFAULT_NODE_CLASS)
    .option('--instance-types <list>', 'instance types: T|T for every target, or TARGET=T|T,...')
    .option('--provider <name>', "only targets of this provider (as in the targets' provider field); default: every target")
    .action((opts: CommonFlags & { nodeClass: string; instanceTypes?: string; provider?: string }) => {
      const io = cliIo(loadConfig, deps)
      const types = Object.fromEntries(Object.entries(parsePairs(opts.instanceTypes, '--instance-types', '*')).map(([k, v]) => [k, v.split('|').map((s) => s.trim()).filter(Boolean)]))
      const g = karpenterObjects(io.config.alerts.burst, { ...commonOptions(io.config, opts), nodeClass: parseNodeClassRef(opts.nodeClass), instanceTypes: types, provider: opts.provider })
      emit(io, deps, 'karpenter', 'karpenter-nodepools.yaml', g, opts.out)
    })
}

function commonOptions(config: Config, f: CommonFlags): CommonOptions {
  return {
    cluster: f.cluster,
    pool: f.pool,
    poolLabel: f.poolLabel ?? config.alerts.admission.poolLabel,
    gpuResource: f.gpuResource,
    capacityTypeLabel: f.capacityTypeLabel,
    burstToleration: f.burstTaint ? config.alerts.admission.toleration : undefined,
  }
}

/** On-prem GPUs by pool: the flag first, then (with --from-store) the capacity the store shows now. */
async function onpremCapacity(io: CliIo, o: CommonOptions, flag: string | undefined, fromStore: boolean): Promise<Record<string, number>> {
  const { cluster, pools } = selectPools(io.config.alerts.burst, o)
  const given = parsePairs(flag, '--onprem-gpus', '*')
  if ('*' in given && pools.length > 1) throw new InputError(`--onprem-gpus ${given['*']} is ambiguous with ${pools.length} pools: pass POOL=N for each`)
  const out: Record<string, number> = {}
  for (const [pool, text] of Object.entries(given)) {
    const n = Number(text)
    if (text === '' || !Number.isFinite(n) || n < 0) throw new InputError(`bad --onprem-gpus '${text}': expected a number of GPUs >= 0`)
    out[pool === '*' ? (pools[0]?.pool as string) : pool] = n
  }
  const missing = pools.filter((p) => out[p.pool] === undefined)
  if (fromStore && missing.length > 0) {
    const snap = await io.withStore((store) => fleetSnapshot(store.query, io.nowMs, 60_000))
    for (const p of missing) {
      const rows = snap.capacity.filter((r) => r.labels.cluster === cluster && r.labels.pool === p.pool)
      if (rows.length === 0) throw new InputError(`the store shows no capacity for pool ${cluster}/${p.pool} now: pass --onprem-gpus ${p.pool}=N`)
      out[p.pool] = rows.reduce((n, r) => n + r.value, 0)
    }
  }
  return out
}

function emit(io: CliIo, deps: GenerateDeps, kind: string, file: string, g: Generated, dir: string | undefined): void {
  const err = deps.err ?? ((text: string) => void process.stderr.write(`${text}\n`))
  for (const n of g.notes) err(`note: ${n}`)
  const yaml = renderYaml(kind, g)
  if (dir === undefined) return io.out(yaml.replace(/\n$/, ''))
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, file), yaml)
  io.out(`wrote ${join(dir, file)} (${g.objects.length} object(s))`)
}
