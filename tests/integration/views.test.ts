// Per-role views: viewers never receive the raw OCR text, ID numbers or payment references, in any
// application response (get, list, create/PUT are reviewer-only, history); reviewers and admins do.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { changeApplication } from '../../lib/domain/applications/commands.js';
import type { ApplicationDoc } from '../../lib/domain/applications/types.js';
import { HIDDEN_FROM_VIEWERS, ocrFor } from '../../lib/domain/applications/view.js';
import { WORKER_ACTORS } from '../../lib/domain/pipeline/events.js';
import { fakeApplication } from '../../scripts/seed.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';

const f = fixture('views', { api: true });
let clients: Record<'viewer' | 'reviewer' | 'admin', Client>;
let app: ApplicationDoc;

const SECRET_TEXT = 'Name: Ada Lovelace\nID number: X1234567\nIncome: 90,000';
const ocr = {
  documentId: '0123456789abcdef01234567',
  fields: { name: 'Ada Lovelace', income: 90_000, idNumber: 'X1234567' },
  mismatches: [],
  text: SECRET_TEXT,
  readAt: new Date(),
};

/** Every dotted path of a JSON value (arrays contribute their items' paths). */
function paths(v: unknown, prefix = ''): Set<string> {
  const out = new Set<string>();
  if (Array.isArray(v)) for (const x of v) for (const p of paths(x, prefix)) out.add(p);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const p = prefix ? `${prefix}.${k}` : k;
      out.add(p);
      for (const q of paths(x, p)) out.add(q);
    }
  }
  return out;
}

f.before(async () => {
  const [viewer, reviewer, admin] = await Promise.all([f.client('viewer'), f.client('reviewer'), f.client('admin')]);
  clients = { viewer, reviewer, admin };
  const d = fakeApplication();
  d.status = 'ocr_pending';
  d.disbursement = { fence: 1, eventId: 'e1', startedAt: new Date(), paymentRef: 'pay_secret_ref' };
  await f.t.c.applications.insertOne(d);
  app = await changeApplication(f.t.ctx, d, { status: 'scoring', ocr }, { actor: WORKER_ACTORS.ocr }, 'system');
  await f.t.c.audit.insertOne({
    entity: 'application',
    entityId: d._id,
    action: 'update',
    actor: WORKER_ACTORS.disbursement,
    at: new Date(),
    fromVersion: app.version,
    toVersion: app.version,
    changes: { disbursement: { from: null, to: { fence: 1, paymentRef: 'pay_secret_ref' } } },
  });
});

describe('per-role views', () => {
  test('GET one, the list and the history: viewers lack exactly the hidden fields; reviewers and admins have them', async () => {
    for (const role of ['viewer', 'reviewer', 'admin'] as const) {
      const c = clients[role];
      const one = (await c.get(`/api/applications/${app._id}`)).body;
      const listed = (await c.get('/api/applications?limit=10')).body.items.find((i: { id: string }) => i.id === app._id);
      const history = (await c.get(`/api/applications/${app._id}/history`)).body.items;
      const historyText = JSON.stringify(history);
      for (const [what, body] of [
        ['get', one],
        ['list', listed],
      ] as const) {
        const have = paths(body);
        for (const hidden of HIDDEN_FROM_VIEWERS) {
          assert.equal(have.has(hidden), role !== 'viewer', `${role} ${what} ${hidden}`);
        }
        // everything else is the same for everyone
        assert.ok(have.has('ocr.fields.name') && have.has('ocr.fields.income') && have.has('disbursement.fence'), `${role} ${what}`);
      }
      for (const secret of ['X1234567', 'pay_secret_ref']) {
        assert.equal(historyText.includes(secret), role !== 'viewer', `${role} history ${secret}`);
      }
      assert.equal(JSON.stringify({ one, listed }).includes('X1234567'), role !== 'viewer', `${role}: no ID number anywhere`);
    }
    assert.deepEqual([...HIDDEN_FROM_VIEWERS], ['ocr.text', 'ocr.fields.idNumber', 'disbursement.paymentRef']);
  });

  test('ocrFor (for the documents list) drops the text and the ID number for viewers only', () => {
    assert.deepEqual([...paths(ocrFor('viewer', ocr))].sort(), [
      'documentId',
      'fields',
      'fields.income',
      'fields.name',
      'mismatches',
      'readAt',
    ]);
    for (const role of ['reviewer', 'admin'] as const) {
      assert.deepEqual(ocrFor(role, ocr), ocr);
    }
  });
});
