// The partner intake's request shapes: the field names lenders already send, strictly validated
// (unknown keys, wrong types and operator objects such as {"$gt": ""} are refused).
import { z } from 'zod';
import { applicant, applicationId, createApplicationInput } from '../applications/schemas.js';

/** The partner's own reference (and the default idempotency key). */
const loanId = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1–64 letters, digits or . _ : -');

export const loanRequestInput = z.strictObject({
  loanId,
  application: applicant,
  amount: createApplicationInput.shape.amount,
  income: createApplicationInput.shape.income,
  creditScore: createApplicationInput.shape.creditScore,
  purpose: createApplicationInput.shape.purpose,
});
export type LoanRequestInput = z.output<typeof loanRequestInput>;

/** The Idempotency-Key header (the draft's sf-string: printable ASCII; we allow at most 255 characters). */
export const idempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1–255 printable ASCII characters without spaces');

export const loanRequestParams = z.strictObject({ id: applicationId });
