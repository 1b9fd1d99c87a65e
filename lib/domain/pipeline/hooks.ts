// The ApplicationHooks that drive the pipeline: entering a pipeline state publishes the job for
// that state inside the same transaction (outbox), whoever made the change — the upload use case,
// a worker, or a reviewer approving manually through PUT or batch-update. The process context
// installs them once, so every change in the process goes through them.
import type { Db } from 'mongodb';
import { publish } from '../../queue/index.js';
import type { ApplicationHooks } from '../context.js';
import { EVENT } from './events.js';

export function pipelineHooks(db: Db): ApplicationHooks {
  return {
    async afterChange({ before, after, meta, session }) {
      if (before?.status === after.status) return;
      // Leaving `failed` is a dead-letter retry (retry-stage.ts): the retried event is that stage's job.
      if (before?.status === 'failed') return;
      const opts = { session, ...(meta.requestId ? { requestId: meta.requestId } : {}) };
      const applicationId = after._id;
      if (after.status === 'ocr_pending') {
        const documentId = after.documents?.at(-1)?.id;
        if (documentId === undefined) throw new Error(`${applicationId} cannot wait for OCR without a document`);
        await publish(db, EVENT.ocr, { applicationId, documentId }, { ...opts, dedupeKey: `ocr:${documentId}` });
      } else if (after.status === 'scoring') {
        await publish(db, EVENT.approval, { applicationId }, { ...opts, dedupeKey: `approval:${applicationId}:v${after.version}` });
      } else if (after.status === 'approved') {
        await publish(db, EVENT.disbursement, { applicationId }, { ...opts, dedupeKey: `disbursement:${applicationId}:v${after.version}` });
      }
    },
  };
}
