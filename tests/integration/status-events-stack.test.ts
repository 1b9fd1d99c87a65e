// Status streams through real nginx to 3 real API processes and an approval worker process: events
// pass unbuffered, changes made through any instance reach the stream, and when the instance
// serving a stream drains (SIGTERM) the stream ends and the client resumes through nginx on
// another instance with Last-Event-ID, without a gap.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixture } from '../helpers/fixture.js';
import { asPartner, loanRequest, testPartner } from '../helpers/partners.js';
import { openSse, type SseStream } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('sse-stack', { stack: { workerRoles: ['approval'], env: { SSE_HEARTBEAT_MS: '500' } } });

type View = { id: string; status: string; version: number };
const seq = (s: SseStream, id: string) =>
  s
    .json()
    .filter((v: View) => v.id === id)
    .map((v: View) => `${v.status}@${v.version}`);

async function until(s: SseStream, id: string, status: string): Promise<void> {
  await waitFor(
    `${id} to reach ${status} on the stream`,
    () => {
      if (s.ended) throw new Error(`the stream ended: ${JSON.stringify(s.events)}`);
      return seq(s, id).some((x: string) => x.startsWith(`${status}@`)) || null;
    },
    { timeoutMs: 30_000 },
  );
}

test('through nginx: changes from every instance and the worker arrive live; a drained instance’s client resumes elsewhere with no gap', async () => {
  const admin = await f.client('admin');
  const maker = await f.client('reviewer');
  const checker = await f.client('reviewer');
  const p = await testPartner(admin);
  const auth = { authorization: `Bearer ${p.key}` };
  const streams: SseStream[] = [];
  f.after(() => {
    for (const s of streams) s.close();
  });

  const first = await openSse(`${f.url}/api/loan/requests/events`, auth);
  assert.equal(first.status, 200, JSON.stringify(first.res?.body));
  assert.match(first.headers.get('content-type') ?? '', /^text\/event-stream/); // (nginx consumes X-Accel-Buffering)
  const upstream = first.headers.get('x-upstream');
  const s1 = first.stream!;
  streams.push(s1);
  // nginx passes the first bytes through while the stream stays open (nothing buffered)
  await waitFor('the initial watermark through nginx', () => s1.lastEventId !== '' || null);

  const r = await asPartner(f.url, p.key, 'POST', '/api/loan/request', loanRequest({ creditScore: 720 }));
  assert.equal(r.status, 202);
  const id = r.body.id as string;
  await until(s1, id, 'pending_review'); // insert on some instance, decision by the worker process

  // the instance serving the stream drains: the stream ends (it does not hang until the deadline)
  const victim = f.stack.apis.find((a) => upstream === `127.0.0.1:${a.port}`);
  assert.ok(victim, `the stream came from ${upstream}`);
  victim.child.proc.kill('SIGTERM');
  await waitFor('the stream to end', () => s1.ended || null, { timeoutMs: 30_000 });

  // a change while the client is away, through nginx to a live instance
  assert.equal((await maker.put(`/api/applications/${id}`, { version: 2, status: 'under_review' })).status, 200);
  const again = await openSse(`${f.url}/api/loan/requests/events`, { ...auth, 'last-event-id': s1.lastEventId });
  assert.equal(again.status, 200, JSON.stringify(again.res?.body));
  assert.notEqual(again.headers.get('x-upstream'), upstream, 'another instance serves the resumed stream');
  const s2 = again.stream!;
  streams.push(s2);
  await until(s2, id, 'under_review');
  assert.equal((await checker.put(`/api/applications/${id}`, { version: 3, status: 'approved' })).status, 200);
  await until(s2, id, 'approved');
  assert.deepEqual(seq(s1, id), ['scoring@1', 'pending_review@2']);
  assert.deepEqual(seq(s2, id), ['under_review@3', 'approved@4'], 'the missed change, then live: no gap, no duplicate');
});

test('nginx.conf: the status-stream paths have their own unbuffered location with long reads', () => {
  const conf = readFileSync(join(import.meta.dirname, '..', '..', 'nginx.conf'), 'utf8');
  const m = conf.match(/location ~\* (\S*events\S*) \{([^}]*)\}/);
  assert.ok(m, 'a location for the /events paths');
  const re = new RegExp(m[1]!, 'i');
  for (const path of [
    '/api/loan/requests/events',
    '/api/loan/request/LOAN-X/events',
    '/api/applications/LOAN-X/events',
    '/API/loan/requests/events/',
  ])
    assert.ok(re.test(path), path);
  for (const path of ['/api/loan/request/LOAN-X/documents', '/api/admin/stream', '/api/loan/request/LOAN-X'])
    assert.ok(!re.test(path), path);
  assert.match(m[2]!, /proxy_buffering off;/);
  assert.match(m[2]!, /proxy_read_timeout 1h;/);
});
