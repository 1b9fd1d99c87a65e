// Which jobs each worker role runs and how many at once.
import type { WorkerConfig, WorkerRole } from '../lib/config.js';
import type { JobDefinition } from '../lib/queue/index.js';
import type { WorkerContext } from './context.js';
import { approvalJob } from './jobs/approval.job.js';
import { disbursementJob } from './jobs/disbursement.job.js';
import { ocrJob } from './jobs/ocr.job.js';

export function jobsFor(role: WorkerRole, ctx: WorkerContext): JobDefinition<unknown>[] {
  switch (role) {
    case 'ocr':
      return [ocrJob(ctx)];
    case 'approval':
      return [approvalJob(ctx)];
    case 'disbursement':
      return [disbursementJob(ctx)];
  }
}

export function concurrencyFor(role: WorkerRole, cfg: WorkerConfig): number {
  return { ocr: cfg.WORKER_CONCURRENCY_OCR, approval: cfg.WORKER_CONCURRENCY_APPROVAL, disbursement: cfg.WORKER_CONCURRENCY_DISBURSEMENT }[
    role
  ];
}

/**
 * The reconciler (workers/jobs/reconcile.job.ts) is a duty of the disbursement role, not a role of
 * its own: it must ask the payment gateway for a payment by idempotency key and finish
 * disbursements under the loan lock, and the disbursement workers are the processes that have the
 * gateway client (and, in compose, the only ones on the network that reaches it). Every process of
 * the role competes for the one lease, so there is no extra process to deploy, and replicas give it
 * a stand-by.
 */
export function runsReconciler(cfg: WorkerConfig): boolean {
  return cfg.RECONCILE_ENABLED && cfg.WORKER_ROLES.includes('disbursement');
}
