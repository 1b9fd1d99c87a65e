// GET /api/admin/vendors and POST /api/admin/vendors/:vendor/breaker: the API shows both vendors'
// shared breakers with their settings; an admin forces one open (audited) and a worker's handle on
// the same breaker (built by the workers' own builder from the workers' settings) is refused a call
// within its cache; forced closed, it may call again. Bad input, an unknown vendor and a reviewer
// are refused, and write nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEnv, workerSchema } from '../../lib/config.js';
import { PAYMENT_VENDOR, paymentVendor } from '../../lib/domain/pipeline/payment-gateway.js';
import { BUREAU_VENDOR } from '../../lib/vendors/bureau-vendor.js';
import { databaseSnapshot } from '../helpers/db.js';
import { workerEnv } from '../helpers/env.js';
import { fixture } from '../helpers/fixture.js';
import { Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('vendors', { api: true });
let admin: Client;
let reviewer: Client;
f.before(async () => {
  admin = await f.client('admin');
  reviewer = await f.client('reviewer');
});

interface VendorBody {
  vendor: string;
  breaker: {
    state: string;
    forced: boolean;
    generation: number;
    openSince: string | null;
    transitions: Array<{ reason: string; by?: string }>;
  };
  limits: { ratePerSecond: number };
}
const vendors = async (): Promise<VendorBody[]> => {
  const r = await admin.get('/api/admin/vendors');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return (r.body as { vendors: VendorBody[] }).vendors;
};
const one = async (name: string) => (await vendors()).find((v) => v.vendor === name);

describe('vendors', () => {
  test('both vendors are listed, closed, with their settings', async () => {
    const list = await vendors();
    assert.deepEqual(list.map((v) => v.vendor).sort(), [BUREAU_VENDOR, PAYMENT_VENDOR].sort());
    for (const v of list) {
      assert.equal(v.breaker.state, 'closed');
      assert.equal(v.breaker.openSince, null);
      assert.equal(v.limits.ratePerSecond, 50);
    }
  });

  test('force open → workers are refused within their cache, audited; force close → they may call again', async () => {
    // A worker's handle on the gateway's breaker: the workers' builder, the workers' settings.
    const worker = paymentVendor(f.t.mongo.db, parseEnv(workerSchema, workerEnv(f.t)), 'test-worker').breaker;
    assert.equal((await worker.permit()).allowed, true);

    const opened = await admin.post(`/api/admin/vendors/${PAYMENT_VENDOR}/breaker`, { state: 'open' });
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
    const o = opened.body as VendorBody;
    assert.equal(o.breaker.state, 'open');
    assert.equal(o.breaker.forced, true);
    assert.equal(o.breaker.transitions.at(-1)?.reason, 'forced_open');
    assert.equal(o.breaker.transitions.at(-1)?.by, admin.email);
    assert.equal((await one(PAYMENT_VENDOR))?.breaker.state, 'open');
    assert.equal((await one(BUREAU_VENDOR))?.breaker.state, 'closed', 'the other vendor is untouched');
    await waitFor('the worker to be refused', async () => (await worker.permit()).allowed === false);

    const audit = await admin.get('/api/admin/audit?entity=vendor');
    const items = (audit.body as { items: Array<{ entityId: string; action: string; actor: { email: string }; details: unknown }> }).items;
    assert.equal(items.length, 1);
    assert.equal(items[0]?.entityId, PAYMENT_VENDOR);
    assert.equal(items[0]?.action, 'vendor.breaker_forced_open');
    assert.equal(items[0]?.actor.email, admin.email);
    assert.deepEqual(items[0]?.details, { from: 'closed', to: 'open', generation: o.breaker.generation, changed: true });

    const closed = await admin.post(`/api/admin/vendors/${PAYMENT_VENDOR}/breaker`, { state: 'closed' });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.equal((closed.body as VendorBody).breaker.state, 'closed');
    assert.equal((await one(PAYMENT_VENDOR))?.breaker.state, 'closed');
    await waitFor('the worker to be allowed again', async () => (await worker.permit()).allowed === true);
    const actions = ((await admin.get('/api/admin/audit?entity=vendor')).body as { items: Array<{ action: string }> }).items;
    assert.deepEqual(
      actions.map((a) => a.action),
      ['vendor.breaker_forced_closed', 'vendor.breaker_forced_open'],
    );
  });

  test('bad input, an unknown vendor, a reviewer: refused, nothing written', async () => {
    await vendors(); // both breaker documents exist before the snapshot
    const path = `/api/admin/vendors/${BUREAU_VENDOR}/breaker`;
    const cases: Array<[string, Client, string, unknown, number]> = [
      ['half_open', admin, path, { state: 'half_open' }, 400],
      ['extra key', admin, path, { state: 'open', force: true }, 400],
      ['no body', admin, path, undefined, 400],
      ['unknown vendor', admin, '/api/admin/vendors/acme-bank/breaker', { state: 'open' }, 404],
      ['bad vendor name', admin, '/api/admin/vendors/$where/breaker', { state: 'open' }, 400],
      ['reviewer', reviewer, path, { state: 'open' }, 403],
    ];
    const before = await databaseSnapshot(f.t.mongo.db);
    for (const [name, who, p, body, status] of cases) {
      const r = await who.post(p, body);
      assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
      assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, name);
    }
    assert.equal((await reviewer.get('/api/admin/vendors')).status, 403);
    assert.equal((await new Client(f.url).get('/api/admin/vendors')).status, 401);
    assert.equal(await databaseSnapshot(f.t.mongo.db), before, 'nothing was written');
  });
});
