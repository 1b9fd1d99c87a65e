// When a pipeline stage gives up on an application (its job is dead-lettered, on whichever path),
// the application moves to `failed` with the reason, so it never sits in a transient state
// forever. It runs in the queue's dead-letter transaction: the event is dead and the application
// failed together, or neither. Retrying that dead letter resumes the stage (retry-stage.ts).
// Disbursement never uses this: money may have moved, so a stuck disbursement stays `disbursing`
// and its dead letter is retried by an operator (disbursing is idempotent).
import type { ClientSession } from 'mongodb';
import { changeApplication } from '../applications/commands.js';
import { findApplication } from '../applications/repository.js';
import type { Status } from '../applications/status.js';
import type { FailedStage } from '../applications/types.js';
import type { DomainContext, Meta } from '../context.js';

export interface StageFailure {
  applicationId: string;
  from: Status;
  stage: FailedStage;
  reason: string;
  eventId: string;
}

export async function markFailed(ctx: DomainContext, f: StageFailure, meta: Meta, session: ClientSession): Promise<void> {
  const app = await findApplication(ctx.c, f.applicationId, session);
  if (!app || app.status !== f.from) return; // gone, or the stage's work is no longer awaited
  await changeApplication(
    ctx,
    app,
    {
      status: 'failed',
      failure: { stage: f.stage, reason: f.reason.slice(0, 500), at: new Date(), eventId: f.eventId },
    },
    meta,
    'system',
    session,
  );
}
