// Use case for the approval worker: apply the risk rules and write the decision back with a
// version check (scoring → approved | rejected | pending_review) plus audit; entering `approved`
// publishes `disbursement.requested` in the same transaction (pipeline hook).
import type { ApplicationDoc } from '../../db/collections.js';
import { PermanentError } from '../../queue/index.js';
import { updateWithRetry } from '../applications/commands.js';
import type { Deps } from '../applications/context.js';
import type { ExtractedFields } from '../documents/extract-fields.js';
import { assess } from '../risk/assess.js';
import type { RiskInput } from '../risk/types.js';
import { WORKER_ACTORS, type ApprovalRequested } from './events.js';
import { withPipelineHooks } from './hooks.js';

export function riskInputOf(doc: ApplicationDoc): RiskInput {
  const fields = doc.ocr?.fields as ExtractedFields | undefined;
  return {
    amount: doc.amount, income: doc.income, creditScore: doc.creditScore, age: doc.applicant.age,
    declaredName: doc.applicant.name, ocr: fields,
  };
}

export async function decideApproval(deps: Deps, p: ApprovalRequested, ctx: { requestId?: string | undefined }) {
  const app = await deps.c.applications.findOne({ _id: p.applicationId });
  if (!app) throw new PermanentError(`application ${p.applicationId} does not exist`);
  if (app.status !== 'scoring') return { outcome: 'skipped', status: app.status };

  const after = await updateWithRetry(withPipelineHooks(deps), p.applicationId, (doc) => {
    if (doc.status !== 'scoring') return null;
    const a = assess(riskInputOf(doc));
    return { status: a.decision, risk: { decision: a.decision, score: a.score, reasons: a.reasons, assessedAt: new Date() } };
  }, { actor: WORKER_ACTORS.approval, requestId: ctx.requestId });
  return { outcome: after.status, score: after.risk?.score };
}
