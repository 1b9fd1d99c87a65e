// The console's time series (lib/metrics/series-*.ts, ADR 0022) with two API instances on one
// database: both $inc into the same buckets, so both serve the same points; one instance holds the
// sampler lease and samples queue depth, completions and error-log occurrences; the streams and
// read routes answer by role.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { recordError } from '../../lib/domain/error-log/record.js';
import { addOutcomes, circuitBreakersCollection, ensureBreakerDoc } from '../../lib/limits/circuit-breaker-store.js';
import { listLocks } from '../../lib/locks/index.js';
import { LATENCY_BOUNDS_MS, latencySlot, quantile } from '../../lib/metrics/series-buckets.js';
import { readWindow, type SeriesPoint } from '../../lib/metrics/series-reader.js';
import { SAMPLER_LOCK } from '../../lib/metrics/series-sampler.js';
import { type JobDefinition, publish, startWorker } from '../../lib/queue/index.js';
import type { RunningApi } from '../../server/start.js';
import { silentLog } from '../helpers/db.js';
import { fixture } from '../helpers/fixture.js';
import { Client } from '../helpers/http.js';
import { asPartner, loanRequest, type TestPartner, testPartner } from '../helpers/partners.js';
import { openSse, type SseStream } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

const SERIES = { CONSOLE_SERIES_ENABLED: 'true' };
const f = fixture('opsseries', { api: SERIES });
let b: RunningApi;
let admin: Client;
let partner: TestPartner;
const streams: SseStream[] = [];

f.before(async () => {
  b = await f.startApi(SERIES);
  admin = await f.client('admin');
  partner = await testPartner(admin);
  f.after(() => {
    for (const s of streams) s.close();
  });
});

const sum = (points: SeriesPoint[], pick: (p: SeriesPoint) => number | undefined) => points.reduce((n, p) => n + (pick(p) ?? 0), 0);

/** The `window` frame an instance sends on connect, as a signed-in client sees it. */
async function windowFrom(url: string, client: Client): Promise<{ s: SeriesPoint[]; m: SeriesPoint[] }> {
  const r = await openSse(`${url}/api/admin/ops/series`, { cookie: client.cookie });
  assert.equal(r.status, 200);
  const s = r.stream!;
  streams.push(s);
  const [w] = await waitFor('the window frame', () => (s.json('window').length ? s.json('window') : null));
  s.close();
  return w;
}

test('latency histogram: slots and interpolated quantiles', () => {
  assert.equal(latencySlot(0.4), 0);
  assert.equal(latencySlot(1), 0);
  assert.equal(latencySlot(1.1), 1);
  assert.equal(latencySlot(60_000), LATENCY_BOUNDS_MS.length);
  assert.equal(quantile(undefined, 0.5), null);
  assert.equal(quantile({}, 0.5), null);
  // 100 requests in (10, 15] ms: the median interpolates to the middle of the slot
  assert.equal(quantile({ [latencySlot(12)]: 100 }, 0.5), 12.5);
  // 99 fast and 1 slow: p50 is fast, p99 lands in the fast slot's top, p100 in the slow slot
  const h = { [latencySlot(2)]: 99, [latencySlot(400)]: 1 };
  assert.ok((quantile(h, 0.5) ?? 99) <= 2);
  assert.ok((quantile(h, 1) ?? 0) > 300);
});

test('two instances count intake into the same buckets and stream the same points', async () => {
  const first = loanRequest();
  for (const body of [first, loanRequest(), loanRequest()]) {
    const r = await asPartner(f.url, partner.key, 'POST', '/api/loan/request', body);
    assert.equal(r.status, 202);
  }
  const replay = await asPartner(b.url, partner.key, 'POST', '/api/loan/request', first);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  const bad = await asPartner(b.url, partner.key, 'POST', '/api/loan/request', { loanId: 'x' });
  assert.equal(bad.status, 400);

  const want = { accepted: 3, replayed: 1, rejected: 1, limited: 0, paused: 0 };
  const counted = (points: SeriesPoint[]) =>
    Object.fromEntries(Object.keys(want).map((k) => [k, sum(points, (p) => p.intake[k as keyof typeof want])]));
  await waitFor('both instances to flush their intake counters', async () => {
    const w = await readWindow(f.t.mongo.db, Date.now());
    return JSON.stringify(counted(w.s)) === JSON.stringify(want) && JSON.stringify(counted(w.m)) === JSON.stringify(want);
  });
  // Each instance streams the buckets both wrote: the same intake totals and request counts.
  const [wa, wb] = [await windowFrom(f.url, admin), await windowFrom(b.url, admin)];
  assert.deepEqual(counted(wa.s), want);
  assert.deepEqual(counted(wb.s), want);
  assert.deepEqual(counted(wa.m), want);
  const settled = (w: { s: SeriesPoint[] }) => w.s.filter((p) => p.t < Date.now() - 10_000).map((p) => [p.t, p.intake, p.requests, p.p95]);
  const [sa, sb] = [settled(wa), settled(wb)];
  const common = sa.filter(([t]) => sb.some(([u]) => u === t));
  assert.deepEqual(
    common,
    sb.filter(([t]) => sa.some(([u]) => u === t)),
  );
  assert.ok(sum(wa.s, (p) => p.requests) >= 5, 'API requests are counted');
  assert.ok(
    wa.s.some((p) => p.p50 !== null && p.p99 !== null && p.p50 <= p.p99),
    'latency percentiles come with requests',
  );
});

