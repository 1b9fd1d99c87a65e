// The approval rules: each yields a categorized reason; the decision follows from the worst one.
import { incomeDiffers, namesMatch } from './compare.js';
import { riskScore } from './score.js';
import { type Assessment, type BureauInput, DEFAULT_POLICY, MODEL_VERSION, type Reason, type RiskInput, type RiskPolicy } from './types.js';

export function reasonsFor(i: RiskInput, p: RiskPolicy = DEFAULT_POLICY): Reason[] {
  const out: Reason[] = [];
  if (i.creditScore < p.minCreditScore) {
    out.push({
      code: 'LOW_CREDIT_SCORE',
      category: 'credit',
      severity: 'reject',
      message: `credit score ${i.creditScore} is below ${p.minCreditScore}`,
    });
  }
  if (i.amount > p.maxAmountToIncome * i.income) {
    out.push({
      code: 'LOAN_TOO_LARGE',
      category: 'affordability',
      severity: 'reject',
      message: `amount ${i.amount} exceeds ${p.maxAmountToIncome} × income ${i.income}`,
    });
  }
  if (!i.ocr || (i.ocr.name === null && i.ocr.income === null)) {
    out.push({
      code: 'DOCUMENT_UNREADABLE',
      category: 'verification',
      severity: 'review',
      message: 'no name or income could be read from a document',
    });
  } else {
    if (i.ocr.income !== null && incomeDiffers(i.income, i.ocr.income, p.incomeTolerance)) {
      out.push({
        code: 'INCOME_MISMATCH',
        category: 'verification',
        severity: 'review',
        message: `document shows income ${i.ocr.income}, declared ${i.income} (tolerance ${p.incomeTolerance * 100}%)`,
      });
    }
    if (i.ocr.name !== null && !namesMatch(i.declaredName, i.ocr.name)) {
      out.push({
        code: 'NAME_MISMATCH',
        category: 'verification',
        severity: 'review',
        message: `document shows name "${i.ocr.name}", declared "${i.declaredName}"`,
      });
    }
  }
  if (i.bureau) out.push(...bureauReasons(i.bureau, p));
  return out;
}

/** The bureau report's reasons: a low bureau score or repeated defaults reject; one default or an identity the bureau could not match goes to a person. */
function bureauReasons(b: BureauInput, p: RiskPolicy): Reason[] {
  const out: Reason[] = [];
  if (b.score < p.minBureauScore)
    out.push({
      code: 'BUREAU_SCORE_LOW',
      category: 'credit',
      severity: 'reject',
      message: `bureau score ${b.score} is below ${p.minBureauScore}`,
    });
  if (b.defaults > 0)
    out.push({
      code: 'BUREAU_DEFAULTS',
      category: 'credit',
      severity: b.defaults >= p.rejectBureauDefaults ? 'reject' : 'review',
      message: `the bureau reports ${b.defaults} default(s) (${p.rejectBureauDefaults} or more reject)`,
    });
  if (!b.identityMatch)
    out.push({
      code: 'BUREAU_IDENTITY_MISMATCH',
      category: 'verification',
      severity: 'review',
      message: 'the bureau could not match the declared identity',
    });
  return out;
}

/** The transient reason an application shows while the bureau is unavailable (breaker open, rate limit used up). */
export function vendorUnavailable(vendor: string, why: string, retryAt: Date): Reason {
  return {
    code: 'VENDOR_UNAVAILABLE',
    category: 'vendor',
    severity: 'transient',
    message: `${vendor} is unavailable (${why}); the approval step retries at ${retryAt.toISOString()}`,
  };
}

/** Any `reject` reason rejects; otherwise any `review` reason (or a high score) goes to a person. */
export function assess(i: RiskInput, p: RiskPolicy = DEFAULT_POLICY): Assessment {
  const score = riskScore(i);
  const reasons = reasonsFor(i, p);
  if (score > p.reviewScoreAbove && !reasons.some((r) => r.severity === 'reject')) {
    reasons.push({
      code: 'HIGH_RISK_SCORE',
      category: 'credit',
      severity: 'review',
      message: `risk score ${score} is above ${p.reviewScoreAbove}`,
    });
  }
  const decision = reasons.some((r) => r.severity === 'reject')
    ? 'rejected'
    : reasons.some((r) => r.severity === 'review')
      ? 'pending_review'
      : 'approved';
  return { decision, score, reasons, modelVersion: MODEL_VERSION };
}
