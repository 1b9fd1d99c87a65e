// The job-failure policy of the stages that must not leave an application hanging (OCR,
// approval): when the queue gives up on the stage's event — on whichever path — the application
// moves from `from` to `failed` with the reason, in the dead-letter transaction.
import { z } from 'zod';
import { applicationId } from '../../lib/domain/applications/schemas.js';
import type { Status } from '../../lib/domain/applications/status.js';
import type { FailedStage } from '../../lib/domain/applications/types.js';
import type { Actor } from '../../lib/domain/users/types.js';
import { markFailed } from '../../lib/domain/pipeline/mark-failed.js';
import type { GiveUpInfo } from '../../lib/queue/index.js';
import type { WorkerContext } from '../context.js';

/** Even an invalid payload usually still names its application. */
const namesApplication = z.object({ applicationId });

export function failApplicationOnGiveUp(ctx: WorkerContext, stage: FailedStage, from: Status, actor: Actor) {
  return async (payload: { applicationId: string } | undefined, info: GiveUpInfo): Promise<void> => {
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
