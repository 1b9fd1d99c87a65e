// The error log's vocabulary, in one place: the categories an entry can have and the stable codes
// each source writes. A code always has the same category, so grouping by code also groups by it.
export const ERROR_CATEGORIES = ['validation', 'rule', 'pipeline', 'vendor', 'ocr', 'disbursement'] as const;
export type ErrorCategory = (typeof ERROR_CATEGORIES)[number];

/** A stable code: upper-case letters, digits and underscores (LOW_CREDIT_SCORE, INVALID_INPUT, …). */
export const CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * Intake refusals (a partner's POST /api/loan/request answered 400/422), by the problem code the
 * error handler answers with; any other 400/422 problem code is recorded upper-cased.
 */
export const INTAKE_CODES: Readonly<Record<string, string>> = {
  bad_request: 'INVALID_INPUT',
  malformed_json: 'MALFORMED_JSON',
  idempotency_key_reused: 'IDEMPOTENCY_KEY_REUSED',
};

/** Dead-lettered events, by event type: the code and category of their entry. */
const DEAD_LETTER: Readonly<Record<string, { code: string; category: ErrorCategory }>> = {
  'ocr.requested': { code: 'OCR_FAILED', category: 'ocr' },
  'approval.requested': { code: 'APPROVAL_FAILED', category: 'pipeline' },
  'disbursement.requested': { code: 'DISBURSEMENT_FAILED', category: 'disbursement' },
};

/** The code and category of a dead letter of `type` (JOB_FAILED / pipeline for a type not listed). */
export function deadLetterCode(type: string): { code: string; category: ErrorCategory } {
  return Object.hasOwn(DEAD_LETTER, type) ? DEAD_LETTER[type]! : { code: 'JOB_FAILED', category: 'pipeline' };
}
