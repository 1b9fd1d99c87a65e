// The ApplicationHooks that drive the pipeline: entering a pipeline state publishes the job for
// that state inside the same transaction (outbox), whoever made the change — the upload use case,
// a worker, or a reviewer approving manually through PUT or batch-update. The process context
// installs them once, so every change in the process goes through them.
import type { Db } from 'mongodb';
import { type Publication, publishAll } from '../../queue/index.js';
import type { ApplicationChange, ApplicationHooks } from '../context.js';
import { EVENT } from './events.js';

/** The job a change starts, if it enters a pipeline state; null otherwise. */
function jobFor({ before, after, meta }: ApplicationChange): Publication | null {
  if (before?.status === after.status) return null;
  // Leaving `failed` is a dead-letter retry (retry-dead-letters.ts): the retried event is that stage's job.
  if (before?.status === 'failed') return null;
  const requestId = meta.requestId ? { requestId: meta.requestId } : {};
  const applicationId = after._id;
  if (after.status === 'ocr_pending') {
    const documentId = after.documents?.at(-1)?.id;
    if (documentId === undefined) throw new Error(`${applicationId} cannot wait for OCR without a document`);
    return { type: EVENT.ocr, payload: { applicationId, documentId }, opts: { ...requestId, dedupeKey: `ocr:${documentId}` } };
  }
  if (after.status === 'scoring') {
    return {
      type: EVENT.approval,
      payload: { applicationId },
      opts: { ...requestId, dedupeKey: `approval:${applicationId}:v${after.version}` },
    };
  }
  if (after.status === 'approved') {
    return {
      type: EVENT.disbursement,
      payload: { applicationId },
      opts: { ...requestId, dedupeKey: `disbursement:${applicationId}:v${after.version}` },
    };
  }
  return null;
}

export function pipelineHooks(db: Db): ApplicationHooks {
  return {
    async afterChanges(changes, session) {
      const jobs = changes.map(jobFor).filter((j): j is Publication => j !== null);
      await publishAll(db, jobs, session);
    },
  };
}
