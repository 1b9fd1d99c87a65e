// A 0–1000 risk score (higher = riskier) from the applicant's data. Weights add up to 1000. With a
// bureau report the credit part reads the bureau's score (verified), else the declared one.
import type { RiskInput } from './types.js';

const clamp = (x: number, lo = 0, hi = 1) => Math.min(hi, Math.max(lo, x));

export function riskScore(i: RiskInput): number {
  const credit = 1 - clamp(((i.bureau?.score ?? i.creditScore) - 300) / 550); // 850 → 0, 300 → 1
  const leverage = i.income > 0 ? clamp(i.amount / i.income / 5) : 1; // 5× income or more → 1
  const age = i.age < 21 ? 1 : i.age < 25 ? 0.5 : i.age > 75 ? 0.5 : 0;
  const unverified = !i.ocr ? 1 : i.ocr.income === null && i.ocr.name === null ? 1 : 0;
  return Math.round(500 * credit + 350 * leverage + 50 * age + 100 * unverified);
}
