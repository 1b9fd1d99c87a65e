// What the approval rules read and what they decide. Pure data: no Mongo, no HTTP.
export interface RiskInput {
  amount: number;
  income: number; // declared annual income
  creditScore: number; // 300–850
  age: number;
  declaredName: string;
  /** Fields the OCR worker read from the uploaded document; absent when there was none. */
  ocr?: { name: string | null; income: number | null; idNumber: string | null } | undefined;
}

export type ReasonCode =
  | 'LOW_CREDIT_SCORE'
  | 'LOAN_TOO_LARGE'
  | 'INCOME_MISMATCH'
  | 'NAME_MISMATCH'
  | 'DOCUMENT_UNREADABLE'
  | 'HIGH_RISK_SCORE';
export type ReasonCategory = 'credit' | 'affordability' | 'verification';
/** `reject` decides on its own; `review` sends the application to a person. */
export type Severity = 'reject' | 'review';

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
}

export interface RiskPolicy {
  minCreditScore: number;
  maxAmountToIncome: number;
  incomeTolerance: number; // relative, 0.1 = 10 %
  reviewScoreAbove: number; // a risk score above this goes to a person
}

export const DEFAULT_POLICY: RiskPolicy = { minCreditScore: 600, maxAmountToIncome: 5, incomeTolerance: 0.1, reviewScoreAbove: 600 };
