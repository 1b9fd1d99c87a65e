// The ApplicationHooks that drive the pipeline: entering a pipeline state publishes the job for
// that state inside the same transaction (outbox), whoever made the change — the upload use case,
// a worker, or a reviewer approving manually through PUT or batch-update.
import type { Db } from 'mongodb';
import { publish } from '../../queue/index.js';
import type { ApplicationHooks, Deps } from '../applications/context.js';
import { EVENT, MAX_ATTEMPTS } from './events.js';

type Change = Parameters<NonNullable<ApplicationHooks['afterChange']>>[0];
const PIPELINE = Symbol('pipelineHooks');

export function pipelineHooks(db: Db): ApplicationHooks {
  const hooks: ApplicationHooks & { [PIPELINE]?: true } = {
    async afterChange({ before, after, meta, session }: Change) {
      if (before?.status === after.status) return;
      const opts = { session, ...(meta.requestId ? { requestId: meta.requestId } : {}) };
      const applicationId = after._id;
      if (after.status === 'ocr_pending') {
        const documentId = after.documents?.at(-1)?.id;
        if (typeof documentId !== 'string') throw new Error(`${applicationId} cannot wait for OCR without a document`);
        await publish(db, EVENT.ocr, { applicationId, documentId }, { ...opts, maxAttempts: MAX_ATTEMPTS[EVENT.ocr], dedupeKey: `ocr:${documentId}` });
      } else if (after.status === 'scoring') {
        await publish(db, EVENT.approval, { applicationId }, { ...opts, maxAttempts: MAX_ATTEMPTS[EVENT.approval], dedupeKey: `approval:${applicationId}:v${after.version}` });
      } else if (after.status === 'approved') {
        await publish(db, EVENT.disbursement, { applicationId }, { ...opts, maxAttempts: MAX_ATTEMPTS[EVENT.disbursement], dedupeKey: `disbursement:${applicationId}:v${after.version}` });
      }
    },
  };
  hooks[PIPELINE] = true;
  return hooks;
}

/** Calls each hook in order (e.g. the pipeline's and a use case's own, in one transaction). */
export function composeHooks(...list: Array<ApplicationHooks | undefined>): ApplicationHooks {
  const all = list.filter((h): h is ApplicationHooks => !!h?.afterChange);
  return { async afterChange(e) { for (const h of all) await h.afterChange!(e); } };
}

/** `deps` with the pipeline hooks present exactly once (server/main.ts normally wires them). */
export function withPipelineHooks(deps: Deps): Deps {
  if ((deps.hooks as { [PIPELINE]?: true } | undefined)?.[PIPELINE]) return deps;
  const db = deps.client.db(deps.c.applications.dbName);
  return { ...deps, hooks: deps.hooks ? composeHooks(deps.hooks, pipelineHooks(db)) : pipelineHooks(db) };
}
