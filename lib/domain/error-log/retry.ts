// POST /api/loans/errors/:id/retry: re-runs the step an entry records, when there is one to re-run.
// A dead-lettered event is retried by the dead-letter rule (retry-dead-letters.ts: the event back
// to pending and, in the same transaction, the application its stage had failed back to the
// stage's waiting state, audited as the admin). Retrying is idempotent by state: once the event
// is no longer dead (retried, running, completed, purged) a second retry changes nothing and is a
// 409 `not_dead_lettered`; if the event dead-letters again, the entry's count grows and it can be
// retried again. Validation failures and rule rejections have nothing to re-run: 409
// `not_retryable` (the partner resubmits a corrected request under a new key).
import { ObjectId } from 'mongodb';
import { AppError, notFound } from '../../errors.js';
import { recordAction } from '../audit.js';
import type { DomainContext, Meta } from '../context.js';
import { type RetryResult, retryDeadLetter } from '../pipeline/retry-dead-letters.js';

export interface EntryRetried {
  retried: true;
  id: string;
  eventId: string;
  stage: string;
  resumed: RetryResult['resumed'];
}

export async function retryErrorEntry(ctx: DomainContext, id: ObjectId, meta: Meta): Promise<EntryRetried> {
  const entry = await ctx.c.errorLog.findOne({ _id: id });
  if (!entry) throw notFound(`no error-log entry ${id.toHexString()}`);
  const target = entry.retry;
  if (!target || !ObjectId.isValid(target.eventId)) {
    throw new AppError(
      409,
      'not_retryable',
      `${entry.code} (${entry.category}) has no failed step to re-run: the partner corrects the request and resubmits it under a new Idempotency-Key (or a new loanId)`,
      { code: entry.code, category: entry.category },
    );
  }
  const r = await retryDeadLetter(ctx, new ObjectId(target.eventId), meta);
  if (r.retried === 0) {
    throw new AppError(
      409,
      'not_dead_lettered',
      `event ${target.eventId} is no longer dead-lettered (already retried, or purged): nothing was done`,
      { eventId: target.eventId },
    );
  }
  const at = new Date();
  await ctx.c.errorLog.updateOne(
    { _id: id },
    { $set: { lastRetry: { at, by: meta.actor, ...(meta.requestId ? { requestId: meta.requestId } : {}) } } },
  );
  await recordAction(ctx.c, {
    entity: 'dead_letter',
    entityId: target.eventId,
    action: 'error_log.retried',
    actor: meta.actor,
    requestId: meta.requestId,
    details: { errorLogId: id.toHexString(), code: entry.code, resumed: r.resumed },
  });
  return { retried: true, id: id.toHexString(), eventId: target.eventId, stage: target.stage, resumed: r.resumed };
}