test('one instance samples: queue depth, completions per type, error-log occurrences by category, vendor breakers and calls', async () => {
  const db = f.t.mongo.db;
  await waitFor(
    'one instance to hold the sampler lease',
    async () => (await listLocks(db)).filter((l) => l.key === SAMPLER_LOCK).length === 1,
  );
  for (let i = 0; i < 4; i++) await publish(db, 'series.demo', { i });
  const latest = async () => (await readWindow(db, Date.now())).s.filter((p) => p.depth['series.demo'] !== undefined).at(-1);
  await waitFor('the depth of series.demo to be sampled', async () => (await latest())?.depth['series.demo'] === 4);

  const job: JobDefinition<{ i: number }> = { type: 'series.demo', payload: z.object({ i: z.number() }), async handle() {} };
  const w = startWorker({ db, jobs: [job], concurrency: 2, pollMs: 50, log: silentLog });
  f.after(() => w.stop());
  await waitFor(
    '4 completions of series.demo in the buckets',
    async () => sum((await readWindow(db, Date.now())).s, (p) => p.done['series.demo']) === 4,
  );
  await waitFor('the depth to drop to 0', async () => (await latest())?.depth['series.demo'] === 0);

  const occurrence = { code: 'SERIES_TEST', category: 'vendor' as const, message: 'bureau down', applicationId: 'LOAN-SERIES' };
  for (let i = 0; i < 3; i++) await recordError(f.t.c, occurrence, { retentionDays: 1 });
  await waitFor('3 vendor errors in the buckets', async () => sum((await readWindow(db, Date.now())).s, (p) => p.errors.vendor) === 3);
  assert.equal(
    sum((await readWindow(db, Date.now())).m, (p) => p.errors.vendor),
    3,
    'the minute buckets count them once too',
  );

  // Vendor breakers: the state as a level, and the calls the breaker counted since the last sample.
  await ensureBreakerDoc(db, 'series-vendor');
  await waitFor('the breaker to be sampled (closed)', async () =>
    (await readWindow(db, Date.now())).s.some((p) => p.breakers['series-vendor'] === 0),
  );
  assert.ok(await addOutcomes(db, 'series-vendor', 1, 3, 2, 1000, 60));
  await waitFor(
    '5 vendor calls in the buckets',
    async () => sum((await readWindow(db, Date.now())).s, (p) => p.calls['series-vendor']) === 5,
  );
  await circuitBreakersCollection(db).updateOne({ _id: 'series-vendor' }, { $set: { state: 'open' } });
  await waitFor('the open breaker to be sampled', async () => (await readWindow(db, Date.now())).s.at(-1)?.breakers['series-vendor'] === 2);
});

test('reviewers and viewers read the streams; the search routes and every action are admin-only', async () => {
  for (const role of ['reviewer', 'viewer'] as const) {
    const c = await f.client(role);
    const w = await windowFrom(f.url, c);
    assert.ok(Array.isArray(w.s));
    const snap = await openSse(`${f.url}/api/admin/stream`, { cookie: c.cookie });
    assert.equal(snap.status, 200);
    snap.stream?.close();
    assert.equal((await c.post('/api/admin/intake/pause', {})).status, 403);
    assert.equal((await c.get('/api/admin/applications?loanId=abc')).status, 403);
  }
  for (const path of ['/api/admin/ops/series', '/api/admin/stream']) assert.equal((await openSse(`${f.url}${path}`)).status, 401);
});

test('search: an application by partner loanId, and its timeline', async () => {
  const body = loanRequest();
  const r = await asPartner(f.url, partner.key, 'POST', '/api/loan/request', body);
  assert.equal(r.status, 202);
  const found = await admin.get(`/api/admin/applications?loanId=${body.loanId}`);
  assert.equal(found.status, 200);
  assert.deepEqual(
    found.body.items.map((i: { id: string; partnerId: string }) => [i.id, i.partnerId]),
    [[r.body.id, partner.id]],
  );
  const t = await admin.get(`/api/admin/applications/${r.body.id}/timeline`);
  assert.equal(t.status, 200);
  assert.equal(t.body.loanId, body.loanId);
  assert.ok(
    t.body.entries.some((e: { kind: string }) => e.kind === 'audit'),
    'the audit trail is in the timeline',
  );
  assert.deepEqual((await admin.get('/api/admin/applications?loanId=nobody-has-this')).body.items, []);
  assert.equal((await admin.get('/api/admin/applications/LOAN-00000000000000000000000000/timeline')).status, 404);
  assert.equal((await admin.get('/api/admin/applications?loanId=%24where')).status, 400);
  assert.equal((await new Client(f.url).get('/api/admin/applications?loanId=x')).status, 401);
});
