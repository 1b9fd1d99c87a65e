// An error-log entry: one per (code, application) or (code, partner, partner's loanId), whose
// count and lastSeen grow with each occurrence; kept ERROR_LOG_RETENTION_DAYS after its last one.
import type { ObjectId } from 'mongodb';
import type { Actor } from '../users/types.js';
import type { ErrorCategory } from './codes.js';

/** The dead-lettered event a retry would requeue. */
export interface RetryTarget {
  eventId: string;
  /** The event type (the pipeline stage): ocr.requested, approval.requested, disbursement.requested. */
  stage: string;
}

export interface ErrorLogDoc {
  _id: ObjectId;
  /** The dedup key (unique): what makes two occurrences the same entry (record.ts keyOf). */
  key: string;
  code: string;
  category: ErrorCategory;
  /** Our tracking id (LOAN-…) when the error concerns a stored application. */
  applicationId?: string;
  /** The partner's own reference (from the intake body, or the application's intake). */
  loanId?: string;
  partnerId?: string;
  /** The latest occurrence's message. */
  message: string;
  /** Field paths of an intake validation failure (latest occurrence). */
  fields?: string[];
  firstSeen: Date;
  lastSeen: Date;
  count: number;
  /** The request behind the latest occurrence (carried into events, so workers have it too). */
  requestId?: string;
  /** Only for a dead-lettered event: what POST /api/loans/errors/:id/retry requeues. */
  retry?: RetryTarget;
  /** The last successful retry through the error log. */
  lastRetry?: { at: Date; by: Actor; requestId?: string };
  /** TTL: lastSeen + ERROR_LOG_RETENTION_DAYS. */
  expiresAt: Date;
}

/** One occurrence, as a source reports it. */
export interface Occurrence {
  code: string;
  category: ErrorCategory;
  message: string;
  applicationId?: string | undefined;
  loanId?: string | undefined;
  partnerId?: string | undefined;
  fields?: string[] | undefined;
  requestId?: string | undefined;
  retry?: RetryTarget | undefined;
}
