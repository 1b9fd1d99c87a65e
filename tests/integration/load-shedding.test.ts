// Load shedding (issue 12, ADR 0028) on real API processes: a request that queued too long
// (X-Request-Start, as nginx stamps it; end to end through real nginx in front of an instance held
// up with SIGSTOP) is answered 503 + Retry-After with a problem body and
// writes nothing, while /health, /ready and sign-in still answer; an event loop held up
// (SIGSTOP/SIGCONT of the process, no test hook in the product) makes the instance shed until
// its lag recovers; concurrent logins beyond the verification semaphore (1 slot, no queue) get
// 503 + Retry-After, never a time-out, and leave no login counter behind; the thread pool that
// verifies passwords runs below the event loop's priority (THREADPOOL_NICE), so a burst of
// sign-ins cannot starve the loop that answers and sheds everything else.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { databaseSnapshot } from '../helpers/db.js';
import { fixture } from '../helpers/fixture.js';
import { Client, type Res } from '../helpers/http.js';
import { sampleApplication } from '../helpers/samples.js';
import { freePorts } from '../helpers/stack.js';
import type { ServerProc } from '../helpers/app-processes.js';
import { PASSWORD } from '../helpers/users.js';
import { waitFor } from '../helpers/wait.js';

// The stack: real nginx in front of one instance whose queue-time limit is 500 ms.
const f = fixture('shedding', { stack: { instances: 1, env: { LOAD_SHED_QUEUE_MS: '500' } } });
/** Default thresholds (the queue-time rule at 1 s). */
let queued: ServerProc;
/** The lag rule made sensitive: 100 ms smoothed lag, no minimum duration, no minimum in flight. */
let lagging: ServerProc;
/** The same, but with the default minimum in flight (32): a starved process with few requests sheds nothing. */
let starved: ServerProc;
/** One verification slot, no wait queue. */
let logins: ServerProc;
let admin: Client;

f.before(async () => {
  const [p1, p2, p3, p4] = await freePorts(4);
  const sensitive = { LOAD_SHED_LAG_MS: '100', LOAD_SHED_MIN_OVERLOAD_MS: '0' };
  [queued, lagging, starved, logins] = await Promise.all([
    f.server(p1!, { LOAD_SHED_QUEUE_MS: '1000' }),
    f.server(p2!, { ...sensitive, LOAD_SHED_MIN_IN_FLIGHT: '0' }),
    f.server(p4!, { ...sensitive, THREADPOOL_NICE: '0' }),
    f.server(p3!, { LOGIN_MAX_CONCURRENT_VERIFICATIONS: '1', LOGIN_VERIFY_QUEUE_MAX: '0' }),
  ]);
  admin = await f.client('admin', queued.url);
});

/** nginx's stamp (`t=<epoch seconds.millis>`, $msec) for a request that left nginx `agoMs` ago. */
const stamp = (agoMs: number) => ({ 'x-request-start': `t=${((Date.now() - agoMs) / 1000).toFixed(3)}` });
const stale = () => stamp(10_000);

