// The pipeline's event types and payloads: published in the transaction of the state change that
// causes them (outbox), consumed by the worker roles.
import { z } from 'zod';
import { applicationId } from '../applications/schemas.js';

export const EVENT = {
  ocr: 'ocr.requested',
  approval: 'approval.requested',
  disbursement: 'disbursement.requested',
} as const;

/** Attempts before the queue gives up on a job: read by the job definitions (workers/jobs), nowhere else. */
export const MAX_ATTEMPTS: Record<(typeof EVENT)[keyof typeof EVENT], number> = {
  'ocr.requested': 3,
  'approval.requested': 5,
  'disbursement.requested': 8,
};

const objectIdHex = z.string().regex(/^[0-9a-f]{24}$/, 'must be a 24-character hex ObjectId');

export const ocrRequested = z.strictObject({ applicationId, documentId: objectIdHex });
export const approvalRequested = z.strictObject({ applicationId });
export const disbursementRequested = z.strictObject({ applicationId });

export type OcrRequested = z.output<typeof ocrRequested>;
export type ApprovalRequested = z.output<typeof approvalRequested>;
export type DisbursementRequested = z.output<typeof disbursementRequested>;

/** Who the workers act as in the audit trail. */
export const WORKER_ACTORS = {
  ocr: { id: 'worker:ocr', email: 'ocr-worker@creditdesk.internal' },
  approval: { id: 'worker:approval', email: 'approval-worker@creditdesk.internal' },
  disbursement: { id: 'worker:disbursement', email: 'disbursement-worker@creditdesk.internal' },
} as const;
