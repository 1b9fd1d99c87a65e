// The error log: every source writes an entry (a refused partner request, a rejection by a real
// approval worker, a dead-lettered OCR event from a real worker), repeated occurrences bump one
// entry, the list is filtered and paged through its indexes (explained), the summary counts, a
// dead-lettered entry is retried through the dead-letter rule to completion by real workers
// (audited; a second retry changes nothing), and bad input is a 400 that writes nothing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type Document, type Filter, ObjectId } from 'mongodb';
import { encodeCursor } from '../../lib/domain/error-log/cursor.js';
import { type ErrorPageQuery, errorFilter, errorPageCursor } from '../../lib/domain/error-log/list.js';
import { recordError } from '../../lib/domain/error-log/record.js';
import type { ErrorLogDoc, Occurrence } from '../../lib/domain/error-log/types.js';
import type { EventDoc } from '../../lib/queue/index.js';
import { renderDocument } from '../fixtures/documents/render.js';
import { databaseSnapshot } from '../helpers/db.js';
import { fixture } from '../helpers/fixture.js';
import { Client, type Res } from '../helpers/http.js';
import { asPartner, loanRequest, type TestPartner, testPartner } from '../helpers/partners.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('errorlog', { api: true });
let admin: Client;
let reviewer: Client;
let viewer: Client;
let a: TestPartner;

f.before(async () => {
  admin = await f.client('admin');
  reviewer = await f.client('reviewer');
  viewer = await f.client('viewer');
  a = await testPartner(admin, 'Broker errors');
});

const submit = (body: unknown, headers: Record<string, string> = {}) => asPartner(f.url, a.key, 'POST', '/api/loan/request', body, headers);
const entry = (filter: Filter<ErrorLogDoc>) => f.t.c.errorLog.findOne(filter);
const events = () => f.t.mongo.db.collection<EventDoc>('events');
const hex = () => randomBytes(12).toString('hex');

