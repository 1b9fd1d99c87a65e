// The rules about money and decisions, applied by planChange to every change of an application:
//   - the terms (amount, income, creditScore, applicant) are frozen once the application leaves
//     submitted/under_review;
//   - four-eyes: a person approving must be neither its creator, nor whoever last changed its terms,
//     nor whoever gave the first approval;
//   - above `dualApprovalAbove` the first approval (a reviewer's, or the approval worker's automatic
//     one) only records itself and moves to awaiting_second_approval; a second person approves.
// Entering `approved` snapshots the terms the disbursement pays.
import { diff } from '../audit.js';
import type { Actor } from '../users/types.js';
import type { Status } from './status.js';
import { type ApplicationDoc, type Approval, CURRENCY, TERM_FIELDS } from './types.js';

export interface ApprovalPolicy {
  /** Approvals of amounts strictly above this need two different people. */
  dualApprovalAbove: number;
}

const EDITABLE: ReadonlySet<Status> = new Set(['submitted', 'under_review']);

/** The term fields `full` would change, if the application's status freezes them; else []. */
export function frozenFieldsChanged(current: ApplicationDoc, full: object): string[] {
  if (EDITABLE.has(current.status)) return [];
  const changed = Object.keys(diff(current, full));
  return TERM_FIELDS.filter((f) => changed.includes(f));
}

/** Whether `full` changes any term field. */
export function changesTerms(current: ApplicationDoc, full: object): boolean {
  const changed = Object.keys(diff(current, full));
  return TERM_FIELDS.some((f) => changed.includes(f));
}

/** The snapshot written on entering `approved`. */
export function termsOf(doc: Pick<ApplicationDoc, 'amount'>, by: Actor, at: Date): NonNullable<ApplicationDoc['terms']> {
  return { amount: doc.amount, currency: CURRENCY, approvedAt: at, approvedBy: by };
}

export type ApprovalPlan =
  | { kind: 'refused'; reason: string }
  | { kind: 'first'; status: 'awaiting_second_approval'; approvals: Approval[] }
  | { kind: 'final'; status: 'approved'; approvals: Approval[] };

/**
 * What an approval of `doc` by `by` means. `termsChangedBy` is who last changed the terms,
 * counting the change being made in the same request.
 */
export function planApproval(
  doc: ApplicationDoc,
  by: Actor,
  policy: ApprovalPolicy,
  termsChangedBy: Actor | undefined,
  automatic = false,
): ApprovalPlan {
  const now = new Date();
  const previous = doc.status === 'awaiting_second_approval' ? (doc.approvals ?? []) : [];
  if (!automatic) {
    if (doc.createdBy?.id === by.id) return { kind: 'refused', reason: 'the creator of an application cannot approve it' };
    if (termsChangedBy?.id === by.id) return { kind: 'refused', reason: 'whoever last changed the terms cannot approve them' };
    if (previous.some((a) => a.by.id === by.id)) return { kind: 'refused', reason: 'the second approval needs a different person' };
  }
  const approvals = [...previous, { by, at: now, ...(automatic ? { automatic: true } : {}) }];
  const needed = doc.amount > policy.dualApprovalAbove ? 2 : 1;
  // An automatic approval never counts as the human second one.
  const humans = approvals.filter((a) => !a.automatic).length;
  const enough = approvals.length >= needed && (needed === 1 || humans >= 1);
  return enough ? { kind: 'final', status: 'approved', approvals } : { kind: 'first', status: 'awaiting_second_approval', approvals };
}
