// Status streams (SSE) on two in-process API instances with a real approval worker process:
// every status change in order whichever instance or worker made it, resume with Last-Event-ID
// without a gap, object-level authorization, caps, bad input, heartbeats and the gauge, one change
// stream per instance, and a drain that ends the streams.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Handover } from '../../lib/streams/handover.js';
import type { RunningApi } from '../../server/start.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { asPartner, loanRequest, type TestPartner, testPartner } from '../helpers/partners.js';
import { openSse, type SseStream } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

const SSE_ENV = { SSE_HEARTBEAT_MS: '200', SSE_RETRY_MS: '1500', SSE_STREAMS_PER_KEY: '3', SSE_STREAMS_PER_USER: '2' };
const f = fixture('status-events', { api: SSE_ENV });
let admin: Client;
let viewer: Client;
/** Reviewers on the second instance: one moves to review, another approves (four-eyes). */
let maker: Client;
let checker: Client;
let api2: RunningApi;
let a: TestPartner;
let b: TestPartner;
const streams: SseStream[] = [];

f.before(async () => {
  api2 = await f.startApi(SSE_ENV);
  admin = await f.client('admin');
  viewer = await f.client('viewer');
  maker = await f.client('reviewer', api2.url);
  checker = await f.client('reviewer', api2.url);
  a = await testPartner(admin, 'Stream A');
  b = await testPartner(admin, 'Stream B');
  f.after(() => {
    for (const s of streams) s.close();
  });
});

/** One real approval worker for the file, started by the first test that needs it. */
let approval: Promise<unknown> | undefined;
const approvalWorker = () => (approval ??= f.worker('approval'));

const submit = async (url: string, p: TestPartner, over: Record<string, unknown> = {}) => {
  const r = await asPartner(url, p.key, 'POST', '/api/loan/request', loanRequest(over));
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.id as string;
};

/** Opens a stream that must answer 200 (closed after the file). */
async function open(url: string, headers: Record<string, string>): Promise<SseStream> {
  const r = await openSse(url, headers);
  assert.equal(r.status, 200, JSON.stringify(r.res?.body));
  streams.push(r.stream!);
  return r.stream!;
}
const bearer = (p: TestPartner, last?: string) => ({ authorization: `Bearer ${p.key}`, ...(last ? { 'last-event-id': last } : {}) });
const session = (c: Client, last?: string) => ({ cookie: c.cookie, ...(last ? { 'last-event-id': last } : {}) });
const appStream = (url: string, p: TestPartner, id: string, last?: string) => open(`${url}/api/loan/request/${id}/events`, bearer(p, last));
const partnerStream = (url: string, p: TestPartner, last?: string) => open(`${url}/api/loan/requests/events`, bearer(p, last));

type View = { id: string; status: string; version: number };
/** The stream's status events for application `id` (all of them when omitted). */
const of = (s: SseStream, id?: string): View[] => s.json().filter((v: View) => id === undefined || v.id === id);
const seq = (vs: View[]) => vs.map((v) => `${v.status}@${v.version}`);

/** Waits until the stream holds `n` status events of `id`; fails at once if the stream ended. */
async function until(s: SseStream, n: number, id?: string): Promise<View[]> {
  return waitFor(
    `${n} status events${id ? ` of ${id}` : ''}`,
    () => {
      if (s.ended) throw new Error(`the stream ended: ${JSON.stringify(s.events)} ${String(s.error ?? '')}`);
      const got = of(s, id);
      return got.length >= n ? got : null;
    },
    { died: f.procs.died, timeoutMs: 30_000 },
  );
}

/** No application's version repeats or goes back within one stream (no duplicate across the handover). */
function assertIncreasing(s: SseStream): void {
  const last = new Map<string, number>();
  for (const v of of(s)) {
    assert.ok(
      v.version > (last.get(v.id) ?? 0),
      `${v.id}: version ${v.version} after ${last.get(v.id)} in ${JSON.stringify(seq(of(s, v.id)))}`,
    );
    last.set(v.id, v.version);
  }
}

const dbStatus = async (id: string) => (await f.t.c.applications.findOne({ _id: id }))?.status;