describe('sources', () => {
  test('a refused partner request is one INVALID_INPUT entry (field paths, partner, loanId, request id, no body); the same refusal bumps it', async () => {
    const body = loanRequest({ creditScore: 1200, application: { ...(loanRequest().application as object), email: 'x' } });
    const first = await submit(body);
    assert.equal(first.status, 400);
    const at = { code: 'INVALID_INPUT', partnerId: a.id, loanId: body.loanId as string };
    const one = await waitFor('the entry', () => entry(at), { died: f.procs.died });
    assert.equal(one.category, 'validation');
    assert.equal(one.count, 1);
    assert.deepEqual([...(one.fields ?? [])].sort(), ['body.application.email', 'body.creditScore']);
    assert.equal(one.requestId, first.headers.get('x-request-id'));
    assert.equal(one.applicationId, undefined);
    assert.ok(!JSON.stringify(one).includes('Ada Lovelace'), 'the body is never stored');

    const second = await submit(body);
    assert.equal(second.status, 400);
    assert.deepEqual({ ...second.body, requestId: null, instance: null }, { ...first.body, requestId: null, instance: null });
    const two = await waitFor('the count to grow', async () => {
      const e = await entry(at);
      return e && e.count === 2 ? e : null;
    });
    assert.equal(two._id.toHexString(), one._id.toHexString());
    assert.equal(two.firstSeen.getTime(), one.firstSeen.getTime());
    assert.ok(two.lastSeen >= one.lastSeen);
    assert.equal(two.requestId, second.headers.get('x-request-id'));
    assert.equal(await f.t.c.errorLog.countDocuments({ partnerId: a.id, loanId: body.loanId as string }), 1);

    // the list finds it by partner, loanId and code
    const listed = await viewer.get(`/api/loans/errors?partner=${a.id}&loanId=${body.loanId}&code=INVALID_INPUT`);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual(
      listed.body.items.map((i: { id: string; count: number; retryable: boolean }) => [i.id, i.count, i.retryable]),
      [[one._id.toHexString(), 2, false]],
    );
  });

  test('malformed JSON and a reused key are recorded too; a 401 is not', async () => {
    const bad = await submit('{"loanId": ');
    assert.equal(bad.status, 400);
    await waitFor('MALFORMED_JSON', () => entry({ code: 'MALFORMED_JSON', partnerId: a.id }));
    const body = loanRequest();
    assert.equal((await submit(body)).status, 202);
    assert.equal((await submit({ ...body, amount: 1234 })).status, 422);
    const reused = await waitFor('IDEMPOTENCY_KEY_REUSED', () => entry({ code: 'IDEMPOTENCY_KEY_REUSED', loanId: body.loanId as string }));
    assert.equal(reused.category, 'validation');
    const before = await f.t.c.errorLog.countDocuments();
    assert.equal((await asPartner(f.url, `${a.key.slice(0, -1)}x`, 'POST', '/api/loan/request', { bad: true })).status, 401);
    assert.equal((await submit({ ...loanRequest(), amount: 'x' })).status, 400); // a later write proves the 401 wrote nothing
    await waitFor('the later entry', async () => (await f.t.c.errorLog.countDocuments()) === before + 1);
  });

  test('a flood of identical refusals is one entry counting every one of them', async () => {
    const body = loanRequest({ amount: -1 });
    const answers = await Promise.all(Array.from({ length: 40 }, () => submit(body)));
    assert.deepEqual([...new Set(answers.map((r) => r.status))], [400]);
    const e = await waitFor('all 40 counted', async () => {
      const x = await entry({ code: 'INVALID_INPUT', loanId: body.loanId as string });
      return x?.count === 40 ? x : null;
    });
    assert.equal(await f.t.c.errorLog.countDocuments({ loanId: body.loanId as string }), 1);
    assert.deepEqual(e.fields, ['body.amount']);
  });

  test('a failing error-log write never changes the answer', async () => {
    const db = f.t.mongo.db;
    const body = { ...loanRequest(), income: 'lots' };
    const normal = await submit(body);
    await db.command({ collMod: 'error_log', validator: { $expr: false }, validationLevel: 'strict', validationAction: 'error' });
    try {
      const refused = await submit(body);
      assert.equal(refused.status, 400);
      assert.deepEqual({ ...refused.body, requestId: null }, { ...normal.body, requestId: null });
    } finally {
      await db.command({ collMod: 'error_log', validator: {}, validationLevel: 'off' });
    }
  });

  test('an application rejected by a real approval worker records each rejecting reason, in the decision', async () => {
    const low = await submit(loanRequest({ creditScore: 550 }));
    const big = await submit(loanRequest({ amount: 400_000, income: 50_000 }));
    assert.equal(low.status, 202);
    assert.equal(big.status, 202);
    const w = await f.worker('approval');
    for (const r of [low, big]) {
      await waitFor('the rejection', async () => (await f.t.c.applications.findOne({ _id: r.body.id }))?.status === 'rejected', {
        died: f.procs.died,
      });
    }
    await w.stop();
    const lowEntries = await f.t.c.errorLog.find({ applicationId: low.body.id }).toArray();
    assert.deepEqual(
      lowEntries.map((e) => [e.code, e.category, e.partnerId, e.count]),
      [['LOW_CREDIT_SCORE', 'rule', a.id, 1]],
      'only the reasons that reject (no DOCUMENT_UNREADABLE review reason)',
    );
    const app = await f.t.c.applications.findOne({ _id: low.body.id });
    assert.equal(lowEntries[0]!.loanId, app?.intake?.loanId);
    assert.equal(lowEntries[0]!.requestId, low.headers.get('x-request-id'), 'the intake request id, carried through the event');
    const bigEntry = await entry({ applicationId: big.body.id });
    assert.equal(bigEntry?.code, 'LOAN_TOO_LARGE');

    // by tracking id through the API; a rule rejection has nothing to retry
    const listed = await viewer.get(`/api/loans/errors?loanId=${low.body.id}`);
    assert.equal(listed.body.items.length, 1);
    const retry = await admin.post(`/api/loans/errors/${lowEntries[0]!._id.toHexString()}/retry`);
    assert.equal(retry.status, 409);
    assert.equal(retry.body.type, 'https://creditdesk.dev/problems/not_retryable');
    assert.match(retry.body.detail, /resubmits it under a new Idempotency-Key/);
  });
});

