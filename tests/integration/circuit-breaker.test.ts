// The shared circuit breaker (lib/limits/circuit-breaker.ts) and the vendor wrapper
// (lib/vendors/call-vendor.ts) against the real mongod and the credit-bureau simulator:
// in-process compare-and-set races, then three worker-like processes (tests/fixtures/vendors/caller.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AllowedPermit, type BreakerOptions, CircuitBreaker, type Permit } from '../../lib/limits/circuit-breaker.js';
import { type CircuitBreakerDoc, transition } from '../../lib/limits/circuit-breaker-store.js';
import type { LockDoc } from '../../lib/locks/index.js';
import { BUREAU_VENDOR } from '../../lib/vendors/bureau-vendor.js';
import { type Bureau, bureauProcess } from '../helpers/bureau.js';
import { fixture } from '../helpers/fixture.js';
import type { Proc } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('circuit_breaker');
const breakers = () => f.t.mongo.db.collection<CircuitBreakerDoc>('circuit_breakers');
const breakerDoc = async (vendor = BUREAU_VENDOR) => (await breakers().findOne({ _id: vendor }))!;

const allowed = (p: Permit | undefined): AllowedPermit => {
  assert.ok(p?.allowed, 'permit allowed');
  return p;
};
const opts = (vendor: string, owner: string, over: Partial<BreakerOptions> = {}): BreakerOptions => ({
  vendor,
  owner,
  windowBuckets: 10,
  bucketMs: 1000,
  minCalls: 10,
  failureRatio: 0.5,
  coolDownMs: 60_000,
  probeLeaseMs: 5000,
  cacheMs: 250,
  flushMs: 0,
  ...over,
});

test('in-process: 4 breakers recording failures at once trip it exactly once; stale outcomes are dropped; force open/close', async () => {
  const db = f.t.mongo.db;
  const bs = ['a', 'b', 'c', 'd'].map((o) => new CircuitBreaker(db, opts('cas', o)));
  const permits = await Promise.all(bs.map((b) => b.permit()));
  assert.ok(permits.every((p) => p.allowed));
  // 4 × 5 failures at once: every flush after the 10th sees the ratio over the threshold and tries the CAS.
  await Promise.all(bs.flatMap((b, i) => Array.from({ length: 5 }, () => b.record('failure', allowed(permits[i])))));
  const d = await breakers().findOne({ _id: 'cas' });
  assert.equal(d?.state, 'open');
  assert.equal(d?.counts.open, 1, 'one transition to open, however many processes saw the ratio');
  assert.equal(d?.generation, 2);
  assert.equal(d?.buckets.length, 0, 'opening starts a fresh window');
  // Outcomes of calls permitted under generation 1 land nowhere now.
  await bs[0]!.record('success', allowed(permits[0]));
  assert.deepEqual((await breakers().findOne({ _id: 'cas' }))?.buckets, []);
  // Every process sees it open within its cache period, and is told to come back after the cool-down (60 s).
  const denied = await waitFor(
    'every breaker to see it open',
    async () => {
      const ps = await Promise.all(bs.map((b) => b.permit()));
      return ps.every((p) => !p.allowed) ? ps : null;
    },
    { timeoutMs: 5000 },
  );
  for (const p of denied) if (!p.allowed) assert.ok(p.retryAt.getTime() > Date.now() + 50_000);
  const closed = await bs[1]!.forceClose('operator@example.com');
  // ABA: the breaker is closed again, but at a newer generation; a transition decided on what was
  // seen at generation 1 (the same state name) is refused.
  assert.equal(closed.generation, 3);
  assert.equal(await transition(db, 'cas', { from: 'closed', generation: 1, to: 'open', reason: 'stale', coolDownMs: 1000 }), null);
  assert.equal((await breakerDoc('cas')).state, 'closed');
  assert.equal(closed.state, 'closed');
  assert.equal(closed.transitions.at(-1)?.reason, 'forced_close');
  assert.equal(closed.transitions.at(-1)?.by, 'operator@example.com');
  const opened = await bs[2]!.forceOpen('operator@example.com');
  assert.deepEqual([opened.state, opened.forced, opened.openUntil], ['open', true, null]);
  // Forced open never moves to half-open by itself, even with no cool-down.
  const eager = new CircuitBreaker(db, opts('cas', 'e', { coolDownMs: 10, cacheMs: 0 }));
  assert.equal((await eager.permit()).allowed, false);
  assert.equal((await breakers().findOne({ _id: 'cas' }))?.state, 'open');
  assert.equal((await eager.forceClose('op')).state, 'closed');
  assert.equal((await eager.permit()).allowed, true);
});

