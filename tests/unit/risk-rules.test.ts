import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assess, reasonsFor, vendorUnavailable } from '../../lib/domain/risk/assess.js';
import { incomeDiffers, namesMatch } from '../../lib/domain/risk/compare.js';
import { riskInputOf } from '../../lib/domain/risk/input.js';
import { riskScore } from '../../lib/domain/risk/score.js';
import { MODEL_VERSION, type RiskInput } from '../../lib/domain/risk/types.js';

const good = (over: Partial<RiskInput> = {}): RiskInput => ({
  amount: 25_000,
  income: 90_000,
  creditScore: 720,
  age: 36,
  declaredName: 'Ada Lovelace',
  ocr: { name: 'Ada Lovelace', income: 90_000, idNumber: 'AB1234567' },
  ...over,
});
const codes = (i: RiskInput) =>
  reasonsFor(i)
    .map((r) => r.code)
    .sort();

describe('approval rules', () => {
  test('a clean application is approved with no reasons', () => {
    const a = assess(good());
    assert.equal(a.decision, 'approved');
    assert.deepEqual(a.reasons, []);
  });

  test('LOW_CREDIT_SCORE below 600 rejects (credit category); 600 itself passes', () => {
    assert.deepEqual(codes(good({ creditScore: 599 })), ['LOW_CREDIT_SCORE']);
    assert.deepEqual(codes(good({ creditScore: 600 })), []);
    const a = assess(good({ creditScore: 550 }));
    assert.equal(a.decision, 'rejected');
    assert.equal(a.reasons[0]!.category, 'credit');
  });

  test('LOAN_TOO_LARGE above 5 × income rejects (affordability); exactly 5 × passes', () => {
    assert.deepEqual(codes(good({ amount: 450_001 })), ['LOAN_TOO_LARGE']);
    assert.deepEqual(codes(good({ amount: 450_000 })).includes('LOAN_TOO_LARGE'), false);
    const a = assess(good({ amount: 1_000_000 }));
    assert.equal(a.decision, 'rejected');
    assert.equal(a.reasons.find((r) => r.code === 'LOAN_TOO_LARGE')!.category, 'affordability');
  });

  test('INCOME_MISMATCH beyond 10 % sends to review (verification); within 10 % passes', () => {
    assert.deepEqual(codes(good({ ocr: { name: 'Ada Lovelace', income: 80_000, idNumber: null } })), ['INCOME_MISMATCH']);
    assert.deepEqual(codes(good({ ocr: { name: 'Ada Lovelace', income: 81_000, idNumber: null } })), []);
    const a = assess(good({ ocr: { name: 'Ada Lovelace', income: 50_000, idNumber: null } }));
    assert.equal(a.decision, 'pending_review');
    assert.equal(a.reasons[0]!.category, 'verification');
  });

  test('NAME_MISMATCH and DOCUMENT_UNREADABLE send to review', () => {
    assert.deepEqual(codes(good({ ocr: { name: 'Charles Babbage', income: 90_000, idNumber: null } })), ['NAME_MISMATCH']);
    assert.deepEqual(codes(good({ ocr: undefined })), ['DOCUMENT_UNREADABLE']);
    assert.deepEqual(codes(good({ ocr: { name: null, income: null, idNumber: 'X12345' } })), ['DOCUMENT_UNREADABLE']);
    assert.equal(assess(good({ ocr: undefined })).decision, 'pending_review');
  });

  test('reject reasons win over review reasons, and all reasons are reported', () => {
    const a = assess(good({ creditScore: 500, amount: 900_000, ocr: { name: 'Someone Else', income: 10_000, idNumber: null } }));
    assert.equal(a.decision, 'rejected');
    assert.deepEqual(a.reasons.map((r) => r.code).sort(), ['INCOME_MISMATCH', 'LOAN_TOO_LARGE', 'LOW_CREDIT_SCORE', 'NAME_MISMATCH']);
  });

  test('HIGH_RISK_SCORE sends an otherwise clean but risky application to review', () => {
    const a = assess(good({ creditScore: 600, amount: 440_000, age: 19 }));
    assert.ok(a.score > 600, `score ${a.score}`);
    assert.equal(a.decision, 'pending_review');
    assert.deepEqual(
      a.reasons.map((r) => r.code),
      ['HIGH_RISK_SCORE'],
    );
  });
});

describe('risk score', () => {
  test('stays within 0–1000 at the extremes and grows with risk', () => {
    const best = riskScore(good({ creditScore: 850, amount: 1, age: 40 }));
    const worst = riskScore(good({ creditScore: 300, amount: 1e9, income: 0, age: 18, ocr: undefined }));
    assert.equal(best, 0);
    assert.equal(worst, 1000);
    assert.ok(riskScore(good({ creditScore: 650 })) > riskScore(good({ creditScore: 750 })));
    assert.ok(riskScore(good({ amount: 300_000 })) > riskScore(good({ amount: 30_000 })));
  });
});

