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
