// The decision the approval step writes, from the application and (when a bureau is configured)
// the bureau's report: the risk rules of MODEL_VERSION on the stored inputs, the approval policy
// for an automatic approval (awaiting_second_approval above DUAL_APPROVAL_ABOVE). Used by the
// approval worker (no bureau, or a sync report) and by the bureau's callback (async report), so
// both decide the same way.
import { type ApprovalPolicy, planApproval } from '../applications/approval-policy.js';
import type { ApplicationUpdate } from '../applications/commands.js';
import type { ApplicationDoc, BureauMode, BureauStep } from '../applications/types.js';
import { assess } from '../risk/assess.js';
import { riskInputOf } from '../risk/input.js';
import type { BureauReportFields } from './bureau-client.js';
import { WORKER_ACTORS } from './events.js';

/** The stored form of a report the bureau sent. */
export function receivedReport(vendor: string, mode: BureauMode, report: BureauReportFields, requestId?: string): BureauStep {
  return {
    state: 'received',
    vendor,
    mode,
    ...(requestId ? { requestId } : {}),
    reportId: report.reportId,
    score: report.score,
    openAccounts: report.openAccounts,
    defaults: report.defaults,
    identityMatch: report.identityMatch,
    receivedAt: new Date(),
  };
}

/** The changes that decide `doc`: status, risk (with its model version) and, when given, the bureau's report. */
export function decisionFor(doc: ApplicationDoc, policy: ApprovalPolicy, bureau?: BureauStep): ApplicationUpdate {
  const a = assess(riskInputOf(bureau ? { ...doc, bureau } : { ...doc, bureau: undefined }));
  const risk = { decision: a.decision, score: a.score, reasons: a.reasons, assessedAt: new Date(), modelVersion: a.modelVersion };
  const withBureau = bureau ? { bureau } : {};
  if (a.decision !== 'approved') return { status: a.decision, risk, ...withBureau };
  const approval = planApproval(doc, WORKER_ACTORS.approval, policy, doc.termsChangedBy, true);
  if (approval.kind === 'refused') throw new Error(approval.reason); // never for an automatic approval
  return { status: approval.status, approvals: approval.approvals, risk, ...withBureau };
}
