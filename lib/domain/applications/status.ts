// The application life cycle. `manual` transitions are the ones a reviewer may make through the
// API; the others belong to the processing pipeline (workers). The pipeline runs
// submitted|under_review|pending_review → ocr_pending (document upload) → scoring (OCR worker) →
// approved | rejected | pending_review (approval worker) → disbursing → disbursed (disbursement worker).
// With an asynchronous credit bureau (BUREAU_MODE=async) the approval worker moves scoring →
// bureau_pending and no worker waits: the bureau's signed callback (POST /api/webhooks/credit-bureau)
// decides bureau_pending → approved | rejected | pending_review | awaiting_second_approval.
// Above DUAL_APPROVAL_ABOVE a first approval (a reviewer's, or the approval worker's automatic one)
// leads to awaiting_second_approval; a second, different reviewer then approves (approval-policy.ts).
export const STATUSES = [
  'submitted',
  'under_review',
  'ocr_pending',
  'scoring',
  'bureau_pending',
  'pending_review',
  'awaiting_second_approval',
  'approved',
  'rejected',
  'disbursing',
  'disbursed',
  'failed',
  // the reconciler found it stuck and could not re-drive it safely: a person decides (reason in `review`)
  'needs_review',
] as const;
export type Status = (typeof STATUSES)[number];

type Rule = { to: Status; manual: boolean };
const T = (manual: boolean, ...to: Status[]): Rule[] => to.map((s) => ({ to: s, manual }));

const TRANSITIONS: Record<Status, Rule[]> = {
  submitted: [...T(true, 'under_review', 'rejected'), ...T(false, 'ocr_pending', 'scoring')],
  under_review: [...T(true, 'approved', 'rejected'), ...T(false, 'ocr_pending', 'awaiting_second_approval')],
  ocr_pending: [...T(false, 'scoring', 'failed', 'needs_review')],
  scoring: [...T(false, 'bureau_pending', 'approved', 'rejected', 'pending_review', 'awaiting_second_approval', 'failed', 'needs_review')],
  // the bureau's callback decides; `failed` when the reconciler gives up on a callback that never came
  bureau_pending: [...T(false, 'approved', 'rejected', 'pending_review', 'awaiting_second_approval', 'failed', 'needs_review')],
  pending_review: [...T(true, 'under_review', 'approved', 'rejected'), ...T(false, 'ocr_pending', 'awaiting_second_approval')],
  // a manual request for `approved` is recorded here until a second person approves
  awaiting_second_approval: [...T(true, 'approved', 'rejected')],
  approved: [...T(false, 'disbursing', 'needs_review')],
  disbursing: [...T(false, 'disbursed', 'failed', 'needs_review')],
  // back to a stage only by retrying the dead letter that failed it (pipeline/retry-dead-letters.ts)
  failed: [...T(true, 'submitted'), ...T(false, 'ocr_pending', 'scoring')],
  rejected: [],
  disbursed: [],
  // set by the reconciler (reconcile.ts) only; a reviewer takes it up again or rejects it
  needs_review: [...T(true, 'under_review', 'rejected')],
};

export function canTransition(from: Status, to: Status, by: 'manual' | 'system'): boolean {
  return TRANSITIONS[from].some((r) => r.to === to && (by === 'system' || r.manual));
}
