import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture } from '../helpers/fixture.js';
import { Client } from '../helpers/http.js';

const f = fixture('health', { api: true });

test('/health answers without the database; /ready checks MongoDB and turns 503 when draining', async () => {
  const cl = new Client(f.url);
  assert.equal((await cl.get('/health')).status, 200);
  const ready = await cl.get('/ready');
  assert.equal(ready.status, 200);
  assert.equal(ready.body.status, 'ready');
  f.api.ctx.lifecycle.draining = true;
  assert.equal((await cl.get('/ready')).status, 503);
  assert.equal((await cl.get('/health')).status, 200);
  f.api.ctx.lifecycle.draining = false;
});

test('request ids: a well-formed X-Request-Id is echoed, a malformed one replaced', async () => {
  const cl = new Client(f.url);
  assert.equal((await cl.req('GET', '/health', undefined, { 'x-request-id': 'abc-123' })).headers.get('x-request-id'), 'abc-123');
  const r = await cl.req('GET', '/api/nope', undefined, { 'x-request-id': 'bad id with spaces' });
  assert.match(r.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
  assert.equal(r.body.requestId, r.headers.get('x-request-id'));
});

test('/metrics exposes request durations by route in Prometheus format', async () => {
  const cl = new Client(f.url);
  await cl.get('/api/applications');
  await cl.get('/api/applications/LOAN-00000000000000000000000000');
  const m = await cl.get<string>('/metrics');
  assert.equal(m.status, 200);
  assert.ok(
    m.body.includes('http_request_duration_seconds_count{method="GET",route="/api/applications",status="401"}'),
    'list route labelled',
  );
  assert.ok(m.body.includes('route="/api/applications/:id"'), 'ids folded into :id');
  assert.ok(m.body.includes('process_cpu_seconds_total'));
});
