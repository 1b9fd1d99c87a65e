// Source 3 (and 4 for OCR): every event the queue gives up on becomes an entry, written by the
// job's onGiveUp hook in the dead-letter transaction (workers/jobs/fail-application.ts), so the
// event is dead exactly when its entry records it. The entry names the dead event and its type
// (`retry`): POST /api/loans/errors/:id/retry requeues that event.
import { z } from 'zod';
import type { GiveUpInfo } from '../../queue/index.js';
import { applicationId } from '../applications/schemas.js';
import { findApplication } from '../applications/repository.js';
import { deadLetterCode } from './codes.js';
import type { ErrorLogContext } from './context.js';
import { recordError } from './record.js';

/** Even an invalid payload usually still names its application. */
const namesApplication = z.object({ applicationId });

export async function recordDeadLetter(ctx: ErrorLogContext, info: GiveUpInfo): Promise<void> {
  const id = namesApplication.safeParse(info.rawPayload).data?.applicationId;
  const app = id ? await findApplication(ctx.c, id, info.session) : null;
  const { code, category } = deadLetterCode(info.type);
  await recordError(
    ctx.c,
    {
      code,
      category,
      message: `${info.type} gave up (${info.reason}) after ${info.attempts} attempt(s): ${info.lastError}`,
      applicationId: id,
      loanId: app?.intake?.loanId,
      partnerId: app?.intake?.partnerId,
      requestId: info.requestId,
      retry: { eventId: info.eventId, stage: info.type },
    },
    { retentionDays: ctx.cfg.ERROR_LOG_RETENTION_DAYS, session: info.session },
  );
}
