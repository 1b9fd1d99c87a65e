// The credit-bureau simulator's data model (a STAND-IN: simulated reports, no real credit data).
// A report is a pure function of the applicant's identity (name, email, phone, national id): the
// same applicant always gets the same report, whatever the request, process or day.
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** What a lender sends for one applicant (unknown keys are refused, like a strict vendor API). */
export const applicantSchema = z.strictObject({
  /** The lender's own reference (an application id), echoed in the callback. */
  reference: z.string().min(1).max(200).optional(),
  name: z.string().min(1).max(200),
  email: z.string().min(3).max(320),
  phone: z.string().max(40).optional(),
  age: z.number().int().min(0).max(150).optional(),
  declaredIncome: z.number().min(0).optional(),
  nationalId: z.string().max(64).optional(),
});
export type Applicant = z.output<typeof applicantSchema>;

export const MODEL_VERSION = 'simulated-bureau-model-1';

export interface CreditReport {
  reportId: string;
  score: number;
  openAccounts: number;
  defaults: number;
  identityMatch: boolean;
  modelVersion: string;
  /** Always true: this report comes from the simulator. */
  simulated: true;
}

/** The identity the report is keyed on, normalized (case, spaces, phone punctuation). */
function identity(a: Applicant): string {
  const norm = (s: string | undefined) => (s ?? '').trim().toLowerCase().replace(/\s+/g, ' ');
  return [norm(a.name), norm(a.email), (a.phone ?? '').replace(/\D/g, ''), norm(a.nationalId)].join('|');
}

/** Deterministic per identity: score 300..850, 0..12 open accounts, mostly no defaults, ~95% identity match. */
export function reportFor(a: Applicant): CreditReport {
  const h = createHash('sha256').update(identity(a)).digest();
  return {
    reportId: `rpt_${h.subarray(0, 10).toString('hex')}`,
    score: 300 + (h.readUInt16BE(0) % 551),
    openAccounts: h[2]! % 13,
    defaults: h[3]! < 200 ? 0 : h[3]! % 4,
    identityMatch: h[4]! >= 13,
    modelVersion: MODEL_VERSION,
    simulated: true,
  };
}

/** mulberry32: a small seeded PRNG, so a latency/error sequence can be replayed with the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Jitter = 'none' | 'uniform' | 'lognormal';

/** Latency = fixed + jitter: uniform over [0, jitterMs), or lognormal with median jitterMs and sigma (capped at 20 × median). */
export function latencyMs(fixed: number, jitter: Jitter, jitterMs: number, sigma: number, random: () => number): number {
  if (jitter === 'none' || jitterMs <= 0) return fixed;
  if (jitter === 'uniform') return fixed + random() * jitterMs;
  // Box–Muller from two seeded uniforms.
  const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return fixed + Math.min(20 * jitterMs, jitterMs * Math.exp(sigma * z));
}
