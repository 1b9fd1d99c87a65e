// Through real nginx (rendered from the canonical nginx.conf) to three real API processes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startNginx } from '../../scripts/nginx/nginx.js';
import { waitForHttp } from '../../scripts/stack/supervisor.js';
import { renderDocument } from '../fixtures/documents/render.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { sampleApplication } from '../helpers/samples.js';
import { boundedLoad, countBy, freePorts } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('nginx', { stack: {} });
let admin: Client;
/** A second nginx in front of the same instances, rendered exactly as compose runs it: no X-Upstream, nobody exempt from limits. */
let edge: string;
let edgeReviewer: Client;
let edgeLog = '';

f.before(async () => {
  admin = await f.client('admin');
  const [port] = await freePorts(1);
  const child = startNginx(f.procs.supervisor, {
    name: 'nginx-edge',
    upstreams: f.stack.apis.map((a) => `127.0.0.1:${a.port}`),
    listenPort: port!,
    runDir: join(f.procs.dir, 'nginx-edge'),
    debugUpstreamHeader: false,
    exemptLoopbackFromLimits: false,
  });
  edgeLog = child.logFile;
  f.after(() => f.procs.supervisor.stopOne(child));
  edge = `http://127.0.0.1:${port}`;
  await waitForHttp(`${edge}/nginx-health`, 10_000);
  edgeReviewer = await f.client('reviewer', edge);
});

