// The partner's status view: the decision's reasons, plus the bureau step's transient reasons
// (VENDOR_UNAVAILABLE) while it waits — so a partner sees why its request is not decided yet.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusView } from '../../lib/domain/intake/status-view.js';
import type { Reason } from '../../lib/domain/risk/types.js';

const unavailable: Reason = {
  code: 'VENDOR_UNAVAILABLE',
  category: 'vendor',
  severity: 'transient',
  message: 'the credit bureau is unavailable; retrying',
};
const base = {
  _id: 'LOAN-01JD8Z6Q7M3V4W5X6Y7Z8A9B0C',
  status: 'scoring' as const,
  updatedAt: new Date(0),
  version: 2,
  intake: { loanId: 'B-1' },
};

test('while the bureau step waits, its transient reasons are part of the status', () => {
  const v = statusView({ ...base, bureau: { state: 'waiting', reasons: [unavailable] } });
  assert.deepEqual(v.reasons, [{ code: 'VENDOR_UNAVAILABLE', category: 'vendor', message: unavailable.message }]);
  assert.equal(v.loanId, 'B-1');
});

test('once the report is received, only the decision’s reasons are shown', () => {
  const low: Reason = { code: 'BUREAU_SCORE_LOW', category: 'credit', severity: 'reject', message: 'bureau score below 500' };
  const v = statusView({ ...base, status: 'rejected', risk: { reasons: [low] }, bureau: { state: 'received', reasons: [unavailable] } });
  assert.deepEqual(
    v.reasons.map((r) => r.code),
    ['BUREAU_SCORE_LOW'],
  );
});
