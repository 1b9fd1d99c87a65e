// The error-log routes' query shapes: strict (an unknown parameter is a 400), flat strings only
// (the app's query parser never builds objects, so `code[$ne]=` arrives as an unknown key), each
// value checked against its own pattern before it reaches a query.
import { z } from 'zod';
import { TRACKING_ID_PATTERN } from '../applications/tracking-id.js';
import { CODE_PATTERN, ERROR_CATEGORIES } from './codes.js';

const instant = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z' });
/** from < to when both are given. */
const window = <T extends { from?: string | undefined; to?: string | undefined }>(q: T) =>
  q.from === undefined || q.to === undefined || Date.parse(q.from) < Date.parse(q.to);
const WINDOW = { message: 'from must be before to', path: ['from'] };

export const errorListQuery = z
  .strictObject({
    code: z.string().regex(CODE_PATTERN, 'must be a code such as LOW_CREDIT_SCORE').optional(),
    category: z.enum(ERROR_CATEGORIES).optional(),
    /** The partner's loan reference, or our tracking id (LOAN-…). */
    loanId: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be a loan reference (letters, digits, . _ : -) or a tracking id')
      .optional(),
    partner: z
      .string()
      .regex(/^[0-9a-f]{24}$/, 'must be a partner id')
      .optional(),
    from: instant.optional(),
    to: instant.optional(),
    cursor: z.string().max(200).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
  })
  .refine(window, WINDOW);
export type ErrorListQuery = z.output<typeof errorListQuery>;

export const errorSummaryQuery = z.strictObject({ from: instant.optional(), to: instant.optional() }).refine(window, WINDOW);

export const errorIdParams = z.strictObject({ id: z.string().regex(/^[0-9a-f]{24}$/, 'must be a 24-character hex id') });

/** A `loanId` filter that is one of our tracking ids matches the entry's application; any other, the partner's reference. */
export const isTrackingId = (v: string) => TRACKING_ID_PATTERN.test(v);