test('in-process: after the cool-down exactly one of 4 breakers gets the probe; its success closes it, a stale fence cannot decide', async () => {
  const db = f.t.mongo.db;
  const bs = ['a', 'b', 'c', 'd'].map((o) => new CircuitBreaker(db, opts('probe', o, { coolDownMs: 50, cacheMs: 0 })));
  const first = allowed(await bs[0]!.permit());
  for (let i = 0; i < 10; i++) await bs[0]!.record('failure', first);
  assert.equal((await breakerDoc('probe')).state, 'open');
  await waitFor('the cool-down to pass', async () => (await breakerDoc('probe')).openUntil!.getTime() < Date.now() - 20, {
    timeoutMs: 5000,
  });
  const permits = await Promise.all(bs.flatMap((b) => [b.permit(), b.permit()]));
  const probes = permits.filter((p) => p.allowed);
  assert.equal(probes.length, 1, 'one probe among 8 concurrent permits from 4 processes');
  const probe = allowed(probes[0]);
  assert.ok(probe.probe);
  const d = await breakerDoc('probe');
  assert.equal(d.state, 'half_open');
  assert.equal(d.probeFence, probe.probe.lease.fence);
  // A holder with an older fence (its lease was taken over) cannot decide the generation.
  const stale = {
    ...probe,
    probe: { ...probe.probe, lease: { ...probe.probe.lease, token: 'stale', fence: probe.probe.lease.fence - 1 } },
  };
  await bs[3]!.record('failure', stale);
  assert.equal((await breakerDoc('probe')).state, 'half_open');
  const owner = bs.find((b) => b.opts.owner === d.probeOwner)!;
  await owner.record('success', probe);
  const after = await breakerDoc('probe');
  assert.equal(after.state, 'closed');
  assert.deepEqual(
    after.transitions.slice(-3).map((t) => [t.from, t.to, t.reason]),
    [
      ['closed', 'open', 'failure_ratio'],
      ['open', 'half_open', 'cool_down_over'],
      ['half_open', 'closed', 'probe_succeeded'],
    ],
  );
  const lock = await f.t.mongo.db.collection<LockDoc>('locks').findOne({ _id: 'circuit:probe:probe' });
  assert.ok(lock && lock.expiresAt.getTime() <= Date.now(), 'the probe lease was released');
});

// Worker-like processes against the simulator.
const callerEnv = (b: Bureau, over: Record<string, string> = {}) => ({
  MONGO_URI: f.t.uri,
  MONGO_DB: f.t.dbName,
  BUREAU_URL: b.url,
  LANES: '2',
  BUREAU_RATE_PER_SECOND: '200',
  BUREAU_TIMEOUT_MS: '1000',
  BUREAU_MAX_ATTEMPTS: '2',
  BUREAU_BACKOFF_BASE_MS: '20',
  BUREAU_BACKOFF_CAP_MS: '100',
  BUREAU_BREAKER_WINDOW_BUCKETS: '4',
  BUREAU_BREAKER_BUCKET_MS: '500',
  BUREAU_BREAKER_MIN_CALLS: '10',
  BUREAU_BREAKER_FAILURE_RATIO: '0.5',
  BUREAU_BREAKER_COOL_DOWN_MS: '1000',
  BUREAU_BREAKER_PROBE_LEASE_MS: '3000',
  BUREAU_BREAKER_CACHE_MS: '250',
  BUREAU_BREAKER_FLUSH_MS: '100',
  ...over,
});
/** Processes of the current test; the next test's reset() stops whatever a failed test left running. */
let running: Proc[] = [];
const startCallers = async (b: Bureau, over: Record<string, string> = {}) => {
  const ps = await Promise.all(
    ['c1', 'c2', 'c3'].map((o) =>
      f.procs.node(`caller-${o}`, 'tests/fixtures/vendors/caller.ts', { ...callerEnv(b, over), OWNER: o }, { readyLine: 'ready\n' }),
    ),
  );
  running.push(...ps);
  return ps;
};
const startBureau = async (env: Record<string, string>) => {
  const b = await bureauProcess(f.procs, env);
  running.push(b);
  return b;
};
const stopAll = async (ps: Proc[]) => {
  for (const p of ps) await p.stop();
};
type CallerStats = { _id: string; ok: number; circuit_open: number; rate_limited: number };
const callerStats = async () =>
  new Map((await f.t.mongo.db.collection<CallerStats>('caller_stats').find().toArray()).map((s) => [s._id, s]));
