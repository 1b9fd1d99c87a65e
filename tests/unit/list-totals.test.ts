import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedTotals } from '../../lib/domain/applications/list-totals.js';

test('list totals: one count per key and window, shared by concurrent callers; failures are not kept', async () => {
  let clock = 0;
  let counts = 0;
  const count = async () => ++counts;
  const total = cachedTotals(1000, () => clock);
  assert.deepEqual(await Promise.all([total('a', count), total('a', count), total('b', count)]), [1, 1, 2]);
  clock = 999;
  assert.equal(await total('a', count), 1);
  clock = 1000;
  assert.equal(await total('a', count), 3);
  await assert.rejects(total('c', () => Promise.reject(new Error('mongo down'))));
  assert.equal(await total('c', count), 4, 'a failed count is retried on the next request');
  const exact = cachedTotals(0, () => clock);
  assert.deepEqual([await exact('a', count), await exact('a', count)], [5, 6]);
});
