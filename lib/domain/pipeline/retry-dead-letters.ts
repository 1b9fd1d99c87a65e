// Retrying dead letters (admin API), so that an application comes back into the pipeline the
// same way whichever path dead-lettered its event. In ONE transaction per batch:
//   - each event goes back to pending, due now, with a fresh attempt budget (history kept);
//   - an application that its stage failed BY THAT EVENT (failure.eventId, written by the give-up
//     hook) goes back to the stage's waiting state — ocr → ocr_pending, approval → scoring —
//     audited as the admin who asked. The retried event is that stage's job, so the pipeline hook
//     publishes nothing when an application leaves `failed`.
// Any other dead letter (disbursement: its application stays `disbursing`; or an application
// that has moved on) is only requeued; its handler skips what no longer applies.
import type { ObjectId } from 'mongodb';
import { inTransaction } from '../../db/transaction.js';
import { deadLetterIds, requeueDeadLetters } from '../../queue/index.js';
import { changeApplication } from '../applications/commands.js';
import { findFailedBy } from '../applications/repository.js';
import type { Status } from '../applications/status.js';
import type { FailedStage } from '../applications/types.js';
import type { DomainContext, Meta } from '../context.js';

const RESUME: Record<FailedStage, Status> = { ocr: 'ocr_pending', approval: 'scoring' };
const BATCH = 200;

export interface RetryResult {
  retried: number;
  resumed: Array<{ applicationId: string; status: Status }>;
}

async function retryBatch(ctx: DomainContext, ids: ObjectId[], meta: Meta): Promise<RetryResult> {
  return inTransaction(ctx.client, async (session) => {
    const events = await requeueDeadLetters(ctx.db, ids, session);
    const byId = new Set(events.map((e) => e._id.toHexString()));
    const resumed: RetryResult['resumed'] = [];
    for (const app of await findFailedBy(ctx.c, [...byId], session)) {
      if (!app.failure) continue;
      const status = RESUME[app.failure.stage];
      await changeApplication(ctx, app, { status }, meta, 'system', session);
      resumed.push({ applicationId: app._id, status });
    }
    return { retried: events.length, resumed };
  });
}

/** One dead letter; `retried: 0` when there is no dead letter with that id. */
export function retryDeadLetter(ctx: DomainContext, id: ObjectId, meta: Meta): Promise<RetryResult> {
  return retryBatch(ctx, [id], meta);
}

/** Every dead letter matching `filter`, in batches (each batch its own transaction). */
export async function retryDeadLetters(ctx: DomainContext, filter: { type?: string }, meta: Meta): Promise<RetryResult> {
  const total: RetryResult = { retried: 0, resumed: [] };
  for (let round = 0; round < 100_000; round++) {
    const ids = await deadLetterIds(ctx.db, filter, BATCH);
    if (ids.length === 0) break;
    const r = await retryBatch(ctx, ids, meta);
    total.retried += r.retried;
    total.resumed.push(...r.resumed);
    if (r.retried === 0) break; // nothing movable (retried concurrently): do not spin
  }
  return total;
}
