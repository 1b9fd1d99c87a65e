// The job-failure policy of the stages that must not leave an application hanging (OCR,
// approval): when the queue gives up on the stage's event — on whichever path — the application
// moves from `from` to `failed` with the reason, in the dead-letter transaction. Every give-up,
// of every job type (disbursement included, through recordGiveUp), also becomes an error-log
// entry in that same transaction (lib/domain/error-log/dead-letters.ts), so ops can find and
// retry it from GET /api/loans/errors.
import { z } from 'zod';
import { applicationId } from '../../lib/domain/applications/schemas.js';
import type { Status } from '../../lib/domain/applications/status.js';
import type { FailedStage } from '../../lib/domain/applications/types.js';
import type { Actor } from '../../lib/domain/users/types.js';
import { recordDeadLetter } from '../../lib/domain/error-log/dead-letters.js';
import { markFailed } from '../../lib/domain/pipeline/mark-failed.js';
import type { GiveUpInfo } from '../../lib/queue/index.js';
import type { WorkerContext } from '../context.js';

/** Even an invalid payload usually still names its application. */
const namesApplication = z.object({ applicationId });

export function failApplicationOnGiveUp(ctx: WorkerContext, stage: FailedStage, from: Status, actor: Actor) {
  return async (payload: { applicationId: string } | undefined, info: GiveUpInfo): Promise<void> => {
    await recordDeadLetter(ctx, info);
    const id = payload?.applicationId ?? namesApplication.safeParse(info.rawPayload).data?.applicationId;
    if (!id) {
      info.log.error({ reason: info.reason }, 'gave up on an event that names no application');
      return;
    }
    const reason = `${info.reason} after ${info.attempts} attempt(s): ${info.lastError}`;
    await markFailed(
      ctx,
      { applicationId: id, from, stage, reason, eventId: info.eventId },
      { actor, requestId: info.requestId },
      info.session,
    );
  };
}

/** The give-up policy of a stage whose application must stay where it is (disbursement: money may
 * have moved): only the error-log entry, in the dead-letter transaction. */
export function recordGiveUp(ctx: WorkerContext) {
  return (_payload: unknown, info: GiveUpInfo): Promise<void> => recordDeadLetter(ctx, info);
}
