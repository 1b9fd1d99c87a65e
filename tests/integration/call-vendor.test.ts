// The vendor wrapper (lib/vendors/call-vendor.ts) in this process against the credit-bureau
// simulator: per-attempt timeout, retries within the retry budget, the vendor's 429 + Retry-After
// honoured without calling again, the shared limiter refusing without calling, and a probe that is
// one attempt only. Each test uses its own vendor name (its own breaker and bucket).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CircuitBreaker } from '../../lib/limits/circuit-breaker.js';
import { LeasedLimiter } from '../../lib/limits/leased-limiter.js';
import { type VendorCallResult, VendorClient, type VendorOptions } from '../../lib/vendors/call-vendor.js';
import { type Bureau, bureauProcess } from '../helpers/bureau.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('call_vendor');
let bureau: Bureau;
f.before(async () => {
  bureau = await bureauProcess(f.procs, { BUREAU_SIM_LATENCY_MS: '0' });
});

let n = 0;
function client(over: Partial<VendorOptions> = {}, breakerOver: { minCalls?: number; coolDownMs?: number } = {}): VendorClient {
  const name = `vendor-${++n}`;
  const db = f.t.mongo.db;
  return new VendorClient(
    {
      name,
      ratePerSecond: 1000,
      timeoutMs: 1000,
      maxAttempts: 3,
      backoff: { baseMs: 10, capMs: 50 },
      maxInlineWaitMs: 500,
      retryBudget: { ratio: 0, minRetries: 2 },
      ...over,
    },
    new LeasedLimiter(db, { leaseFraction: 0.1, burstLeases: 1, leaseTtlMs: 1000 }),
    new CircuitBreaker(db, {
      vendor: name,
      owner: 'test',
      windowBuckets: 10,
      bucketMs: 1000,
      minCalls: breakerOver.minCalls ?? 1000,
      failureRatio: 0.5,
      coolDownMs: breakerOver.coolDownMs ?? 60_000,
      probeLeaseMs: 5000,
      cacheMs: 0,
      flushMs: 0,
    }),
  );
}
const report = (v: VendorClient) =>
  v.call(({ signal, probe }) =>
    fetch(`${bureau.url}/v1/reports`, {
      method: 'POST',
      signal,
      body: JSON.stringify({ name: 'Grace Hopper', email: 'grace@example.com' }),
      headers: { 'content-type': 'application/json', ...(probe ? { 'x-circuit-probe': '1' } : {}) },
    }),
  );
/** Every test starts from a healthy bureau, whatever the previous one left. */
const healthy = () => bureau.control({ latencyMs: 0, errorRate: 0, rateLimitPerSecond: 0, outage: false, hold: false });
const calls = async () => (await bureau.stats()).calls;
const failed = (r: VendorCallResult) => {
  assert.equal(r.ok, false);
  return r as Extract<VendorCallResult, { ok: false }>;
};

test('an answer comes back unread; a slow attempt is cut at its timeout and counted as a failure', async () => {
  await healthy();
  const v = client({ timeoutMs: 200, maxAttempts: 1 });
  const ok = await report(v);
  assert.ok(ok.ok);
  assert.equal(((await ok.response.json()) as { simulated: boolean }).simulated, true);
  await bureau.control({ latencyMs: 2000 });
  const r = failed(await report(v));
  assert.equal(r.reason, 'vendor_error');
  assert.equal(v.metrics().timeouts, 1);
  assert.equal((await v.breaker.state()).failures, 1, 'the breaker counted the timeout');
  await bureau.control({ latencyMs: 0 });
});

test('failures are retried with backoff until attempts run out, then the retry budget stops retries', async () => {
  await healthy();
  await bureau.control({ errorRate: 1 });
  const v = client({ maxAttempts: 3, retryBudget: { ratio: 0, minRetries: 2 } });
  const before = await calls();
  const first = failed(await report(v));
  assert.deepEqual([first.reason, first.attempts, first.status], ['vendor_error', 3, 500]);
  const second = failed(await report(v));
  assert.deepEqual([second.reason, second.attempts], ['retry_budget', 1], 'the 2 retries of the budget are spent');
  assert.equal((await calls()) - before, 4);
  assert.deepEqual([v.metrics().retries.retriesTotal, v.metrics().retries.retriesDeniedTotal, v.metrics().failures], [2, 1, 4]);
  await bureau.control({ errorRate: 0 });
});

test('the vendor’s 429 + Retry-After: no call reaches it again before that time', async () => {
  await healthy();
  await bureau.control({ rateLimitPerSecond: 1 });
  const v = client({ maxInlineWaitMs: 0 });
  // Three at once: the bureau takes one per second (two if they straddle a second) and refuses the rest.
  const rs = await Promise.all([report(v), report(v), report(v)]);
  const limited = failed(rs.find((r) => !r.ok)!);
  assert.equal(limited.reason, 'rate_limited');
  assert.equal(limited.status, 429);
  assert.ok(limited.retryAt.getTime() >= Date.now() + 500, 'retry at ≈ now + Retry-After (1 s)');
  const before = await calls();
  const again = failed(await report(v));
  assert.equal(again.reason, 'rate_limited');
  assert.equal(await calls(), before, 'refused in the process, the bureau was not called');
  assert.ok(v.metrics().vendor429 >= 1);
  await bureau.control({ rateLimitPerSecond: 0 });
});

test('the shared limiter refuses beyond the rate without calling the vendor', async () => {
  await healthy();
  const v = client({ ratePerSecond: 1 });
  assert.ok((await report(v)).ok);
  const before = await calls();
  const r = failed(await report(v));
  assert.equal(r.reason, 'rate_limited');
  assert.equal(r.status, undefined);
  assert.ok(r.retryAt.getTime() > Date.now());
  assert.equal(await calls(), before);
});

test('while open nothing is called; the half-open probe is one attempt, not retried, and its failure reopens', async () => {
  await healthy();
  await bureau.control({ outage: true });
  const v = client({ maxAttempts: 3 }, { minCalls: 2, coolDownMs: 100 });
  failed(await report(v));
  assert.equal((await v.breaker.state()).state, 'open');
  const before = await calls();
  assert.equal(failed(await report(v)).reason, 'circuit_open');
  assert.equal(await calls(), before);
  const s0 = await bureau.stats();
  await waitFor('the cool-down to pass', async () => (await v.breaker.state()).openUntil!.getTime() < Date.now(), { timeoutMs: 5000 });
  const probe = failed(await report(v));
  assert.deepEqual([probe.reason, probe.attempts, probe.status], ['vendor_error', 1, 503]);
  const s1 = await bureau.stats();
  assert.deepEqual([s1.calls - s0.calls, s1.probes - s0.probes], [1, 1]);
  const st = await v.breaker.state();
  assert.deepEqual([st.state, st.transitions.at(-1)?.reason], ['open', 'probe_failed']);
  await bureau.control({ outage: false });
});
