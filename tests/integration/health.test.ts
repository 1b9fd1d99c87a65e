import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseEnv, serverSchema } from '../../lib/config.js';
import { fixture } from '../helpers/fixture.js';
import { Client } from '../helpers/http.js';
import { boundedLoad, countBy } from '../helpers/stack.js';

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

test('the instance id and /metrics only straight from an internal network: a forwarded request sees neither', async () => {
  const cl = new Client(f.url);
  const direct = await cl.get('/health');
  assert.equal(direct.body.instance, f.api.ctx.cfg.INSTANCE_ID);
  const proxied = await cl.req('GET', '/health', undefined, { 'x-forwarded-for': '198.51.100.7' });
  assert.deepEqual(proxied.body, { status: 'ok' });
  const ready = await cl.req('GET', '/ready', undefined, { 'x-forwarded-for': '198.51.100.7' });
  assert.deepEqual(ready.body, { status: 'ready' });
  const m = await cl.req('GET', '/metrics', undefined, { 'x-forwarded-for': '198.51.100.7' });
  assert.equal(m.status, 404);
  assert.equal(m.headers.get('content-type'), 'application/problem+json; charset=utf-8');
});

test('an instance whose INTERNAL_NETWORKS leave out loopback shows no details and no /metrics even directly', async () => {
  const api = await f.startApi({ INTERNAL_NETWORKS: '10.0.0.0/8' });
  const cl = new Client(api.url);
  assert.deepEqual((await cl.get('/health')).body, { status: 'ok' });
  assert.equal((await cl.get('/metrics')).status, 404);
});

test('INTERNAL_NETWORKS takes addresses and CIDR blocks and refuses anything else, naming the variable', () => {
  const env = { MONGO_URI: 'mongodb://x', SESSION_SECRETS: 'x'.repeat(32) };
  assert.deepEqual(parseEnv(serverSchema, { ...env, INTERNAL_NETWORKS: '10.0.0.0/8, ::1, 192.168.1.7' }).INTERNAL_NETWORKS, [
    '10.0.0.0/8',
    '::1',
    '192.168.1.7',
  ]);
  for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/8/1'])
    assert.throws(
      () => parseEnv(serverSchema, { ...env, INTERNAL_NETWORKS: bad }),
      (e: Error) => e instanceof ConfigError && /INTERNAL_NETWORKS/.test(e.message),
    );
});

test('/metrics labels requests by route template and status class', async () => {
  const reviewer = await f.client('reviewer');
  const a = await reviewer.create();
  assert.equal((await reviewer.get('/api/applications')).status, 200);
  assert.equal((await reviewer.get(`/api/applications/${a.id}`)).status, 200);
  const m = await reviewer.get<string>('/metrics');
  assert.equal(m.status, 200);
  assert.ok(m.body.includes('http_request_duration_seconds_count{method="GET",route="/api/applications",status="2xx"}'), m.body);
  assert.ok(m.body.includes('http_request_duration_seconds_count{method="GET",route="/api/applications/:id",status="2xx"}'));
  assert.ok(!m.body.includes(a.id), 'no id in a label');
  assert.ok(m.body.includes('process_cpu_seconds_total'));
});

/** The number of http_request_duration_seconds series lines in a scrape. */
async function seriesLines(): Promise<number> {
  const text = await (await fetch(`${f.url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('http_request_duration_seconds')).length;
}

test('5,000 distinct unauthenticated URLs leave the number of series unchanged (label set bounded by the route table)', async () => {
  // Every fixed label these requests can produce exists before counting: 401 and 404 are `unmatched`.
  const paths = (i: number) => [`/api/applications/x${i}`, `/api/applications/x${i}/documents`, `/nothing-here-${i}`, `/api/nope/${i}`];
  for (const p of paths(0)) await fetch(`${f.url}${p}`);
  const before = await seriesLines();
  const r = await boundedLoad({ count: 5000, concurrency: 16, maxMs: 120_000 }, async (i) => {
    const res = await fetch(`${f.url}${paths(i)[i % 4]}?q=${i}`);
    await res.arrayBuffer();
    return [res.status, null];
  });
  assert.equal(r.statuses.length, 5000, 'all requests were made');
  assert.deepEqual(countBy(r.statuses), { 401: 2500, 404: 2500 });
  assert.equal(await seriesLines(), before);
});
