// The API's response bodies as they travel (JSON: dates are ISO strings, ids are strings), for
// the OpenAPI document and the response checks the integration tests run on every answer they
// see. Request schemas stay with their use cases (lib/domain/**/schemas.ts); these describe
// what the views send back.
import { z } from 'zod';
import { STATUSES } from '../../lib/domain/applications/status.js';
import { TRACKING_ID_PATTERN } from '../../lib/domain/applications/tracking-id.js';

const date = z.iso.datetime({ offset: true }).meta({ description: 'ISO 8601 date-time (UTC)' });
const hexId = z.string().regex(/^[0-9a-f]{24}$/);
export const trackingId = z.string().regex(TRACKING_ID_PATTERN).meta({ example: 'LOAN-01JD8Z6Q7M3V4W5X6Y7Z8A9B0C' });
export const actorView = z.object({ id: z.string(), email: z.string() });
export const status = z.enum(STATUSES);
const role = z.enum(['admin', 'reviewer', 'viewer']);

/** RFC 9457 problem details: every 4xx/5xx answer. Extra members (errors, retryAfterSeconds, …) may follow. */
export const problem = z
  .looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string(),
    instance: z.string(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ in: z.string(), path: z.string(), message: z.string().optional() })).optional(),
  })
  .meta({ description: 'RFC 9457 problem details' });

export const reasonView = z.object({
  code: z.string().meta({ example: 'LOW_CREDIT_SCORE' }),
  category: z.string(),
  severity: z
    .enum(['reject', 'review', 'transient'])
    .optional()
    .meta({ description: 'transient: shown while a step waits (VENDOR_UNAVAILABLE)' }),
  message: z.string(),
});

const ocrView = z.object({
  documentId: z.string(),
  fields: z.object({ name: z.string().nullable(), income: z.number().nullable(), idNumber: z.string().nullable().optional() }),
  mismatches: z.array(
    z.object({
      field: z.enum(['name', 'income']),
      declared: z.union([z.string(), z.number()]),
      extracted: z.union([z.string(), z.number()]),
    }),
  ),
  text: z.string().optional().meta({ description: 'reviewers and admins only' }),
  readAt: date,
});

export const documentView = z.object({
  id: z.string(),
  contentType: z.string(),
  originalName: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  uploadedAt: date,
  uploadedBy: actorView,
});

/** The credit-bureau step: waiting (async request out, or the bureau unavailable: transient reasons) or the report received. */
const bureauCommon = { vendor: z.string(), mode: z.enum(['sync', 'async']), requestId: z.string().optional() };
const bureauView = z.discriminatedUnion('state', [
  z.object({
    state: z.literal('waiting'),
    ...bureauCommon,
    requestedAt: date,
    reasons: z.array(reasonView),
    retryAt: date.optional(),
  }),
  z.object({
    state: z.literal('received'),
    ...bureauCommon,
    reportId: z.string(),
    score: z.number(),
    openAccounts: z.number().int(),
    defaults: z.number().int(),
    identityMatch: z.boolean(),
    receivedAt: date,
  }),
]);

export const applicationView = z.object({
  id: trackingId,
  applicant: z.object({ name: z.string(), email: z.string(), phone: z.string(), age: z.number().int() }),
  amount: z.number(),
  income: z.number(),
  creditScore: z.number().int(),
  purpose: z.string(),
  status,
  version: z.number().int().min(1),
  createdAt: date,
  updatedAt: date,
  updatedBy: actorView,
  createdBy: actorView.optional(),
  termsChangedBy: actorView.optional(),
  approvals: z.array(z.object({ by: actorView, at: date, automatic: z.boolean().optional() })).optional(),
  terms: z.object({ amount: z.number(), currency: z.string(), approvedAt: date, approvedBy: actorView }).optional(),
  documents: z.array(documentView).optional(),
  ocr: ocrView.optional(),
  risk: z
    .object({
      decision: z.enum(['approved', 'rejected', 'pending_review']),
      score: z.number(),
      reasons: z.array(reasonView),
      assessedAt: date,
      modelVersion: z
        .string()
        .optional()
        .meta({ description: 'the risk rules that decided (absent on older decisions)', example: 'risk-2' }),
    })
    .optional(),
  bureau: bureauView.optional(),
  disbursement: z
    .object({
      fence: z.number().int(),
      eventId: z.string(),
      startedAt: date,
      paymentRef: z.string().nullable().optional().meta({ description: 'reviewers and admins only' }),
      completedAt: date.optional(),
    })
    .optional(),
  failure: z.object({ stage: z.enum(['ocr', 'approval']), reason: z.string(), at: date, eventId: z.string() }).optional(),
  intake: z.object({ partnerId: z.string(), loanId: z.string(), idempotencyKey: z.string(), fingerprint: z.string() }).optional(),
});

