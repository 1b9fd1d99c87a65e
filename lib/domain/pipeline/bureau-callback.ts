// Use case for the credit bureau's signed callback (async mode), after the route verified its
// signature over the raw body (lib/webhooks/standard-webhooks.ts). ONE transaction:
//   1. acceptOnce(webhook-id): a replayed delivery changes nothing (its receipt exists);
//   2. the application waiting for THIS request id (bureau.requestId, status bureau_pending,
//      bureau.state 'waiting'): otherwise the callback is late (the application moved on, or a
//      newer request replaced this one) or unknown, and changes nothing;
//   3. the decision (bureau-decision.ts, the same rules as the worker's) written with a version
//      check, its audit entry, the rejection entries of the error log and — through the pipeline
//      hook on entering `approved` — the disbursement event.
// The receipt commits with the decision or not at all: a callback whose transaction failed is
// not remembered, so the bureau's retry is applied.
import { z } from 'zod';
import { inTransaction } from '../../db/transaction.js';
import { acceptOnce } from '../../webhooks/receipts.js';
import type { ApprovalPolicy } from '../applications/approval-policy.js';
import { changeApplication } from '../applications/commands.js';
import { findApplication, findByBureauRequest } from '../applications/repository.js';
import type { Status } from '../applications/status.js';
import { withHook } from '../context.js';
import type { ErrorLogContext } from '../error-log/context.js';
import { recordError } from '../error-log/record.js';
import { recordRejections } from '../error-log/rejections.js';
import { bureauReportSchema } from './bureau-client.js';
import { decisionFor, receivedReport } from './bureau-decision.js';

/** The receipts' source name (webhook_receipts _id = "credit-bureau:<webhook-id>"). */
export const BUREAU_WEBHOOK_SOURCE = 'credit-bureau';

/** Who decides in the audit trail when the bureau's callback completes the approval step. */
export const BUREAU_CALLBACK_ACTOR = { id: 'webhook:credit-bureau', email: 'credit-bureau-callback@creditdesk.internal' } as const;

/** The callback's payload (after verification). Unknown fields are ignored: a vendor may add some. */
export const bureauCallbackSchema = z.object({
  type: z.literal('credit_report.completed'),
  data: z.object({
    requestId: z.string().min(1).max(200),
    reference: z.string().max(200).nullable().optional(),
    report: bureauReportSchema,
  }),
});
export type BureauCallback = z.output<typeof bureauCallbackSchema>;

export type CallbackOutcome =
  | { kind: 'applied'; applicationId: string; status: Status }
  /** This webhook-id was accepted before (the bureau retried a delivery, or a replay). */
  | { kind: 'duplicate' }
  /** The application no longer waits for this request id. */
  | { kind: 'late'; applicationId: string; status: Status }
  /** No application has this request id. */
  | { kind: 'unknown_request' }
  /** The application it names (reference) is still in scoring: the worker has not recorded the 202 yet. */
  | { kind: 'not_ready'; applicationId: string };

class NotReady extends Error {
  constructor(readonly applicationId: string) {
    super(`application ${applicationId} has not recorded the bureau request yet`);
  }
}

export async function applyBureauCallback(
  ctx: ErrorLogContext,
  policy: ApprovalPolicy,
  webhookId: string,
  cb: BureauCallback,
  opts: { receiptTtlMs: number; requestId?: string | undefined },
): Promise<CallbackOutcome> {
  const { requestId, reference, report } = cb.data;
  const meta = { actor: BUREAU_CALLBACK_ACTOR, requestId: opts.requestId };
  const deciding = withHook(ctx, recordRejections(ctx.c, ctx.cfg.ERROR_LOG_RETENTION_DAYS));
  try {
    return await inTransaction(ctx.client, async (session): Promise<CallbackOutcome> => {
      if (!(await acceptOnce(ctx.db, BUREAU_WEBHOOK_SOURCE, webhookId, { session, ttlMs: opts.receiptTtlMs })))
        return { kind: 'duplicate' };
      const app = await findByBureauRequest(ctx.c, requestId, session);
      if (!app) {
        // The callback can overtake the worker's write of the 202 (callback delay < that write):
        // roll back (the receipt too) so the bureau's retry is applied.
        const named = reference ? await findApplication(ctx.c, reference, session) : null;
        if (named?.status === 'scoring') throw new NotReady(named._id);
        // A request a newer one replaced (the application it names moved on): late, not unknown.
        return named ? { kind: 'late', applicationId: named._id, status: named.status } : { kind: 'unknown_request' };
      }
      const waiting = app.status === 'bureau_pending' && app.bureau?.state === 'waiting' && app.bureau.requestId === requestId;
      if (!waiting || app.bureau?.state !== 'waiting') return { kind: 'late', applicationId: app._id, status: app.status };
      const received = receivedReport(app.bureau.vendor, 'async', report, requestId);
      const after = await changeApplication(deciding, app, decisionFor(app, policy, received), meta, 'system', session);
      return { kind: 'applied', applicationId: after._id, status: after.status };
    });
  } catch (e) {
    if (e instanceof NotReady) return { kind: 'not_ready', applicationId: e.applicationId };
    throw e;
  }
}

/** Why a callback was refused or changed nothing, for its error-log entry (code BUREAU_CALLBACK_<REASON>). */
export type CallbackRejection =
  | 'missing_headers'
  | 'bad_timestamp'
  | 'stale_timestamp'
  | 'bad_signature'
  | 'malformed'
  | 'not_configured'
  | 'duplicate'
  | 'late'
  | 'unknown_request';

/** Records a refused (or no-op) callback in the error log, category `vendor`: one entry per reason (and application when known). */
export function recordCallbackRejection(
  ctx: ErrorLogContext,
  reason: CallbackRejection,
  message: string,
  o: { applicationId?: string | undefined; requestId?: string | undefined } = {},
): Promise<void> {
  return recordError(
    ctx.c,
    {
      code: `BUREAU_CALLBACK_${reason.toUpperCase()}`,
      category: 'vendor',
      message,
      applicationId: o.applicationId,
      requestId: o.requestId,
    },
    { retentionDays: ctx.cfg.ERROR_LOG_RETENTION_DAYS },
  );
}