describe('a dead-lettered OCR event', () => {
  /** A stand-in for tesseract that answers --version and fails every recognition. */
  function failingEngine(): string {
    const file = join(f.procs.dir, 'failing-tesseract.sh');
    writeFileSync(
      file,
      '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "tesseract 5 (test stand-in)"; exit 0; fi\necho "engine down" >&2\nexit 1\n',
    );
    chmodSync(file, 0o755);
    return file;
  }

  test('becomes an OCR_FAILED entry; an admin retry resumes it to completion through real workers, audited; a second retry changes nothing', async () => {
    const { id } = await reviewer.create();
    assert.equal((await reviewer.upload(id, await renderDocument())).status, 201);
    const ocrEvent = (await events().findOne({ type: 'ocr.requested', 'payload.applicationId': id }))!;
    const failing = await f.worker('ocr', { TESSERACT_BIN: failingEngine() });
    const e = await waitFor('the OCR_FAILED entry', () => entry({ code: 'OCR_FAILED', applicationId: id }), { died: f.procs.died });
    await failing.stop();
    assert.equal((await events().findOne({ _id: ocrEvent._id }))?.state, 'dead', 'written in the dead-letter transaction');
    assert.equal((await f.t.c.applications.findOne({ _id: id }))?.status, 'failed');
    assert.equal(e.category, 'ocr');
    assert.deepEqual(e.retry, { eventId: ocrEvent._id.toHexString(), stage: 'ocr.requested' });
    assert.match(e.message, /^ocr\.requested gave up \(handler_error\) after 3 attempt\(s\): .*engine down/);
    const path = `/api/loans/errors/${e._id.toHexString()}/retry`;

    // only admins retry, with the CSRF token
    assert.equal((await reviewer.post(path)).status, 403);
    assert.equal((await viewer.post(path)).status, 403);
    assert.equal((await admin.req('POST', path, undefined, { 'x-csrf-token': 'wrong' })).status, 403);
    assert.equal((await f.t.c.applications.findOne({ _id: id }))?.status, 'failed');

    const workers = await Promise.all([f.worker('ocr'), f.worker('approval')]);
    const r = await admin.post(path);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, {
      retried: true,
      id: e._id.toHexString(),
      eventId: ocrEvent._id.toHexString(),
      stage: 'ocr.requested',
      resumed: [{ applicationId: id, status: 'ocr_pending' }],
    });
    const done = await waitFor(
      'the resumed application to be decided',
      async () => {
        const d = await f.t.c.applications.findOne({ _id: id });
        const completed = (await events().findOne({ _id: ocrEvent._id }))?.state === 'completed';
        return completed && d && !['failed', 'ocr_pending', 'scoring'].includes(d.status) ? d : null;
      },
      { timeoutMs: 90_000, died: f.procs.died },
    );
    assert.ok(done.ocr?.fields, 'OCR ran');
    await Promise.all(workers.map((w) => w.stop()));

    const audits = () => f.t.c.audit.find({ action: 'error_log.retried', entityId: ocrEvent._id.toHexString() }).toArray();
    const [audit] = await audits();
    assert.equal(audit?.actor.email, admin.email);
    assert.equal(audit?.details?.errorLogId, e._id.toHexString());
    const resumedBy = await f.t.c.audit.findOne({ entityId: id, 'changes.status.from': 'failed', 'changes.status.to': 'ocr_pending' });
    assert.equal(resumedBy?.actor.email, admin.email, 'the resumption is audited as the admin');
    assert.equal((await entry({ _id: e._id }))?.lastRetry?.by.email, admin.email);

    const again = await admin.post(path);
    assert.equal(again.status, 409);
    assert.equal(again.body.type, 'https://creditdesk.dev/problems/not_dead_lettered');
    assert.equal((await audits()).length, 1, 'nothing audited the second time');
    assert.equal((await events().findOne({ _id: ocrEvent._id }))?.state, 'completed');
    assert.equal((await f.t.c.applications.findOne({ _id: id }))?.status, done.status);
  });
});