describe('comparisons', () => {
  test('names match up to case, punctuation, accents and a small OCR slip', () => {
    assert.ok(namesMatch('Ada Lovelace', 'ADA  LOVELACE.'));
    assert.ok(namesMatch('José Núñez', 'Jose Nunez'));
    assert.ok(namesMatch('Ada Lovelace', 'Ada Lovelacc'));
    assert.ok(!namesMatch('Ada Lovelace', 'Charles Babbage'));
    assert.ok(!namesMatch('Ada Lovelace', ''));
  });
  test('income tolerance is relative to the declared income', () => {
    assert.ok(!incomeDiffers(100_000, 110_000, 0.1));
    assert.ok(incomeDiffers(100_000, 110_001, 0.1));
    assert.ok(incomeDiffers(0, 5, 0.1));
  });
});

describe('bureau rules (model risk-2)', () => {
  const clean = { score: 760, openAccounts: 3, defaults: 0, identityMatch: true };
  test('a clean report adds no reason; without a report the rules are the declared-figures ones', () => {
    assert.deepEqual(codes(good({ bureau: clean })), []);
    assert.equal(assess(good({ bureau: clean })).decision, 'approved');
    assert.equal(assess(good()).decision, 'approved');
  });

  test('BUREAU_SCORE_LOW below 500 rejects (credit); 500 itself passes', () => {
    assert.deepEqual(codes(good({ bureau: { ...clean, score: 499 } })), ['BUREAU_SCORE_LOW']);
    assert.deepEqual(codes(good({ bureau: { ...clean, score: 500 } })), []);
    const a = assess(good({ bureau: { ...clean, score: 420 } }));
    assert.equal(a.decision, 'rejected');
    assert.equal(a.reasons.find((r) => r.code === 'BUREAU_SCORE_LOW')!.category, 'credit');
  });

  test('BUREAU_DEFAULTS: one default goes to review, two or more reject', () => {
    const one = assess(good({ bureau: { ...clean, defaults: 1 } }));
    assert.deepEqual([one.decision, one.reasons.map((r) => [r.code, r.severity])], ['pending_review', [['BUREAU_DEFAULTS', 'review']]]);
    const two = assess(good({ bureau: { ...clean, defaults: 2 } }));
    assert.deepEqual([two.decision, two.reasons.map((r) => [r.code, r.severity])], ['rejected', [['BUREAU_DEFAULTS', 'reject']]]);
  });

  test('BUREAU_IDENTITY_MISMATCH sends to review (verification)', () => {
    const a = assess(good({ bureau: { ...clean, identityMatch: false } }));
    assert.equal(a.decision, 'pending_review');
    assert.deepEqual(
      a.reasons.map((r) => [r.code, r.category]),
      [['BUREAU_IDENTITY_MISMATCH', 'verification']],
    );
  });

  test("the bureau's score, not the declared one, drives the credit part of the risk score", () => {
    assert.ok(riskScore(good({ creditScore: 800, bureau: { ...clean, score: 550 } })) > riskScore(good({ creditScore: 800 })));
  });

  test('VENDOR_UNAVAILABLE is transient (category vendor) and never decides anything', () => {
    const r = vendorUnavailable('credit-bureau', 'circuit_open', new Date('2026-11-21T12:00:00Z'));
    assert.deepEqual([r.code, r.category, r.severity], ['VENDOR_UNAVAILABLE', 'vendor', 'transient']);
    assert.match(r.message, /2026-11-21T12:00:00.000Z/);
  });

  test('every assessment carries the model version', () => {
    assert.equal(assess(good()).modelVersion, MODEL_VERSION);
  });
});

describe('a stored decision is reproducible from what is stored', () => {
  // An application as stored after a bureau decision (only the fields the rules read, plus noise).
  const stored = {
    amount: 40_000,
    income: 70_000,
    creditScore: 690,
    applicant: { name: 'Grace Hopper', age: 44, email: 'grace@example.com', phone: '+1 555 0100' },
    purpose: 'car',
    ocr: {
      documentId: 'd',
      fields: { name: 'GRACE HOPPER', income: 69_000, idNumber: 'X1' },
      mismatches: [],
      text: '…',
      readAt: new Date(),
    },
    bureau: {
      state: 'received' as const,
      vendor: 'credit-bureau',
      mode: 'async' as const,
      requestId: 'req_1',
      reportId: 'rpt_1',
      score: 610,
      openAccounts: 4,
      defaults: 1,
      identityMatch: true,
      receivedAt: new Date(),
    },
  };

  test('assess(riskInputOf(stored)) gives the same decision, score and reasons, under the recorded model version', () => {
    const decided = assess(riskInputOf(stored));
    const risk = { decision: decided.decision, score: decided.score, reasons: decided.reasons, modelVersion: decided.modelVersion };
    // …stored as JSON (the API view / a backup) and read back: nothing the rules need is lost.
    const again = assess(riskInputOf(JSON.parse(JSON.stringify(stored))));
    assert.deepEqual({ decision: again.decision, score: again.score, reasons: again.reasons, modelVersion: again.modelVersion }, risk);
    assert.equal(risk.decision, 'pending_review');
    assert.deepEqual(
      risk.reasons.map((r) => r.code),
      ['BUREAU_DEFAULTS'],
    );
  });

  test('a waiting bureau step (no report yet) feeds nothing into the rules', () => {
    const waiting = { ...stored, bureau: { state: 'waiting' as const } };
    assert.equal(riskInputOf(waiting).bureau, undefined);
  });
});
