import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assess, reasonsFor } from '../../lib/domain/risk/assess.js';
import { incomeDiffers, namesMatch } from '../../lib/domain/risk/compare.js';
import { riskScore } from '../../lib/domain/risk/score.js';
import type { RiskInput } from '../../lib/domain/risk/types.js';

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