test('every status change reaches the streams in order, whichever instance or worker made it; B never sees A’s', async () => {
  const allA = await partnerStream(f.url, a);
  const allB = await partnerStream(f.url, b);
  const id = await submit(api2.url, a, { creditScore: 720 }); // made on the other instance
  const idB = await submit(api2.url, b);
  const one = await appStream(f.url, a, id);
  const adminView = await open(`${f.url}/api/applications/${id}/events`, session(viewer));
  await until(one, 1, id); // the current state first (scoring@1)

  await approvalWorker(); // a real worker process decides: no document yet → pending_review
  await until(one, 2, id);
  assert.equal((await maker.put(`/api/applications/${id}`, { version: 2, status: 'under_review' })).status, 200);
  await until(one, 3, id);
  const ok = await checker.put(`/api/applications/${id}`, { version: 3, status: 'approved' });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));

  const expected = ['scoring@1', 'pending_review@2', 'under_review@3', 'approved@4'];
  assert.deepEqual(seq(await until(one, 4, id)), expected);
  assert.deepEqual(seq(await until(allA, 4, id)), expected, 'the partner stream from the insert on');
  assert.deepEqual(seq(await until(adminView, 4, id)), expected);
  assert.deepEqual(
    one.events.map((e) => e.id),
    ['1', '2', '3', '4'],
    'a per-application stream’s id is the version',
  );
  // the event is the status view, the same as GET /api/loan/request/:id
  const got = await asPartner(f.url, a.key, 'GET', `/api/loan/request/${id}`);
  assert.deepEqual(of(one).at(-1), got.body);
  assert.deepEqual(Object.keys(got.body).sort(), ['id', 'loanId', 'reasons', 'status', 'updatedAt', 'version']);

  await until(allB, 2, idB); // B's own application, decided by the worker
  assert.deepEqual(
    of(allB).filter((v) => v.id !== idB),
    [],
    'B’s stream carries only B’s applications',
  );
  assert.ok(!of(allA).some((v) => v.id === idB), 'A’s stream never carries B’s');
  for (const s of [one, allA, allB, adminView]) {
    assertIncreasing(s);
    s.close();
  }
});

test('per-application resume: Last-Event-ID older than the current version gets the current state first, then live changes; equal gets only live ones', async () => {
  await approvalWorker();
  const id = await submit(f.url, a, { creditScore: 720 });
  await waitFor('the review decision', async () => (await dbStatus(id)) === 'pending_review', { died: f.procs.died });
  const first = await appStream(f.url, a, id);
  assert.deepEqual(seq(await until(first, 1)), ['pending_review@2']);
  assert.equal(first.lastEventId, '2');
  first.close();

  // a change while the client is away, made on the other instance
  assert.equal((await maker.put(`/api/applications/${id}`, { version: 2, status: 'under_review' })).status, 200);
  const resumed = await appStream(api2.url, a, id, first.lastEventId);
  assert.deepEqual(seq(await until(resumed, 1)), ['under_review@3'], 'the missed change first');
  const upToDate = await appStream(f.url, a, id, '3');
  assert.equal((await checker.put(`/api/applications/${id}`, { version: 3, status: 'approved' })).status, 200);
  assert.deepEqual(seq(await until(resumed, 2)), ['under_review@3', 'approved@4'], 'then live, no gap, no duplicate');
  assert.deepEqual(seq(await until(upToDate, 1)), ['approved@4'], 'nothing re-sent to a client that was up to date');
  resumed.close();
  upToDate.close();
});

test('partner-stream resume: Last-Event-ID (a watermark) gets the latest state of every application changed meanwhile, then live changes', async () => {
  await approvalWorker();
  const p = await testPartner(admin);
  const s1 = await partnerStream(f.url, p);
  await waitFor('the initial watermark', () => s1.lastEventId !== '' || null);
  const x = await submit(f.url, p, { creditScore: 720 });
  assert.deepEqual(seq(await until(s1, 2, x)), ['scoring@1', 'pending_review@2']);
  const watermark = s1.lastEventId;
  assert.match(watermark, /^\d+$/);
  s1.close();

  // while away: a new application is submitted and decided; x moves to review
  const y = await submit(api2.url, p, { creditScore: 550 });
  await waitFor('y decided', async () => (await dbStatus(y)) === 'rejected', { died: f.procs.died });
  assert.equal((await maker.put(`/api/applications/${x}`, { version: 2, status: 'under_review' })).status, 200);

  const s2 = await partnerStream(api2.url, p, watermark);
  await until(s2, 1, y);
  await until(s2, 1, x);
  assert.deepEqual(seq(of(s2, y)), ['rejected@2'], 'the latest state of what was missed');
  assert.deepEqual(seq(of(s2, x)).at(-1), 'under_review@3');
  const seen = of(s2, x).length;
  assert.equal((await checker.put(`/api/applications/${x}`, { version: 3, status: 'approved' })).status, 200);
  assert.equal((await until(s2, seen + 1, x)).at(-1)?.status, 'approved');
  assertIncreasing(s2);
  assert.ok(Number(s2.lastEventId) >= Number(watermark), `${s2.lastEventId} < ${watermark}`);
  s2.close();
});