describe('sessions and headers through nginx', () => {
  test('a session made through nginx stays valid on every instance it is balanced to', async () => {
    const upstreams = new Set<string>();
    for (let i = 0; i < 9; i++) {
      const r = await admin.get('/api/auth/me');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      upstreams.add(r.headers.get('x-upstream') ?? '');
    }
    const created = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await admin.post('/api/applications', sampleApplication());
      assert.equal(r.status, 201, JSON.stringify(r.body));
      created.add(r.headers.get('x-upstream') ?? '');
    }
    assert.ok(upstreams.size >= 2, `reads were served by ${[...upstreams]}`);
    assert.ok(created.size >= 2, `CSRF-checked writes were served by ${[...created]}`);
    for (const u of [...upstreams, ...created])
      assert.ok(
        f.stack.apis.some((a) => u === `127.0.0.1:${a.port}`),
        u,
      );
  });

  test('X-Request-Id: the client’s well-formed id is kept, otherwise nginx’s $request_id; it reaches the API and the access log', async () => {
    const given = await fetch(`${f.stack.url}/api/applications`, { headers: { 'x-request-id': 'client-id-123' } });
    assert.equal(given.headers.get('x-request-id'), 'client-id-123');
    const bad = await fetch(`${f.stack.url}/health`, { headers: { 'x-request-id': 'bad id with spaces' } });
    assert.match(bad.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/);
    const none = await fetch(`${f.stack.url}/health`);
    const id = none.headers.get('x-request-id') ?? '';
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(none.headers.getSetCookie().length, 0);
    // The access log is buffered (flush=1s): poll for the line, bounded.
    const line = await waitFor(
      'the access log line for the request id',
      () =>
        readFileSync(f.stack.accessLog, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => l.request_id === id),
      { timeoutMs: 5000, intervalMs: 100 },
    );
    assert.equal(line.status, 200);
    assert.match(String(line.upstream_addr), /^127\.0\.0\.1:\d+$/);
    assert.match(String(line.upstream_response_time), /^\d+\.\d{3}$/);
  });

  test('the API keys login throttling on the address nginx saw (X-Forwarded-For), not on a spoofed header', async () => {
    const r = await fetch(`${f.stack.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' },
      body: JSON.stringify({ email: 'nobody@test.local', password: 'wrong password!' }),
    });
    assert.equal(r.status, 401);
    const keys = (await f.t.c.loginAttempts.find({}, { projection: { _id: 1 } }).toArray()).map((d) => String(d._id));
    assert.ok(keys.includes('ip:127.0.0.1'), JSON.stringify(keys));
    assert.ok(!keys.includes('ip:203.0.113.9'), JSON.stringify(keys));
  });

  test('a body over the upload location’s client_max_body_size is refused by nginx with 413 in the problem+json shape', async () => {
    const big = await fetch(`${f.stack.url}/api/applications/LOAN-00000000000000000000000000/documents`, {
      method: 'POST',
      body: Buffer.alloc(12 * 1024 * 1024, 97),
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
    });
    assert.equal(big.status, 413);
    assert.equal(big.headers.get('content-type'), 'application/problem+json');
    assert.equal(((await big.json()) as { status: number }).status, 413);
  });
});

describe('the edge as compose runs it', () => {
  test('nothing internal is public: /metrics is 404, /health and /ready carry no instance id, no X-Upstream; all of it straight from an instance', async () => {
    for (const url of [edge, f.stack.url]) {
      for (const path of ['/metrics', '/METRICS/']) {
        const m = await fetch(`${url}${path}`);
        assert.equal(m.status, 404, url + path);
        assert.equal(m.headers.get('content-type'), 'application/problem+json', 'refused by nginx');
      }
      assert.deepEqual(await (await fetch(`${url}/health`)).json(), { status: 'ok' }, url);
      assert.deepEqual(await (await fetch(`${url}/ready`)).json(), { status: 'ready' }, url);
    }
    for (const path of ['/health', '/api/auth/me', '/nope'])
      assert.equal((await fetch(`${edge}${path}`)).headers.get('x-upstream'), null, path);
    assert.ok((await fetch(`${f.stack.url}/health`)).headers.get('x-upstream'), 'the local rendering keeps the debug header');
    const api = f.stack.apis[0]!;
    assert.deepEqual(await (await fetch(`${api.url}/health`)).json(), { status: 'ok', instance: api.name });
    const direct = await fetch(`${api.url}/metrics`);
    assert.equal(direct.status, 200);
    assert.match(await direct.text(), /^http_request_duration_seconds_count\{/m);
  });

  test('a burst of logins from one address gets 429 from nginx (problem+json, Retry-After); other routes still answer', async () => {
    const r = await boundedLoad({ count: 40, concurrency: 40, maxMs: 60_000 }, async (i) => {
      const res = await fetch(`${edge}${i % 2 ? '/api/auth/login' : '/api/auth/Login/'}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `burst-${i}@test.local`, password: 'wrong password!' }),
      });
      const body = (await res.json()) as { type: string; detail: string };
      const fromNginx = res.status === 429 && body.type === 'about:blank' && res.headers.get('retry-after') === '1';
      return [fromNginx ? 4290 : res.status, null];
    });
    const counts = countBy(r.statuses);
    assert.ok((counts[4290] ?? 0) >= 20, JSON.stringify(counts)); // burst 10 (+ the 2/s rate) pass, the rest are refused
    assert.equal((counts[4290] ?? 0) + (counts[401] ?? 0), 40, JSON.stringify(counts));
    assert.equal((await fetch(`${edge}/health`)).status, 200);
  });

  test('a 1 MB JSON body to a non-upload route is 413 at nginx; a 3 MB document upload goes through', async () => {
    const big = await fetch(`${edge}/api/applications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: edgeReviewer.cookie, 'x-csrf-token': edgeReviewer.csrf },
      body: JSON.stringify({ purpose: 'x'.repeat(1024 * 1024) }),
    });
    assert.equal(big.status, 413);
    assert.equal(big.headers.get('content-type'), 'application/problem+json');
    assert.match(((await big.json()) as { detail: string }).detail, /exceeds the limit for this route/, 'refused by nginx, not the API');
    const a = await edgeReviewer.create();
    const doc = Buffer.concat([await renderDocument(), Buffer.alloc(3 * 1024 * 1024)]);
    const up = await edgeReviewer.upload(a.id, doc);
    assert.equal(up.status, 201, `${JSON.stringify(up.body)} ${readFileSync(edgeLog, 'utf8').slice(-2000)}`);
    assert.equal(up.body.document.size, doc.length);
  });
});

describe('server-sent events through nginx', () => {
  test('the ops stream is delivered through nginx unbuffered (first event arrives while the stream stays open)', async () => {
    const ac = new AbortController();
    const stop = setTimeout(() => ac.abort(), 15_000); // bound, not a timing assertion
    try {
      const r = await fetch(`${f.stack.url}/api/admin/stream`, { headers: { cookie: admin.cookie }, signal: ac.signal });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.ok(r.headers.get('x-upstream'));
      const reader = r.body!.getReader();
      let text = '';
      while (!/event: snapshot\ndata: /.test(text)) {
        const { value, done } = await reader.read();
        assert.ok(!done, `stream ended early: ${text}`);
        text += new TextDecoder().decode(value);
      }
      assert.match(text, /^retry: \d+/);
    } finally {
      clearTimeout(stop);
      ac.abort();
    }
  });
});

describe('failure of one instance', () => {
  test('kill -9 of one instance under load: every read succeeds (retried elsewhere), every acknowledged write is in MongoDB', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await admin.create({ amount: 1000 + i })).id);
    const victim = f.stack.apis[1]!;
    let killed = false;
    const reads = boundedLoad(
      {
        count: 1500,
        concurrency: 16,
        maxMs: 60_000,
        onProgress: (n) => {
          if (n === 300 && !killed) {
            killed = true;
            victim.child.proc.kill('SIGKILL');
          }
        },
      },
      async (i) => {
        const r = await admin.get(i % 2 ? `/api/applications/${ids[i % ids.length]}` : '/api/applications?limit=5');
        return [r.status, r.headers.get('x-upstream')];
      },
    );
    const writes = boundedLoad({ count: 300, concurrency: 4, maxMs: 60_000 }, async (i) => {
      const r = await admin.post('/api/applications', sampleApplication({ purpose: `kill test ${i}` }));
      return [r.status, r.body?.id as string];
    });
    const [rd, wr] = await Promise.all([reads, writes]);
    assert.ok(killed, 'the instance was killed mid-load');
    assert.equal(victim.child.proc.signalCode, 'SIGKILL');
    assert.deepEqual(
      countBy(rd.statuses),
      { 200: rd.statuses.length },
      `reads: ${JSON.stringify(countBy(rd.statuses))} ${rd.errors.slice(0, 3)}`,
    );
    assert.ok(rd.statuses.length >= 1000, `reads completed: ${rd.statuses.length}`);
    // Writes in flight on the killed instance may fail (nginx never replays a POST); none that
    // was acknowledged may be missing.
    const acked = wr.ok;
    const unexpected = wr.statuses.filter((s) => s !== 201 && s !== 502 && s !== 503);
    assert.deepEqual(unexpected, [], JSON.stringify(countBy(wr.statuses)));
    assert.ok(acked.length >= wr.statuses.length - 8, `acknowledged ${acked.length} of ${wr.statuses.length}`);
    const stored = await f.t.c.applications.countDocuments({ _id: { $in: acked } });
    assert.equal(stored, acked.length, 'every acknowledged write exists');
    // The survivors keep serving; the dead instance is out of rotation.
    const after = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await admin.get('/api/auth/me');
      assert.equal(r.status, 200);
      after.add(r.headers.get('x-upstream') ?? '');
    }
    assert.ok(!after.has(`127.0.0.1:${victim.port}`));
  });
});

describe('no instance available', () => {
  test('nginx answers 502 in the problem+json shape with Retry-After, for reads and writes', async () => {
    const [port, dead] = await freePorts(2);
    const nginx = startNginx(f.procs.supervisor, {
      name: 'nginx-no-upstream',
      upstreams: [`127.0.0.1:${dead}`],
      listenPort: port!,
      runDir: join(f.procs.dir, 'nginx-no-upstream'),
    });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/nginx-health`, 10_000);
      for (const method of ['GET', 'POST']) {
        const r = await fetch(`http://127.0.0.1:${port}/api/applications`, { method });
        assert.equal(r.status, 502, method);
        assert.equal(r.headers.get('content-type'), 'application/problem+json');
        assert.equal(r.headers.get('retry-after'), '1');
        assert.equal(((await r.json()) as { status: number }).status, 502);
      }
    } finally {
      await f.procs.supervisor.stopOne(nginx);
    }
  });
});
