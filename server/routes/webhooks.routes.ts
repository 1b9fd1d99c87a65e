// Incoming vendor webhooks (mounted at /api/webhooks BEFORE any JSON body parser: the signature is
// over the raw bytes). POST /api/webhooks/credit-bureau: the credit bureau's signed callback
// (Standard Webhooks; lib/webhooks/standard-webhooks.ts) completing an application's async bureau
// step (lib/domain/pipeline/bureau-callback.ts). In order:
//   raw body (express.raw, BODY_LIMIT_BYTES; 413 beyond) → verify webhook-id/-timestamp/-signature
//   against every BUREAU_WEBHOOK_SECRETS entry (rotation), ±BUREAU_WEBHOOK_TOLERANCE_SECONDS →
//   only then JSON.parse and the payload schema → one transaction: receipt (acceptOnce) + state
//   check + decision + next event.
// Answers (Standard Webhooks: 2xx = delivered, anything else is retried by the sender):
//   200 {outcome: applied | duplicate | late}: duplicate (the webhook-id was accepted before) and
//       late (the application no longer waits for that request) change nothing; 2xx so the
//       bureau stops retrying them;
//   401 verification failed (missing headers, unreadable or stale timestamp, bad signature);
//   400 verified but unusable (not JSON, not a credit report, unknown request id);
//   503 + Retry-After: no secrets configured, or the callback overtook the worker's record of
//       the request (rolled back, the receipt too: the bureau's retry is applied).
// Every refused or no-op callback (all but `applied` and the overtaking one) gets an error-log
// entry, category `vendor`, code BUREAU_CALLBACK_<REASON>.
import express, { type Request, Router } from 'express';
import { z } from 'zod';
import {
  applyBureauCallback,
  bureauCallbackSchema,
  type CallbackRejection,
  recordCallbackRejection,
} from '../../lib/domain/pipeline/bureau-callback.js';
import { STATUSES } from '../../lib/domain/applications/status.js';
import { AppError } from '../../lib/errors.js';
import { verify, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP } from '../../lib/webhooks/standard-webhooks.js';
import type { ApiContext } from '../context.js';
import { routes } from '../openapi/operation.js';

const callbackAnswer = z.object({
  received: z.literal(true),
  outcome: z.enum(['applied', 'duplicate', 'late']).meta({
    description: 'applied: the report decided the application; duplicate / late: nothing changed (recorded in the error log)',
  }),
  applicationId: z.string().optional(),
  status: z.enum(STATUSES).optional().meta({ description: "the application's status after the callback" }),
});

export function webhookRoutes(d: ApiContext): Router {
  const r = Router();
  const t = routes(r);
  const secrets = d.cfg.BUREAU_WEBHOOK_SECRETS ?? [];
  const policy = { dualApprovalAbove: d.cfg.DUAL_APPROVAL_ABOVE };
  const receiptTtlMs = d.cfg.BUREAU_WEBHOOK_RECEIPT_TTL_HOURS * 3_600_000;

  /** Records the refusal in the error log, then answers it as a problem. */
  const refuse = async (req: Request, status: number, reason: CallbackRejection, detail: string, applicationId?: string) => {
    const id = req.get(WEBHOOK_ID) ?? '(none)';
    await recordCallbackRejection(d, reason, `credit-bureau callback ${id.slice(0, 100)}: ${detail}`, {
      applicationId,
      requestId: String(req.id),
    });
    return new AppError(status, `webhook_${reason}`, detail);
  };

  t.post(
    '/credit-bureau',
    {
      summary: "The credit bureau's signed callback with an applicant's report (async bureau mode)",
      description:
        'Standard Webhooks: HMAC-SHA-256 over `id.timestamp.body` with any configured secret (two during a rotation), ' +
        'timestamp within ±5 min, each webhook-id applied once. Body: `{"type":"credit_report.completed","data":{"requestId",' +
        '"reference","report":{"reportId","score","openAccounts","defaults","identityMatch"}}}` (verified on the raw bytes ' +
        'before it is parsed). Applies only while the application waits for that request id (bureau_pending).',
      tags: ['webhooks'],
      security: 'webhook',
      headers: {
        [WEBHOOK_ID]: 'the delivery id (the same on retries)',
        [WEBHOOK_TIMESTAMP]: 'unix seconds when it was signed',
        [WEBHOOK_SIGNATURE]: 'space-separated v1,<base64 signature> entries',
      },
      before: [express.raw({ type: () => true, limit: d.cfg.BODY_LIMIT_BYTES })],
      responses: {
        200: { description: 'delivered: applied, or a duplicate / late callback that changed nothing', schema: callbackAnswer },
        400: { description: 'verified, but not a credit report for a known request' },
        401: { description: 'missing signature headers, a timestamp outside the tolerance, or no valid signature' },
        413: { description: 'body larger than BODY_LIMIT_BYTES' },
        503: { description: 'webhooks not configured (BUREAU_WEBHOOK_SECRETS), or the request is not recorded yet: retry (Retry-After)' },
      },
    },
    async (_input, req, res) => {
      const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (secrets.length === 0) {
        res.setHeader('Retry-After', '60');
        throw await refuse(req, 503, 'not_configured', 'BUREAU_WEBHOOK_SECRETS is not set on this instance');
      }
      const verdict = verify(secrets, req.headers, raw, { toleranceSeconds: d.cfg.BUREAU_WEBHOOK_TOLERANCE_SECONDS });
      if (!verdict.ok) throw await refuse(req, 401, verdict.reason, `signature verification failed: ${verdict.reason}`);
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        throw await refuse(req, 400, 'malformed', 'the body is not JSON');
      }
      const cb = bureauCallbackSchema.safeParse(json);
      if (!cb.success) throw await refuse(req, 400, 'malformed', `not a credit report callback: ${cb.error.issues[0]?.message ?? ''}`);
      const out = await applyBureauCallback(d, policy, verdict.id, cb.data, { receiptTtlMs, requestId: String(req.id) });
      const requestId = cb.data.data.requestId;
      switch (out.kind) {
        case 'applied':
          res.json({ received: true, outcome: 'applied', applicationId: out.applicationId, status: out.status });
          return;
        case 'duplicate':
          await recordCallbackRejection(d, 'duplicate', `credit-bureau callback ${verdict.id}: already received (request ${requestId})`, {
            requestId: String(req.id),
          });
          res.json({ received: true, outcome: 'duplicate' });
          return;
        case 'late':
          await recordCallbackRejection(
            d,
            'late',
            `credit-bureau callback ${verdict.id}: the application no longer waits for request ${requestId} (status ${out.status})`,
            { applicationId: out.applicationId, requestId: String(req.id) },
          );
          res.json({ received: true, outcome: 'late', applicationId: out.applicationId, status: out.status });
          return;
        case 'unknown_request':
          throw await refuse(req, 400, 'unknown_request', `no application waits for bureau request ${requestId}`);
        case 'not_ready':
          res.setHeader('Retry-After', '1');
          throw new AppError(503, 'webhook_not_ready', `application ${out.applicationId} has not recorded request ${requestId} yet; retry`);
      }
    },
  );
  return r;
}
