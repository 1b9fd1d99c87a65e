// The local topology `npm start` runs, with the credit-bureau simulator in async mode: API
// processes behind real nginx, the approval worker process, and the simulator started by the
// stack (scripts/stack/stack.ts), which signs its callbacks with the secret the API instances
// verify and sends them through nginx. A partner's request is decided by the bureau's callback.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reportFor } from '../../scripts/simulators/credit-bureau-report.js';
import { fixture } from '../helpers/fixture.js';
import { asPartner, loanRequest, testPartner } from '../helpers/partners.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('bureau-stack', { stack: { instances: 2, workerRoles: ['approval'], bureau: { mode: 'async' } } });

test('async bureau on the stack: 202 → bureau_pending → the signed callback through nginx decides', async () => {
  const partner = await testPartner(await f.client('admin'));
  let applicant = { name: 'Ada Lovelace', email: '', phone: '+44 20 7946 0000', age: 36 };
  for (let i = 0; ; i++) {
    applicant = { ...applicant, email: `stack-${i}@example.com` };
    const r = reportFor(applicant);
    if (r.score < 450 && r.defaults === 0 && r.identityMatch) break;
  }
  const r = await asPartner(f.url, partner.key, 'POST', '/api/loan/request', loanRequest({ application: applicant }));
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const d = await waitFor('the callback to decide', async () => {
    const doc = await f.t.c.applications.findOne({ _id: r.body.id });
    return doc?.risk ? doc : undefined;
  });
  assert.equal(d.status, 'rejected');
  assert.ok(d.risk!.reasons.some((x) => x.code === 'BUREAU_SCORE_LOW'));
  assert.equal(d.bureau?.state, 'received');
  assert.equal(d.bureau?.mode, 'async');
  assert.ok(d.bureau?.requestId?.startsWith('req_'));
  const audit = await f.t.c.audit.findOne({ entityId: d._id, 'changes.status.to': 'rejected' });
  assert.equal(audit?.actor.id, 'webhook:credit-bureau', 'the callback, not the worker, decided');
});