const reset = async () => {
  await stopAll(running);
  running = [];
  await f.t.mongo.db.collection('circuit_breakers').deleteMany({});
  await f.t.mongo.db.collection('caller_stats').deleteMany({});
  await f.t.mongo.db.collection('rate_limits').deleteMany({});
};

test('3 processes: an outage opens the breaker for all, each half-open period sends exactly one probe, recovery closes it', async () => {
  await reset();
  const b = await startBureau({ BUREAU_SIM_LATENCY_MS: '5' });
  const callers = await startCallers(b);
  const died = f.procs.died;
  await waitFor('calls from all three', async () => new Set((await b.requests()).map((r) => r.caller)).size === 3, { died });
  await b.control({ outage: true });
  await waitFor('the breaker to open', async () => (await breakerDoc()).state === 'open', { died });
  await waitFor(
    'every process to be refused by the open breaker',
    async () => {
      const s = await callerStats();
      return ['c1', 'c2', 'c3'].every((o) => (s.get(o)?.circuit_open ?? 0) > 0);
    },
    { died },
  );
  // A failed probe reopened it: from here on only probes may reach the bureau. Snapshot the
  // simulator's request sequence while the breaker document stays at one open generation.
  await waitFor(
    'a failed probe to reopen it',
    async () => {
      const d = await breakerDoc();
      return d.state === 'open' && d.counts.half_open >= 1;
    },
    { died },
  );
  const snap = await waitFor('a stable snapshot', async () => {
    const d1 = await breakerDoc();
    const seq = (await b.stats()).calls;
    const d2 = await breakerDoc();
    return d1.state === 'open' && d2.generation === d1.generation ? { seq, halfOpens: d2.counts.half_open } : null;
  });
  await waitFor(
    'two more failed probes',
    async () => {
      const d = await breakerDoc();
      return d.state === 'open' && d.counts.half_open >= snap.halfOpens + 2;
    },
    { died },
  );
  await b.control({ outage: false });
  await waitFor('a probe to close it', async () => (await breakerDoc()).state === 'closed', { died });
  await waitFor(
    'calls from all three again',
    async () => {
      const after = (await b.requests(snap.seq)).filter((r) => !r.probe);
      return new Set(after.map((r) => r.caller)).size === 3;
    },
    { died },
  );
  const d = await breakerDoc();
  const reqs = await b.requests(snap.seq);
  const firstRegular = reqs.findIndex((r) => !r.probe);
  const probes = reqs.slice(0, firstRegular);
  assert.ok(
    reqs.slice(firstRegular).every((r) => !r.probe),
    'no probe after it closed',
  );
  assert.equal(probes.length, d.counts.half_open - snap.halfOpens, 'one probe per half-open period, nothing else reached the bureau');
  assert.ok(probes.length >= 3);
  assert.deepEqual(
    probes.map((p) => p.status),
    [...probes.slice(1).map(() => 503), 200],
  );
  assert.deepEqual(
    d.transitions.slice(-2).map((t) => [t.to, t.reason]),
    [
      ['half_open', 'cool_down_over'],
      ['closed', 'probe_succeeded'],
    ],
  );
  await stopAll(callers);
  await b.stop();
});

