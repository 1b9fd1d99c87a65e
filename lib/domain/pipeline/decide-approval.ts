// Use case for the approval worker: apply the risk rules and write the decision back with a
// version check (scoring → approved | rejected | pending_review) plus audit; entering `approved`
// publishes `disbursement.requested` in the same transaction (pipeline hook). An automatic approval
// above the dual-approval threshold is recorded as the first approval only: the application waits
// in awaiting_second_approval for a person's approval (approval-policy.ts). A rejection records
// each rejecting reason in the error log in the decision's transaction (error-log/rejections.ts).
import { PermanentError } from '../../queue/index.js';
import { type ApprovalPolicy, planApproval } from '../applications/approval-policy.js';
import { updateWithRetry } from '../applications/commands.js';
import { findApplication } from '../applications/repository.js';
import type { ApplicationDoc } from '../applications/types.js';
import { withHook } from '../context.js';
import type { ErrorLogContext } from '../error-log/context.js';
import { recordRejections } from '../error-log/rejections.js';
import { assess } from '../risk/assess.js';
import type { RiskInput } from '../risk/types.js';
import { WORKER_ACTORS, type ApprovalRequested } from './events.js';

function riskInputOf(doc: ApplicationDoc): RiskInput {
  return {
    amount: doc.amount,
    income: doc.income,
    creditScore: doc.creditScore,
    age: doc.applicant.age,
    declaredName: doc.applicant.name,
    ocr: doc.ocr?.fields,
  };
}

export async function decideApproval(
  ctx: ErrorLogContext,
  policy: ApprovalPolicy,
  p: ApprovalRequested,
  job: { requestId?: string | undefined },
) {
  const app = await findApplication(ctx.c, p.applicationId);
  if (!app) throw new PermanentError(`application ${p.applicationId} does not exist`);
  if (app.status !== 'scoring') return { outcome: 'skipped', status: app.status };

  const after = await updateWithRetry(
    withHook(ctx, recordRejections(ctx.c, ctx.cfg.ERROR_LOG_RETENTION_DAYS)),
    app,
    (doc) => {
      if (doc.status !== 'scoring') return null;
      const a = assess(riskInputOf(doc));
      const risk = { decision: a.decision, score: a.score, reasons: a.reasons, assessedAt: new Date() };
      if (a.decision !== 'approved') return { status: a.decision, risk };
      const approval = planApproval(doc, WORKER_ACTORS.approval, policy, doc.termsChangedBy, true);
      if (approval.kind === 'refused') throw new Error(approval.reason); // never for an automatic approval
      return { status: approval.status, approvals: approval.approvals, risk };
    },
    { actor: WORKER_ACTORS.approval, requestId: job.requestId },
  );
  return { outcome: after.status, score: after.risk?.score };
}