describe('reading the log', () => {
  const P1 = hex();
  const P2 = hex();
  const tag = randomBytes(3).toString('hex').toUpperCase();
  const X = `SEED_X_${tag}`;
  const Y = `SEED_Y_${tag}`;
  const appId = `LOAN-01J${'0'.repeat(23)}`;

  f.before(async () => {
    const seeds: Array<[Occurrence, number]> = [];
    for (let i = 0; i < 14; i++) {
      seeds.push([
        { code: i % 2 ? X : Y, category: i % 2 ? 'validation' : 'ocr', message: `seed ${i}`, partnerId: i < 10 ? P1 : P2, loanId: `L${i}` },
        (i % 3) + 1,
      ]);
    }
    seeds.push([{ code: X, category: 'validation', message: 'by application', applicationId: appId }, 1]);
    for (const [o, times] of seeds) await recordError(f.t.c, o, { retentionDays: 30, times });
  });

  /** Ids in list order straight from the collection, for `filter`. */
  const expected = async (q: ErrorPageQuery) =>
    (await f.t.c.errorLog.find(errorFilter(q)).sort({ lastSeen: -1, _id: -1 }).toArray()).map((d) => d._id.toHexString());
  /** Every page of GET /api/loans/errors?<query>, following `next`. */
  async function walk(query: string, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let next: string | null = null;
    for (let n = 0; n < 100; n++) {
      const r: Res = await viewer.get(`/api/loans/errors?${query}&limit=${limit}${next ? `&cursor=${next}` : ''}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.items.length <= limit);
      ids.push(...r.body.items.map((i: { id: string }) => i.id));
      next = r.body.next;
      if (!next) return ids;
    }
    throw new Error('too many pages');
  }

  test('filters: code, category, partner, loanId, tracking id, and their combinations', async () => {
    const cases: Array<[string, ErrorPageQuery, number]> = [
      [`partner=${P1}`, { partnerId: P1, limit: 0 }, 10],
      [`partner=${P1}&code=${X}`, { partnerId: P1, code: X, limit: 0 }, 5],
      [`partner=${P1}&category=ocr`, { partnerId: P1, category: 'ocr', limit: 0 }, 5],
      [`code=${X}`, { code: X, limit: 0 }, 8],
      [`code=${Y}&category=ocr`, { code: Y, limit: 0 }, 7],
      [`code=${Y}&category=validation`, { code: Y, category: 'validation', limit: 0 }, 0],
      [`loanId=L3&partner=${P1}`, { loanId: 'L3', partnerId: P1, limit: 0 }, 1],
      [`loanId=${appId}`, { applicationId: appId, limit: 0 }, 1],
    ];
    for (const [query, q, n] of cases) {
      const want = await expected(q);
      assert.equal(want.length, n, query);
      const r = await viewer.get(`/api/loans/errors?${query}`);
      assert.equal(r.status, 200, query);
      assert.deepEqual(
        r.body.items.map((i: { id: string }) => i.id),
        want,
        query,
      );
    }
    const byCategory = await viewer.get('/api/loans/errors?category=ocr&limit=100');
    assert.ok(byCategory.body.items.every((i: { category: string }) => i.category === 'ocr'));
    assert.ok(byCategory.body.items.length >= 7);
  });

  test('cursor paging has no gaps and no duplicates, filtered or not', async () => {
    for (const [query, q] of [
      [`partner=${P1}`, { partnerId: P1, limit: 0 }],
      ['', { limit: 0 }],
      [`code=${X}`, { code: X, limit: 0 }],
    ] as const) {
      const want = await expected(q);
      for (const limit of [1, 3, 4]) {
        const got = await walk(query, limit);
        assert.deepEqual(got, want, `${query} by ${limit}`);
      }
    }
  });

  test('from/to select by last occurrence, [from, to)', async () => {
    const seeded = await f.t.c.errorLog.find({ partnerId: P1 }).sort({ lastSeen: 1, _id: 1 }).toArray();
    const from = seeded[2]!.lastSeen;
    const to = seeded[7]!.lastSeen;
    const q = { partnerId: P1, from, to, limit: 0 };
    const want = await expected(q);
    assert.ok(want.length > 0);
    assert.ok(
      want.every((id) => {
        const d = seeded.find((s) => s._id.toHexString() === id)!;
        return d.lastSeen >= from && d.lastSeen < to;
      }),
    );
    const got = await walk(`partner=${P1}&from=${from.toISOString()}&to=${to.toISOString()}`, 2);
    assert.deepEqual(got, want);
  });

  test('the summary counts entries and occurrences by code and by category', async () => {
    const all = await f.t.c.errorLog.find({ code: { $in: [X, Y] } }).toArray();
    const from = new Date(Math.min(...all.map((d) => d.lastSeen.getTime())));
    const to = new Date(Math.max(...all.map((d) => d.lastSeen.getTime())) + 1);
    const r = await viewer.get(`/api/loans/errors/summary?from=${from.toISOString()}&to=${to.toISOString()}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const row = (code: string) => r.body.byCode.find((x: { code: string }) => x.code === code);
    const sum = (code: string) => all.filter((d) => d.code === code).reduce((n, d) => n + d.count, 0);
    assert.deepEqual(row(X), { code: X, category: 'validation', entries: 8, occurrences: sum(X) });
    assert.deepEqual(row(Y), { code: Y, category: 'ocr', entries: 7, occurrences: sum(Y) });
    const cats = new Map(r.body.byCategory.map((c: { category: string; occurrences: number }) => [c.category, c.occurrences]));
    const inWindow = await f.t.c.errorLog.find({ lastSeen: { $gte: from, $lt: to } }).toArray();
    for (const c of ['validation', 'ocr'])
      assert.equal(
        cats.get(c),
        inWindow.filter((d) => d.category === c).reduce((n, d) => n + d.count, 0),
        c,
      );
  });

  test('every filter shape is an index scan in sort order (no in-memory SORT)', async () => {
    const some = (await f.t.c.errorLog.findOne({ partnerId: P1 }))!;
    const after = { lastSeen: some.lastSeen, id: some._id };
    const t = new Date();
    const shapes: ErrorPageQuery[] = [
      { limit: 50 },
      { code: X, limit: 50 },
      { category: 'ocr', limit: 50 },
      { code: X, category: 'validation', limit: 50 },
      { partnerId: P1, limit: 50 },
      { partnerId: P1, code: X, limit: 50 },
      { partnerId: P1, category: 'ocr', limit: 50 },
      { partnerId: P1, code: X, category: 'validation', limit: 50 },
      { loanId: 'L3', limit: 50 },
      { loanId: 'L3', partnerId: P1, code: X, limit: 50 },
      { applicationId: appId, limit: 50 },
      { from: new Date(t.getTime() - 3_600_000), to: t, limit: 50 },
      { code: X, from: new Date(t.getTime() - 3_600_000), limit: 50 },
      { partnerId: P1, after, limit: 50 },
      { category: 'ocr', to: t, after, limit: 50 },
    ];
    /** Every stage of the plan, with the index key pattern of each IXSCAN. */
    const stages = (plan: Document, out: Document[] = []): Document[] => {
      if (!plan || typeof plan !== 'object') return out;
      if (typeof plan.stage === 'string') out.push(plan);
      for (const k of ['inputStage', 'queryPlan']) if (plan[k]) stages(plan[k], out);
      for (const s of plan.inputStages ?? []) stages(s, out);
      return out;
    };
    for (const q of shapes) {
      const ex = await errorPageCursor(f.t.c, q).explain('executionStats');
      const s = stages(ex.queryPlanner.winningPlan);
      const names = s.map((x) => x.stage as string);
      const label = `${JSON.stringify(q)}: ${names.join(' < ')}`;
      assert.ok(!names.includes('SORT') && !names.includes('COLLSCAN'), label);
      const scan = s.find((x) => x.stage === 'IXSCAN');
      assert.ok(scan, label);
      // The index begins with a filtered field (it narrows the scan), then lastSeen, _id (the sort).
      const keys = Object.keys(scan.keyPattern as object);
      const equality = (['applicationId', 'loanId', 'partnerId', 'code', 'category'] as const).filter((k) => q[k] !== undefined);
      if (equality.length) assert.ok(equality.includes(keys[0] as (typeof equality)[number]), `${label} uses ${keys.join(',')}`);
      assert.deepEqual(keys.slice(-2), ['lastSeen', '_id'], label);
    }
  });
});

describe('bad input', () => {
  test('bad queries, ids and bodies are 4xx problems and write nothing', async () => {
    const cursorOf = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const valid = encodeCursor({ lastSeen: new Date(), _id: new ObjectId() });
    const cases: Array<[string, Client, string, string, unknown, number]> = [
      ['operator in code', viewer, 'GET', '/api/loans/errors?code[$ne]=x', undefined, 400],
      ['operator in loanId', viewer, 'GET', '/api/loans/errors?loanId[$gt]=', undefined, 400],
      ['lower-case code', viewer, 'GET', '/api/loans/errors?code=invalid_input', undefined, 400],
      ['code with $', viewer, 'GET', '/api/loans/errors?code=%24ne', undefined, 400],
      ['unknown category', viewer, 'GET', '/api/loans/errors?category=bogus', undefined, 400],
      ['loanId with spaces', viewer, 'GET', '/api/loans/errors?loanId=a%20b', undefined, 400],
      ['bad partner id', viewer, 'GET', '/api/loans/errors?partner=xyz', undefined, 400],
      ['repeated param', viewer, 'GET', '/api/loans/errors?code=A&code=B', undefined, 400],
      ['bad from', viewer, 'GET', '/api/loans/errors?from=yesterday', undefined, 400],
      ['bad to', viewer, 'GET', '/api/loans/errors?to=2026-13-45T00:00:00Z', undefined, 400],
      ['from after to', viewer, 'GET', '/api/loans/errors?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', undefined, 400],
      ['garbage cursor', viewer, 'GET', '/api/loans/errors?cursor=not-a-cursor', undefined, 400],
      ['cursor of another shape', viewer, 'GET', `/api/loans/errors?cursor=${cursorOf({ s: 'createdAt', v: 1, id: 'x' })}`, undefined, 400],
      ['cursor with an operator', viewer, 'GET', `/api/loans/errors?cursor=${cursorOf({ t: { $gt: '' }, id: hex() })}`, undefined, 400],
      [
        'cursor with extra keys',
        viewer,
        'GET',
        `/api/loans/errors?cursor=${cursorOf({ t: new Date().toISOString(), id: hex(), x: 1 })}`,
        undefined,
        400,
      ],
      ['limit 0', viewer, 'GET', '/api/loans/errors?limit=0', undefined, 400],
      ['limit too large', viewer, 'GET', '/api/loans/errors?limit=1000', undefined, 400],
      ['unknown param', viewer, 'GET', `/api/loans/errors?cursor=${valid}&sort=code`, undefined, 400],
      ['summary: bad from', viewer, 'GET', '/api/loans/errors/summary?from=1', undefined, 400],
      ['summary: unknown param', viewer, 'GET', '/api/loans/errors/summary?code=X', undefined, 400],
      ['retry: bad id', admin, 'POST', '/api/loans/errors/nope/retry', undefined, 400],
      ['retry: operator id', admin, 'POST', '/api/loans/errors/%7B%22%24gt%22%3A%22%22%7D/retry', undefined, 400],
      ['retry: unknown id', admin, 'POST', `/api/loans/errors/${hex()}/retry`, undefined, 404],
      ['retry: body fields', admin, 'POST', `/api/loans/errors/${hex()}/retry`, { all: true }, 400],
      ['retry: reviewer', reviewer, 'POST', `/api/loans/errors/${hex()}/retry`, undefined, 403],
    ];
    const before = await databaseSnapshot(f.t.mongo.db);
    for (const [name, who, method, path, body, status] of cases) {
      const r = await who.req(method, path, body);
      assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
      assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, name);
    }
    assert.equal(await databaseSnapshot(f.t.mongo.db), before, 'nothing was written');
    // not signed in
    assert.equal((await new Client(f.url).get('/api/loans/errors')).status, 401);
  });
});