test('a partner streams only its own applications: another partner’s or an admin-created one is 404; admins stream any', async () => {
  const id = await submit(f.url, a);
  const theirs = await openSse(`${f.url}/api/loan/request/${id}/events`, bearer(b));
  assert.equal(theirs.status, 404);
  assert.equal(theirs.res?.body.type, 'https://creditdesk.dev/problems/not_found');
  assert.equal(theirs.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  const own = await admin.create();
  assert.equal((await openSse(`${f.url}/api/loan/request/${own.id}/events`, bearer(a))).status, 404);
  assert.equal((await openSse(`${f.url}/api/loan/request/LOAN-01J00000000000000000000000/events`, bearer(a))).status, 404);
  // the admin route takes a session, not a key; a viewer may read any application
  assert.equal((await openSse(`${f.url}/api/applications/${id}/events`, bearer(a))).status, 401);
  assert.equal((await openSse(`${f.url}/api/loan/requests/events`, session(admin))).status, 401);
  const s = await open(`${f.url}/api/applications/${own.id}/events`, session(viewer));
  assert.deepEqual(seq(await until(s, 1)), ['submitted@1']);
  assert.equal(of(s)[0]?.id, own.id);
  s.close();
});

test('streams per partner key and per admin are capped: 429 problem beyond, a slot is free again once a stream closes', async () => {
  const p = await testPartner(admin);
  const id = await submit(f.url, p);
  const held = [await partnerStream(f.url, p), await appStream(f.url, p, id), await partnerStream(f.url, p)];
  const over = await openSse(`${f.url}/api/loan/request/${id}/events`, bearer(p));
  assert.equal(over.status, 429);
  assert.equal(over.res?.body.type, 'https://creditdesk.dev/problems/too_many_streams');
  assert.ok(over.headers.get('retry-after'));
  // the cap is per key: a second key of the partner has its own
  const second = await admin.post(`/api/partners/${p.id}/keys`);
  const other = await partnerStream(f.url, { ...p, key: second.body.key });
  held[0]!.close();
  const again = await waitFor('a free slot after a close', async () => {
    const r = await openSse(`${f.url}/api/loan/requests/events`, bearer(p));
    if (r.status === 429) return null;
    assert.equal(r.status, 200);
    return r.stream!;
  });
  streams.push(again);

  const u = await f.client('viewer');
  const mine = [
    await open(`${f.url}/api/applications/${id}/events`, session(u)),
    await open(`${f.url}/api/applications/${id}/events`, session(u)),
  ];
  const third = await openSse(`${f.url}/api/applications/${id}/events`, session(u));
  assert.equal(third.status, 429);
  for (const s of [...held, other, again, ...mine]) s.close();
});

test('a bad id, Last-Event-ID or query is a 400 problem', async () => {
  const id = await submit(f.url, a);
  const cases: Array<[string, Record<string, string>]> = [
    ['/api/loan/request/not-an-id/events', bearer(a)],
    ['/api/loan/request/LOAN-01J0000000000000000000000%24gt/events', bearer(a)],
    [`/api/loan/request/${id}/events`, bearer(a, 'abc')],
    [`/api/loan/request/${id}/events`, bearer(a, '0')],
    [`/api/loan/request/${id}/events`, bearer(a, '-1')],
    [`/api/loan/request/${id}/events`, bearer(a, '1.5')],
    [`/api/loan/request/${id}/events`, bearer(a, '12345678901')],
    ['/api/loan/requests/events', bearer(a, 'x')],
    ['/api/loan/requests/events', bearer(a, '1234567890123456')],
    ['/api/loan/requests/events?status=approved', bearer(a)],
    ['/api/applications/xyz/events', session(viewer)],
    [`/api/applications/${id}/events`, session(viewer, '{"$gt":0}')],
  ];
  for (const [path, headers] of cases) {
    const r = await openSse(`${f.url}${path}`, headers);
    assert.equal(r.status, 400, `${path} ${JSON.stringify(headers)}: ${JSON.stringify(r.res?.body)}`);
    assert.equal(r.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.equal(r.res?.body.status, 400);
  }
  const bad = await openSse(`${f.url}/api/loan/request/${id}/events`, bearer(a, 'abc'));
  assert.deepEqual(bad.res?.body.errors?.[0]?.path, 'last-event-id');
});

test('headers, retry hint, heartbeats and the sse_connections gauge', async () => {
  const api = await f.startApi(SSE_ENV); // its own instance: the gauge counts only this test's stream
  const metric = async (kind: string) => {
    const text = await (await fetch(`${api.url}/metrics`)).text();
    return Number(text.match(new RegExp(`^sse_connections\\{stream="${kind}"\\} (\\d+)$`, 'm'))?.[1]);
  };
  assert.equal(await metric('partner'), 0);
  const r = await openSse(`${api.url}/api/loan/requests/events`, bearer(a));
  assert.equal(r.status, 200);
  const s = r.stream!;
  streams.push(s);
  assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.equal(r.headers.get('x-accel-buffering'), 'no');
  assert.match(r.headers.get('cache-control') ?? '', /no-cache/);
  await waitFor('two heartbeats', () => s.comments.filter((c) => c === 'heartbeat').length >= 2 || null);
  assert.equal(s.retry, 1500);
  await waitFor('the gauge to count the stream', async () => (await metric('partner')) === 1 || null);
  s.close();
  await waitFor('the gauge to drop it', async () => (await metric('partner')) === 0 || null);
});

/** Change streams open on `applications` (active or between two getMores), all instances together. */
async function changeStreams(): Promise<number> {
  const ops = await f.t.mongo.client
    .db('admin')
    .aggregate([
      { $currentOp: { idleCursors: true, allUsers: true } },
      { $match: { ns: `${f.t.dbName}.applications` } },
      {
        $match: {
          $or: [
            { 'cursor.originatingCommand.pipeline.0.$changeStream': { $exists: true } },
            { 'command.pipeline.0.$changeStream': { $exists: true } },
          ],
        },
      },
    ])
    .toArray();
  return new Set(ops.map((o) => String(o.cursor?.cursorId ?? o.opid))).size;
}

test('one change stream per instance, however many clients', async () => {
  const api = await f.startApi(SSE_ENV);
  const id = await submit(f.url, a);
  const before = await changeStreams(); // the other instances' (each opened one with its first client)
  const held = [
    await partnerStream(api.url, a),
    await partnerStream(api.url, b),
    await appStream(api.url, a, id),
    await appStream(api.url, a, id),
    await open(`${api.url}/api/applications/${id}/events`, session(viewer)),
    await open(`${api.url}/api/applications/${id}/events`, session(admin)),
  ];
  assert.equal(await changeStreams(), before + 1, 'six clients, one more change stream');
  for (const s of held) s.close();
});

test('a drain ends every stream of the instance (clients reconnect elsewhere) and closes its change stream', async () => {
  const api3 = await f.startApi(SSE_ENV);
  const id = await submit(f.url, a);
  const held = [await partnerStream(api3.url, a), await appStream(api3.url, a, id)];
  await until(held[1]!, 1);
  const before = await changeStreams();
  await api3.stop();
  for (const s of held) await waitFor('the stream to end', () => s.ended || null);
  assert.deepEqual(
    held.map((s) => s.error),
    [undefined, undefined],
    'ended by the server, not cut',
  );
  assert.equal(await changeStreams(), before - 1, 'its change stream is closed');
});

test('the handover: live changes wait while the catch-up is sent; states the client has are never sent again, nor older ones', () => {
  const sent: string[] = [];
  let overflowed = false;
  const v = (id: string, version: number) => ({
    id,
    loanId: null,
    status: 'scoring' as const,
    reasons: [],
    updatedAt: new Date(0),
    version,
  });
  const h = new Handover(
    (x) => sent.push(`${x.id}@${x.version}`),
    3,
    () => {
      overflowed = true;
    },
  );
  h.known('k', 5);
  h.live(v('x', 2)); // committed before the catch-up read: a live copy of what the catch-up says
  h.live(v('x', 3)); // committed after it
  h.caughtUp(v('x', 2));
  h.caughtUp(v('k', 5)); // the client has it (its Last-Event-ID)
  assert.deepEqual(sent, ['x@2'], 'nothing live before finish()');
  h.finish();
  h.live(v('x', 3)); // a late copy of a flushed change
  h.live(v('k', 4)); // a stale change delivered late
  h.live(v('k', 6));
  h.live(v('y', 1));
  assert.deepEqual(sent, ['x@2', 'x@3', 'k@6', 'y@1']);
  assert.equal(overflowed, false);
  const small = new Handover(
    () => {},
    1,
    () => {
      overflowed = true;
    },
  );
  small.live(v('x', 1));
  small.live(v('x', 2));
  assert.ok(overflowed, 'a catch-up that takes too long ends the stream rather than buffering without bound');
});
