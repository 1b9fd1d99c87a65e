// The risk rules' input from what an application stores: its frozen terms, the OCR fields and the
// bureau's report. The approval step and a re-run of a stored decision use this one mapping, so a
// decision is reproducible: assess(riskInputOf(stored)) under the stored risk.modelVersion gives
// the stored decision, score and reasons again. Structural types: no dependency on the
// applications module (which imports the risk types).
import type { BureauInput, RiskInput } from './types.js';

export interface StoredRiskInputs {
  amount: number;
  income: number;
  creditScore: number;
  applicant: { name: string; age: number };
  ocr?: { fields: { name: string | null; income: number | null; idNumber?: string | null | undefined } } | undefined;
  /** Only a received report feeds the rules (a waiting step has none yet). */
  bureau?: ({ state: 'received' } & BureauInput) | { state: 'waiting' } | undefined;
}

export function riskInputOf(doc: StoredRiskInputs): RiskInput {
  const f = doc.ocr?.fields;
  const b = doc.bureau?.state === 'received' ? doc.bureau : undefined;
  return {
    amount: doc.amount,
    income: doc.income,
    creditScore: doc.creditScore,
    age: doc.applicant.age,
    declaredName: doc.applicant.name,
    ocr: f ? { name: f.name, income: f.income, idNumber: f.idNumber ?? null } : undefined,
    bureau: b ? { score: b.score, openAccounts: b.openAccounts, defaults: b.defaults, identityMatch: b.identityMatch } : undefined,
  };
}