export const applicationList = z.object({
  items: z.array(applicationView),
  page: z.number().int().nullable(),
  limit: z.number().int(),
  total: z.number().int(),
  next: z.string().nullable().meta({ description: 'the `after` cursor of the next page; null on the last' }),
});

export const auditEntry = z.object({
  _id: z.string().optional(),
  entity: z.string(),
  entityId: z.string(),
  action: z.string(),
  actor: actorView,
  at: date,
  fromVersion: z.number().int().nullable(),
  toVersion: z.number().int(),
  changes: z.record(z.string(), z.object({ from: z.unknown(), to: z.unknown() })),
  requestId: z.string().optional(),
  details: z.unknown().optional(),
});

export const batchResults = z.object({
  results: z.array(
    z.object({
      id: z.string(),
      result: z.string(),
      version: z.number().int().optional(),
      status: status.optional(),
      reason: z.string().optional(),
    }),
  ),
  summary: z.record(z.string(), z.number().int()),
});

export const userView = z.object({ id: hexId, email: z.string(), role, createdAt: date.optional(), disabled: z.boolean().optional() });
export const signedIn = z.object({ user: z.object({ id: hexId, email: z.string(), role }).loose(), csrfToken: z.string() });

const typeStats = z.object({
  pending: z.number().int(),
  processing: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  dead: z.number().int(),
  oldestPendingAgeMs: z.number(),
  recovered: z.number().int(),
});
export const intakeState = z.object({ paused: z.boolean(), by: z.string().nullable(), since: date.nullable() });
export const queueStats = typeStats
  .omit({ oldestPendingAgeMs: true })
  .extend({ types: z.record(z.string(), typeStats), paused: z.array(z.string()), intake: intakeState })
  .loose();

export const eventView = z
  .object({
    _id: z.string(),
    type: z.string(),
    payload: z.unknown(),
    state: z.enum(['pending', 'processing', 'completed', 'dead']),
    attempts: z.number().int(),
    errors: z.array(z.object({ attempt: z.number().int(), at: date, message: z.string(), owner: z.string() })),
    createdAt: date,
    deadAt: date.optional(),
    deadReason: z.string().optional(),
  })
  .loose();
export const deadLetterList = z.object({
  items: z.array(eventView),
  total: z.number().int(),
  page: z.number().int(),
  limit: z.number().int(),
});
export const retried = z.object({ retried: z.number().int(), resumed: z.array(z.object({ applicationId: z.string(), status })) });

export const partnerKeyView = z.object({ id: hexId, hint: z.string(), createdAt: date, revokedAt: date.nullable() });
export const partnerView = z.object({ id: hexId, name: z.string(), rateLimitPerSecond: z.number(), createdAt: date });

export const loanRequestAccepted = z.object({
  id: trackingId,
  status: z.literal('processing'),
  statusUrl: z.string().meta({ example: '/api/loan/request/LOAN-01JD8Z6Q7M3V4W5X6Y7Z8A9B0C' }),
});
export const loanRequestStatus = z.object({
  id: trackingId,
  loanId: z.string().nullable(),
  status,
  reasons: z.array(reasonView),
  updatedAt: date,
  version: z.number().int(),
});
