// Use case for the approval worker: apply the risk rules and write the decision back with a
// version check (scoring → approved | rejected | pending_review) plus audit; entering `approved`
// publishes `disbursement.requested` in the same transaction (pipeline hook).
import { PermanentError } from '../../queue/index.js';
import { updateWithRetry } from '../applications/commands.js';
import { findApplication } from '../applications/repository.js';
import type { ApplicationDoc } from '../applications/types.js';
import type { DomainContext } from '../context.js';
import { assess } from '../risk/assess.js';
import type { RiskInput } from '../risk/types.js';
import { WORKER_ACTORS, type ApprovalRequested } from './events.js';

export function riskInputOf(doc: ApplicationDoc): RiskInput {
  return {
    amount: doc.amount,
    income: doc.income,
    creditScore: doc.creditScore,
    age: doc.applicant.age,
    declaredName: doc.applicant.name,
    ocr: doc.ocr?.fields,
  };
}

export async function decideApproval(ctx: DomainContext, p: ApprovalRequested, job: { requestId?: string | undefined }) {
  const app = await findApplication(ctx.c, p.applicationId);
  if (!app) throw new PermanentError(`application ${p.applicationId} does not exist`);
  if (app.status !== 'scoring') return { outcome: 'skipped', status: app.status };

  const after = await updateWithRetry(
    ctx,
    app,
    (doc) => {
      if (doc.status !== 'scoring') return null;
      const a = assess(riskInputOf(doc));
      return { status: a.decision, risk: { decision: a.decision, score: a.score, reasons: a.reasons, assessedAt: new Date() } };
    },
    { actor: WORKER_ACTORS.approval, requestId: job.requestId },
  );
  return { outcome: after.status, score: after.risk?.score };
}
