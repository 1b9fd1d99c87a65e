// What the approval rules read and what they decide. Pure data: no Mongo, no HTTP.
export interface RiskInput {
  amount: number;
  income: number; // declared annual income
  creditScore: number; // 300–850
  age: number;
  declaredName: string;
  /** Fields the OCR worker read from the uploaded document; absent when there was none. */
  ocr?: { name: string | null; income: number | null; idNumber: string | null } | undefined;
  /** The credit bureau's report; absent when no bureau is configured (BUREAU_URL unset: declared figures only). */
  bureau?: BureauInput | undefined;
}

/** What the rules read of a bureau report (lib/domain/applications/types.ts BureauReport stores more). */
export interface BureauInput {
  score: number; // 300–850
  openAccounts: number;
  defaults: number;
  identityMatch: boolean;
}

/**
 * The version of the rules below (assess.ts, score.ts, DEFAULT_POLICY), stored with every decision
 * (risk.modelVersion): a stored decision is reproduced by running assess() of that version on the
 * stored inputs (amount, income, creditScore, applicant, ocr.fields, bureau). Bump it whenever a
 * rule, a weight or a threshold changes. risk-1: declared figures and OCR; risk-2: + bureau report.
 */
export const MODEL_VERSION = 'risk-2';

export type ReasonCode =
  | 'LOW_CREDIT_SCORE'
  | 'LOAN_TOO_LARGE'
  | 'INCOME_MISMATCH'
  | 'NAME_MISMATCH'
  | 'DOCUMENT_UNREADABLE'
  | 'HIGH_RISK_SCORE'
  | 'BUREAU_SCORE_LOW'
  | 'BUREAU_DEFAULTS'
  | 'BUREAU_IDENTITY_MISMATCH'
  | 'VENDOR_UNAVAILABLE';
export type ReasonCategory = 'credit' | 'affordability' | 'verification' | 'vendor';
/**
 * `reject` decides on its own; `review` sends the application to a person; `transient` is shown
 * while a step waits (VENDOR_UNAVAILABLE) and never decides anything.
 */
export type Severity = 'reject' | 'review' | 'transient';

export interface Reason {
  code: ReasonCode;
  category: ReasonCategory;
  severity: Severity;
  message: string;
}
export type Decision = 'approved' | 'rejected' | 'pending_review';

export interface Assessment {
  decision: Decision;
  score: number;
  reasons: Reason[];
  /** MODEL_VERSION of the rules that decided. */
  modelVersion: string;
}

export interface RiskPolicy {
  minCreditScore: number;
  maxAmountToIncome: number;
  incomeTolerance: number; // relative, 0.1 = 10 %
  reviewScoreAbove: number; // a risk score above this goes to a person
  minBureauScore: number; // the bureau's score below this rejects
  rejectBureauDefaults: number; // this many defaults or more reject; fewer (but some) go to a person
}

export const DEFAULT_POLICY: RiskPolicy = {
  minCreditScore: 600,
  maxAmountToIncome: 5,
  incomeTolerance: 0.1,
  reviewScoreAbove: 600,
  minBureauScore: 500,
  rejectBureauDefaults: 2,
};
