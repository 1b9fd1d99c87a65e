// The stored application: what the applicant declared, where it is in the life cycle, and what
// each pipeline stage wrote back.
import type { ExtractedFields } from '../documents/extract-fields.js';
import type { Decision, Reason } from '../risk/types.js';
import type { Actor } from '../users/types.js';
import type { Status } from './status.js';

export interface Applicant {
  name: string;
  email: string;
  phone: string;
  age: number;
}

/** An uploaded applicant document (the file itself is in GridFS under `id`). */
export interface DocumentRef {
  id: string;
  contentType: string;
  originalName: string;
  size: number;
  sha256: string;
  uploadedAt: Date;
  uploadedBy: Actor;
}

/** A declared value that the document contradicts. */
export interface Mismatch {
  field: 'name' | 'income';
  declared: string | number;
  extracted: string | number;
}

/** Written by the OCR stage. */
export interface OcrResult {
  documentId: string;
  fields: ExtractedFields;
  mismatches: Mismatch[];
  text: string;
  readAt: Date;
}

/** Written by the approval stage. */
export interface RiskResult {
  decision: Decision;
  score: number;
  reasons: Reason[];
  assessedAt: Date;
  /** The rules' version (lib/domain/risk/types.ts MODEL_VERSION); absent on decisions made before it was recorded. */
  modelVersion?: string;
}

/** How the bureau answers: in the HTTP response (sync) or by a signed callback later (async). */
export type BureauMode = 'sync' | 'async';

/**
 * The credit-bureau step, written by the approval stage (and by the bureau's callback in async
 * mode). `waiting`: the request is out (async: `requestId` is the one callback that may complete
 * it, status bureau_pending) or the bureau is unavailable (breaker open, rate limit used up: the
 * transient VENDOR_UNAVAILABLE reason, the event is rescheduled for `retryAt`). `received`: the
 * report the risk rules read — with the application's terms and OCR fields, everything a decision
 * is re-run from.
 */
export type BureauStep =
  | {
      state: 'waiting';
      vendor: string;
      mode: BureauMode;
      requestId?: string;
      requestedAt: Date;
      /** Transient reasons shown while waiting (VENDOR_UNAVAILABLE). */
      reasons: Reason[];
      retryAt?: Date;
    }
  | {
      state: 'received';
      vendor: string;
      mode: BureauMode;
      requestId?: string;
      reportId: string;
      score: number;
      openAccounts: number;
      defaults: number;
      identityMatch: boolean;
      receivedAt: Date;
    };

/** Written by the disbursement stage, under the `loan:<id>` lock whose fencing number it carries. */
export interface Disbursement {
  fence: number;
  eventId: string;
  startedAt: Date;
  paymentRef?: string | null;
  completedAt?: Date;
}

/** One approval of the application: a person, or the approval worker's automatic decision. */
export interface Approval {
  by: Actor;
  at: Date;
  automatic?: boolean;
}

/**
 * The terms frozen when the application is approved: the disbursement pays exactly these, whatever
 * the document says later.
 */
export interface ApprovedTerms {
  amount: number;
  currency: string;
  approvedAt: Date;
  /** The approval that completed the decision (the second one under dual approval). */
  approvedBy: Actor;
}

/** The pipeline stages that can give up on an application. */
export type FailedStage = 'ocr' | 'approval';

/** Why a stage gave up; `eventId` names the dead letter whose retry resumes the stage. */
export interface Failure {
  stage: FailedStage;
  reason: string;
  at: Date;
  eventId: string;
}

/**
 * How a partner submitted the application (POST /api/loan/request): the partner, its own reference,
 * the idempotency key (the Idempotency-Key header, else loanId) and the request's fingerprint. The
 * unique index {intake.partnerId, intake.idempotencyKey} (migration 007) makes a key usable once per
 * partner for as long as the application exists.
 */
export interface Intake {
  partnerId: string;
  loanId: string;
  idempotencyKey: string;
  /** sha256 of the canonical JSON of the validated body. */
  fingerprint: string;
}

export interface ApplicationDoc {
  _id: string; // tracking id, LOAN-…
  applicant: Applicant;
  amount: number;
  income: number;
  creditScore: number;
  purpose: string;
  status: Status;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  updatedBy: Actor;
  /** Who created it (absent on documents created before four-eyes checks existed). */
  createdBy?: Actor;
  /** Who last set amount, income, creditScore or the applicant (the creator until someone edits them). */
  termsChangedBy?: Actor;
  /** Approvals collected so far (two distinct people above DUAL_APPROVAL_ABOVE). */
  approvals?: Approval[];
  /** Snapshot taken on entering `approved`. */
  terms?: ApprovedTerms;
  documents?: DocumentRef[];
  ocr?: OcrResult;
  risk?: RiskResult;
  /** The credit-bureau step (absent when no bureau is configured: declared figures only). */
  bureau?: BureauStep;
  disbursement?: Disbursement;
  failure?: Failure;
  /** Set when a partner submitted it. */
  intake?: Intake;
}

/** The fields the pipeline stages write. */
export type PipelineFields = Pick<ApplicationDoc, 'documents' | 'ocr' | 'risk' | 'bureau' | 'disbursement' | 'failure' | 'approvals'>;

/** The financial terms: frozen once the application leaves submitted/under_review. */
export const TERM_FIELDS = ['amount', 'income', 'creditScore', 'applicant'] as const;
/** Currency of every application (the product lends in one currency). */
export const CURRENCY = 'USD';
