import { z } from 'zod'

/**
 * Leader election for the scheduler role (alerts, enforcer, burst): replicas
 * of gpuscope compete for one Kubernetes Lease (coordination.k8s.io/v1) and
 * only its holder acts (alerts/leader/lease.ts). Off by default: a single
 * embedded process needs no election.
 */

const ms = z.number().int().positive()
const dnsLabel = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label (a-z, 0-9, -)')
const dnsSubdomain = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, 'must be a DNS subdomain (a-z, 0-9, -, .)')

/** Leader election settings; the three durations follow client-go's leaderelection. */
export const leaderElectionSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Namespace of the Lease (the service account needs get/create/update on leases there). */
    namespace: dnsLabel.default('gpuscope'),
    leaseName: dnsSubdomain.default('gpuscope-scheduler'),
    /** This replica's holderIdentity; empty = hostname and pid (a pod's hostname is its name). */
    identity: z.string().max(253).default(''),
    /** Path to a kubeconfig; empty = the in-cluster service account. */
    kubeconfig: z.string().default(''),
    /** Context in the kubeconfig; empty = its current-context. */
    context: z.string().default(''),
    /** How long others wait, after they last saw the Lease change, before they may take it (written as whole seconds, rounded up). */
    leaseDurationMs: ms.min(1_000, 'must be at least 1000 (a Lease counts whole seconds)').default(15_000),
    /** The leader stops acting when it has not renewed for this long. */
    renewDeadlineMs: ms.default(10_000),
    /** Interval between attempts to acquire or renew. */
    retryPeriodMs: ms.default(2_000),
  })
  .refine((l) => l.retryPeriodMs < l.renewDeadlineMs, {
    message: 'retryPeriodMs must be less than renewDeadlineMs (the leader must get at least one more try before it steps down)',
    path: ['retryPeriodMs'],
  })
  .refine((l) => l.renewDeadlineMs < l.leaseDurationMs, {
    message: 'renewDeadlineMs must be less than leaseDurationMs (the leader must step down before others may take the lease)',
    path: ['renewDeadlineMs'],
  })

/** Validated leader election settings. */
export type LeaderElectionConfig = z.infer<typeof leaderElectionSchema>