function assertShed(r: Res, reason: string, what: string): void {
  assert.equal(r.status, 503, `${what}: ${JSON.stringify(r.body)}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
  assert.match(r.headers.get('retry-after') ?? '', /^[1-9]\d*$/, `${what}: Retry-After`);
  assert.equal(r.body.type, 'https://creditdesk.dev/problems/overloaded', what);
  assert.equal(r.body.reason, reason, what);
  assert.equal(r.body.retryAfterSeconds, Number(r.headers.get('retry-after')), what);
  assert.ok(r.headers.get('x-request-id'), `${what}: X-Request-Id`);
}

const metric = async (url: string, reason: string) => {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^http_requests_shed_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
  return Number(m?.[1] ?? Number.NaN);
};
const sheddingActive = async (url: string) => /^load_shedding_active 1$/m.test(await (await fetch(`${url}/metrics`)).text());

describe('queue time (X-Request-Start)', () => {
  test('a request that waited longer than LOAD_SHED_QUEUE_MS is shed with 503 + Retry-After; a fresh one is served', async () => {
    assertShed(await admin.req('GET', '/api/applications', undefined, stale()), 'queue_time', 'stale GET');
    const fresh = await admin.req('GET', '/api/applications', undefined, stamp(0));
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.equal((await admin.get('/api/applications')).status, 200, 'no stamp: not shed');
    assert.ok((await metric(queued.url, 'queue_time')) >= 1, 'counted in http_requests_shed_total');
  });

  test('a shed POST writes nothing; the same POST unstamped creates', async () => {
    const before = await databaseSnapshot(f.t.mongo.db);
    assertShed(await admin.req('POST', '/api/applications', sampleApplication(), stale()), 'queue_time', 'stale POST');
    assert.equal(await databaseSnapshot(f.t.mongo.db), before, 'nothing was written');
    assert.equal((await admin.post('/api/applications', sampleApplication())).status, 201);
  });

  test("/health, /ready, /metrics, sign-in and the operators' console (/ops/, /api/admin/*) are never shed", async () => {
    const anon = new Client(queued.url);
    for (const path of ['/health', '/ready']) {
      const r = await anon.req('GET', path, undefined, stale());
      assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
    }
    // Express routes /HEALTH/ to /health as well (not in the OpenAPI document: plain fetch).
    assert.equal((await fetch(`${queued.url}/HEALTH/`, { headers: stale() })).status, 200, '/HEALTH/');
    assert.equal((await fetch(`${queued.url}/metrics`, { headers: stale() })).status, 200, '/metrics');
    const u = await f.user('reviewer');
    const r = await anon.req('POST', '/api/auth/login', { email: u.email, password: PASSWORD }, stale());
    assert.equal(r.status, 200, `login: ${JSON.stringify(r.body)}`);
    const vendors = await admin.req('GET', '/api/admin/vendors', undefined, stale());
    assert.equal(vendors.status, 200, `/api/admin/vendors: ${JSON.stringify(vendors.body)}`);
    assert.equal((await fetch(`${queued.url}/ops/`, { headers: stale() })).status, 200, '/ops/');
  });

  test('shedding is logged (at most a summary line a second), not one line per request', async () => {
    await waitFor('the shedding summary line', () => queued.output().includes('shedding load (503 + Retry-After)'), {
      died: f.procs.died,
    });
  });
});

describe('through nginx', () => {
  test('nginx stamps X-Request-Start: a request that waited behind a held-up instance is shed; /health is not', async () => {
    const c = await f.client('reviewer'); // through nginx
    const api = f.stack.apis[0]!.child.proc;
    api.kill('SIGSTOP');
    let list: Promise<Res>;
    let health: Promise<Res>;
    try {
      list = c.get('/api/applications');
      health = new Client(f.url).get('/health');
      await sleep(1500); // both wait in the instance's socket, stamped by nginx when it sent them on
    } finally {
      api.kill('SIGCONT');
    }
    assertShed(await list, 'queue_time', 'queued behind the held-up instance');
    assert.equal((await health).status, 200, '/health is never shed');
    assert.equal((await c.get('/api/applications')).status, 200, 'served again once it keeps up');
  });
});

/** Holds the process for 1.5 s (SIGSTOP, SIGCONT): its lag timer fires that late once it runs again. */
async function holdUp(p: ServerProc): Promise<void> {
  p.signal('SIGSTOP');
  await sleep(1500);
  p.signal('SIGCONT');
}

describe('event-loop lag', () => {
  test('an instance whose event loop was held up sheds until its lag recovers; /health still answers', async () => {
    const c = await f.client('reviewer', lagging.url);
    const anon = new Client(lagging.url);
    // Hold the process up, then ask until it sheds.
    const shed = await waitFor(
      'a request shed for event-loop lag',
      async () => {
        await holdUp(lagging);
        for (let i = 0; i < 20; i++) {
          const r = await c.get('/api/applications');
          const h = await anon.get('/health');
          assert.equal(h.status, 200, '/health is never shed');
          if (r.status === 503) return r;
          assert.equal(r.status, 200, JSON.stringify(r.body));
        }
        return undefined;
      },
      { died: f.procs.died, timeoutMs: 60_000, intervalMs: 100 },
    );
    assertShed(shed, 'event_loop_lag', 'during the lag');
    assert.ok((await metric(lagging.url, 'event_loop_lag')) >= 1, 'counted in http_requests_shed_total');
    // Without the pause the lag falls below half the threshold and the instance serves again.
    await waitFor('serving again', async () => (await c.get('/api/applications')).status === 200, { died: f.procs.died });
    await waitFor('the start and stop log lines', () => {
      const out = lagging.output();
      return out.includes('load shedding started') && out.includes('load shedding stopped');
    });
  });

  test('a lagging process with fewer requests in flight than LOAD_SHED_MIN_IN_FLIGHT (32) sheds none of them', async () => {
    const c = await f.client('reviewer', starved.url);
    // Requests made while /metrics says the lag signal is on, before and after them.
    const during = await waitFor(
      'requests answered while the lag signal was on',
      async () => {
        await holdUp(starved);
        if (!(await sheddingActive(starved.url))) return undefined;
        const statuses = [];
        for (let i = 0; i < 5; i++) statuses.push((await c.get('/api/applications')).status);
        return (await sheddingActive(starved.url)) ? statuses : undefined;
      },
      { died: f.procs.died, timeoutMs: 60_000, intervalMs: 100 },
    );
    assert.deepEqual(during, [200, 200, 200, 200, 200]);
    assert.equal(await metric(starved.url, 'event_loop_lag'), 0);
  });
});

describe('login verification slots', () => {
  test('logins beyond the slots (1, no queue) get 503 + Retry-After, none times out, the refused ones leave no counter', async () => {
    const users = await Promise.all(Array.from({ length: 12 }, () => f.user('viewer')));
    const attempt = async (email: string) => {
      const c = new Client(logins.url);
      return { email, r: await c.login(email, PASSWORD) };
    };
    const burst = await waitFor(
      'a burst with some logins refused',
      async () => {
        // Every attempt is answered (a time-out would reject and fail the test through waitFor).
        const out = await Promise.all(users.map((u) => attempt(u.email)));
        for (const { r } of out) assert.ok(r.status === 200 || r.status === 503, `${r.status} ${JSON.stringify(r.body)}`);
        return out.some((o) => o.r.status === 503) ? out : undefined;
      },
      { died: f.procs.died, timeoutMs: 60_000 },
    );
    const refused = burst.filter((o) => o.r.status === 503);
    assert.ok(refused.length < burst.length, 'some logins succeeded');
    for (const { r } of refused) {
      assert.match(r.headers.get('retry-after') ?? '', /^[1-9]\d*$/, 'Retry-After');
      assert.match(r.body.type, /\/login_busy$/);
    }
    // Refused before the throttle's reservation: nothing counted for them (a success deletes its
    // pair counter; a reservation left behind would show as a pair counter or a slot in flight).
    const pairs = (await f.t.c.loginAttempts.find({}).toArray()).map((d) => String(d._id));
    for (const { email } of refused)
      assert.ok(!pairs.some((id) => id.startsWith(`pair:${email.toLowerCase()} `)), `no pair counter for ${email}`);
    assert.equal(await f.t.c.loginAttempts.countDocuments({ inflight: { $gt: 0 } }), 0, 'no verification left counted in flight');
    // Retry-After honoured one by one: each refused admin signs in.
    for (const { email } of refused) assert.equal((await new Client(logins.url).login(email, PASSWORD)).status, 200, email);
    assert.ok((await metric(logins.url, 'login_busy')) >= refused.length, 'counted in http_requests_shed_total');
  });
});

describe('thread pool priority', () => {
  /** Nice value of each thread of the process, by thread name (/proc/<pid>/task/<tid>/stat, field 19). */
  const niceByThread = (pid: number) =>
    readdirSync(`/proc/${pid}/task`).map((tid) => {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return { name, nice: Number(fields[16]) };
    });

  test('the libuv pool (argon2 verifications) runs at nice 10 by default, the event loop at 0; THREADPOOL_NICE=0 leaves the pool alone', () => {
    const lowered = niceByThread(queued.pid!);
    const pool = lowered.filter((t) => t.name === 'libuv-worker');
    assert.ok(pool.length >= 1, `pool threads: ${JSON.stringify(lowered)}`);
    for (const t of pool) assert.equal(t.nice, 10, JSON.stringify(lowered));
    for (const t of lowered.filter((x) => x.name !== 'libuv-worker')) assert.equal(t.nice, 0, `${t.name} keeps its priority`);
    const unchanged = niceByThread(starved.pid!);
    assert.ok(unchanged.some((t) => t.name === 'libuv-worker'));
    for (const t of unchanged) assert.equal(t.nice, 0, JSON.stringify(unchanged));
  });
});