test('3 processes: the prober is kill -9ed while its probe hangs; another process probes only after its lease ran out', async () => {
  await reset();
  const b = await startBureau({ BUREAU_SIM_LATENCY_MS: '5' });
  // The probe must end within its lease: timeout 4 s (time enough to find and kill the prober), lease 6 s.
  const callers = await startCallers(b, { BUREAU_TIMEOUT_MS: '4000', BUREAU_BREAKER_PROBE_LEASE_MS: '6000' });
  const died = f.procs.died;
  await waitFor('calls', async () => (await b.stats()).calls > 20, { died });
  await b.control({ outage: true });
  await waitFor('the breaker to open', async () => (await breakerDoc()).state === 'open', { died });
  // A probe may still fail on the outage just before the hold starts; the first held one is the victim's.
  const seq = (await b.stats()).calls;
  const halfOpens = (await breakerDoc()).counts.half_open;
  await b.control({ outage: false, hold: true });
  const held = await waitFor(
    'a probe to hang at the bureau',
    async () => {
      const probes = (await b.requests(seq)).filter((r) => r.probe && r.status === null);
      return probes.length > 0 ? probes : null;
    },
    { died },
  );
  assert.equal(held.length, 1);
  const lock = (await f.t.mongo.db.collection<LockDoc>('locks').findOne({ _id: `circuit:${BUREAU_VENDOR}:probe` }))!;
  assert.equal(lock.owner, held[0]!.caller);
  const victim = callers[['c1', 'c2', 'c3'].indexOf(lock.owner ?? '')]!;
  await victim.kill9();
  await b.control({ hold: false });
  await waitFor('another process to probe and close it', async () => (await breakerDoc()).state === 'closed', {
    died,
    timeoutMs: 30_000,
  });
  const all = (await b.requests(seq)).filter((r) => r.probe);
  const failedBeforeHold = all.filter((r) => r.status === 503).length;
  const probes = all.filter((r) => r.status !== 503);
  assert.equal(probes.length, 2, 'the dead prober and its replacement, nobody else');
  assert.equal(probes[0]!.caller, lock.owner);
  assert.notEqual(probes[1]!.caller, lock.owner);
  assert.ok(probes[1]!.at >= lock.expiresAt.getTime(), 'the replacement probed only after the dead one’s lease ended');
  const after = (await f.t.mongo.db.collection<LockDoc>('locks').findOne({ _id: lock._id }))!;
  assert.equal(after.fence, lock.fence + 1, 'one new grant');
  const d = await breakerDoc();
  assert.deepEqual(d.transitions.at(-1), { ...d.transitions.at(-1)!, to: 'closed', reason: 'probe_succeeded', by: probes[1]!.caller });
  assert.equal(d.counts.half_open - halfOpens - failedBeforeHold, 1, 'the replacement probed within the same half-open generation');
  await stopAll(callers.filter((p) => p !== victim));
  await b.stop();
});

test('3 processes share one rate limit: the bureau sees at most rate + burst per second and sends no 429', async () => {
  await reset();
  const RATE = 20;
  const b = await startBureau({ BUREAU_SIM_LATENCY_MS: '5', BUREAU_SIM_RATE_LIMIT: '30' });
  const callers = await startCallers(b, {
    LANES: '4',
    BUREAU_RATE_PER_SECOND: String(RATE),
    BUREAU_RATE_LEASE_FRACTION: '0.1',
    BUREAU_RATE_BURST_LEASES: '3',
  });
  const died = f.procs.died;
  // Six whole seconds after the first request's second.
  const start = Math.floor(Date.now() / 1000) + 1;
  await waitFor('six whole seconds of calls', async () => Math.floor(Date.now() / 1000) > start + 6, { died, timeoutMs: 30_000 });
  const s = await b.stats();
  await stopAll(callers);
  const seconds = Array.from({ length: 6 }, (_, i) => s.perSecond[start + i] ?? 0);
  const burst = 3 * Math.ceil(RATE * 0.1);
  assert.ok(
    seconds.every((n) => n > 0 && n <= RATE + burst),
    `per second ${seconds.join(', ')} within (0, ${RATE + burst}]`,
  );
  assert.ok(seconds.reduce((a, n) => a + n, 0) <= RATE * 6 + burst, `total ${seconds.reduce((a, n) => a + n, 0)} ≤ ${RATE * 6 + burst}`);
  assert.equal(s.rateLimited, 0, 'the bureau never had to refuse');
  const stats = await callerStats();
  assert.ok(
    ['c1', 'c2', 'c3'].every((o) => (stats.get(o)?.ok ?? 0) > 0 && (stats.get(o)?.rate_limited ?? 0) > 0),
    'all three called and were held back',
  );
  await b.stop();
});
