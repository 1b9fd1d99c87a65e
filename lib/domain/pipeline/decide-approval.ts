// Use case for the approval worker: the credit bureau's report (when a bureau is configured), the
// risk rules, and the decision written back with a version check plus audit; entering `approved`
// publishes `disbursement.requested` in the same transaction (pipeline hook). An automatic approval
// above the dual-approval threshold is recorded as the first approval only: the application waits
// in awaiting_second_approval for a person's approval (approval-policy.ts). A rejection records
// each rejecting reason in the error log in the decision's transaction (error-log/rejections.ts).
//
// The bureau step (ADR 0020):
//   no bureau configured (BUREAU_URL unset) → decide on the declared figures and OCR only;
//   sync report → decide now, the report stored on the application (bureau.state 'received');
//   async 202 → scoring → bureau_pending with the bureau's request id; the event completes (no
//     lane waits); the signed callback decides (bureau-callback.ts);
//   unavailable (breaker open, shared rate limit used up, vendor errors) → the application shows
//     the transient VENDOR_UNAVAILABLE reason and the event is rescheduled for the retry time
//     (RescheduleError: not an attempt, never dead-lettered because of an outage).
import type { ApprovalPolicy } from '../applications/approval-policy.js';
import { updateWithRetry } from '../applications/commands.js';
import { findApplication } from '../applications/repository.js';
import type { ApplicationDoc } from '../applications/types.js';
import { withHook } from '../context.js';
import type { ErrorLogContext } from '../error-log/context.js';
import { recordRejections } from '../error-log/rejections.js';
import { vendorUnavailable } from '../risk/assess.js';
import { PermanentError, RescheduleError } from '../../queue/index.js';
import type { BureauRequester } from './bureau-client.js';
import { decisionFor, receivedReport } from './bureau-decision.js';
import { WORKER_ACTORS, type ApprovalRequested } from './events.js';

/** Events waiting for the bureau are rescheduled to its retry time plus up to this much (uniform). */
const RESCHEDULE_SPREAD_MS = 250;

export interface ApprovalJob {
  requestId?: string | undefined;
  signal?: AbortSignal | undefined;
}

export async function decideApproval(
  ctx: ErrorLogContext,
  policy: ApprovalPolicy,
  p: ApprovalRequested,
  job: ApprovalJob,
  bureau?: BureauRequester,
) {
  const app = await findApplication(ctx.c, p.applicationId);
  if (!app) throw new PermanentError(`application ${p.applicationId} does not exist`);
  if (app.status !== 'scoring') return { outcome: 'skipped', status: app.status };
  const meta = { actor: WORKER_ACTORS.approval, requestId: job.requestId };
  const deciding = withHook(ctx, recordRejections(ctx.c, ctx.cfg.ERROR_LOG_RETENTION_DAYS));
  const stillScoring = (doc: ApplicationDoc) => doc.status === 'scoring';

  if (!bureau) {
    const after = await updateWithRetry(deciding, app, (doc) => (stillScoring(doc) ? decisionFor(doc, policy) : null), meta);
    return { outcome: after.status, score: after.risk?.score };
  }

  const answer = await bureau.request(app, job.signal);
  if (answer.kind === 'unavailable') {
    await showUnavailable(ctx, app, bureau, answer.reason, answer.retryAt, meta);
    // Spread the waiting events over a short window, so they do not all wake at the same instant
    // (the breaker's openUntil is the same for every one of them) and meet a half-open breaker at once.
    const at = new Date(answer.retryAt.getTime() + Math.floor(Math.random() * RESCHEDULE_SPREAD_MS));
    throw new RescheduleError(at, `${bureau.vendor}: ${answer.reason}${answer.detail ? ` (${answer.detail})` : ''}`);
  }
  if (answer.kind === 'accepted') {
    const after = await updateWithRetry(
      ctx,
      app,
      (doc) =>
        stillScoring(doc)
          ? {
              status: 'bureau_pending',
              bureau: {
                state: 'waiting',
                vendor: bureau.vendor,
                mode: answer.mode,
                requestId: answer.requestId,
                requestedAt: new Date(),
                reasons: [],
              },
            }
          : null,
      meta,
    );
    return { outcome: after.status, bureauRequestId: answer.requestId };
  }
  const report = receivedReport(bureau.vendor, answer.mode, answer.report);
  const after = await updateWithRetry(deciding, app, (doc) => (stillScoring(doc) ? decisionFor(doc, policy, report) : null), meta);
  return { outcome: after.status, score: after.risk?.score, reportId: answer.report.reportId };
}

/**
 * Marks the application as waiting for the bureau with the transient VENDOR_UNAVAILABLE reason
 * (one write per outage and application: skipped when it already shows it).
 */
async function showUnavailable(
  ctx: ErrorLogContext,
  app: ApplicationDoc,
  bureau: BureauRequester,
  why: string,
  retryAt: Date,
  meta: { actor: (typeof WORKER_ACTORS)['approval']; requestId?: string | undefined },
): Promise<void> {
  const shown = (doc: ApplicationDoc) => doc.bureau?.state === 'waiting' && doc.bureau.reasons.some((r) => r.code === 'VENDOR_UNAVAILABLE');
  await updateWithRetry(
    ctx,
    app,
    (doc) =>
      doc.status !== 'scoring' || shown(doc)
        ? null
        : {
            bureau: {
              state: 'waiting',
              vendor: bureau.vendor,
              mode: bureau.mode,
              requestedAt: new Date(),
              reasons: [vendorUnavailable(bureau.vendor, why, retryAt)],
              retryAt,
            },
          },
    meta,
  );
}
