// The operations console in a real browser (Debian's Chromium driven by playwright-core) at
// 1280×800: sign in; the charts move while a load runs (read from window.opsCharts, the arrays
// the charts draw, not pixels); pausing intake from the console makes POST /api/loan/request
// answer 503 and the console say so; retrying a dead letter completes it and removes its row;
// search shows an application's timeline; forcing a vendor breaker open and closed shows in
// GET /api/admin/vendors and the audit, and the reconciler's last run is listed; a reviewer gets
// the read-only console. The page must make no request to any other origin than the app's.
// Screenshots of each view go to test-results/console/ (gitignored); their paths are printed.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ObjectId } from 'mongodb';
import { z } from 'zod';
import { recordError } from '../../lib/domain/error-log/record.js';
import { RECONCILER_LOCK } from '../../lib/domain/pipeline/reconcile-lease.js';
import { PAYMENT_VENDOR } from '../../lib/domain/pipeline/payment-gateway.js';
import { acquire } from '../../lib/locks/index.js';
import { eventsCollection, type JobDefinition, publish, startWorker } from '../../lib/queue/index.js';
import { silentLog } from '../helpers/db.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { asPartner, loanRequest, type TestPartner, testPartner } from '../helpers/partners.js';
import { PASSWORD } from '../helpers/users.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('opsconsole', { api: { CONSOLE_SERIES_ENABLED: 'true' } });
const OUT = resolve('test-results', 'console');
const DEMO = 'console.demo';
let browser: Browser;
let admin: Client;
let partner: TestPartner;
/** Requests any console page made to another origin than the app's, and CSP violations (must stay empty). */
const foreign: string[] = [];
const accepted: Array<{ id: string; loanId: string }> = [];

f.before(async () => {
  mkdirSync(OUT, { recursive: true });
  await f.user('admin', 'console-admin@test.local');
  await f.user('reviewer', 'console-reviewer@test.local');
  admin = await f.client('admin');
  partner = await testPartner(admin);
  const demo: JobDefinition<{ i: number }> = { type: DEMO, payload: z.object({ i: z.number() }), async handle() {} };
  const w = startWorker({ db: f.t.mongo.db, jobs: [demo], concurrency: 4, pollMs: 50, log: silentLog });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  f.after(async () => {
    await browser.close();
    await w.stop();
  });
});

async function signedIn(email: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const origin = new URL(f.url).origin;
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.protocol !== 'blob:' && u.origin !== origin) foreign.push(r.url());
  });
  // helmet's CSP (default-src 'self') stops a cross-origin fetch before it is a request, and an
  // inline script or style attribute: Chromium reports each as a console error, counted here too.
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) foreign.push(`CSP: ${m.text()}`);
  });
  await page.goto(`${f.url}/ops/`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await waitFor('the console to go live', async () => (await page.locator('#status').textContent()) === 'live');
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  const path = resolve(OUT, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
}

async function tab(page: Page, name: string): Promise<void> {
  await page.getByRole('tab', { name }).click();
}

/** Confirms the console's confirm dialog. */
async function confirm(page: Page): Promise<void> {
  await page.locator('#confirm[open] #confirm-ok').click();
}

/** What a chart draws now: the newest bucket time and each series' total. */
function chart(page: Page, id: string) {
  return page.evaluate((chartId) => {
    const w = globalThis as unknown as {
      opsCharts: { data(id: string): { x: number[]; keys: string[]; series: Record<string, Array<number | null>> } };
    };
    const d = w.opsCharts.data(chartId);
    const totals = Object.fromEntries(d.keys.map((k) => [k, d.series[k]!.reduce<number>((a, b) => a + (b ?? 0), 0)]));
    return { last: d.x.at(-1) ?? 0, totals };
  }, id);
}

test('an admin signs in and the charts move while a load runs', async () => {
  const page = await signedIn('console-admin@test.local');
  assert.equal(await page.locator('#login').isVisible(), false, 'the sign-in form is gone once signed in');
  const before = await chart(page, 'intake');

  // The load: partner loan requests and demo events (the in-process worker completes them), bounded.
  let running = true;
  const load = (async () => {
    for (let i = 0; running && i < 600; i++) {
      const body = loanRequest();
      const r = await asPartner(f.url, partner.key, 'POST', '/api/loan/request', body);
      if (r.status === 202) accepted.push({ id: r.body.id, loanId: String(body.loanId) });
      await publish(f.t.mongo.db, DEMO, { i });
    }
  })();
  try {
    const moved = await waitFor('the intake and processing charts to move', async () => {
      const [intake, done] = [await chart(page, 'intake'), await chart(page, 'processing')];
      const ok =
        intake.last > before.last && (intake.totals.accepted ?? 0) >= (before.totals.accepted ?? 0) + 10 && (done.totals[DEMO] ?? 0) >= 5;
      return ok ? { intake, done } : null;
    });
    assert.ok(moved.intake.totals.accepted! > 0);
    const latency = await chart(page, 'latency');
    assert.ok((latency.totals.p95 ?? 0) > 0, 'latency percentiles are drawn');
    const depth = await chart(page, 'depth');
    assert.ok(Object.hasOwn(depth.totals, DEMO), 'queue depth per type is drawn');
  } finally {
    running = false;
    await load;
  }
  await shot(page, 'charts');
  await page.close();
});

test('pausing intake from the console: the API answers 503 and the console shows "paused"', async () => {
  const page = await signedIn('console-admin@test.local');
  await tab(page, 'Queues');
  await page.locator('#types tbody tr').first().waitFor();
  await page.getByRole('button', { name: 'Pause intake' }).click();
  await confirm(page);
  await waitFor(
    'intake to answer 503',
    async () => (await asPartner(f.url, partner.key, 'POST', '/api/loan/request', loanRequest())).status === 503,
  );
  await waitFor('the console to show the pause', async () => (await page.locator('#intake-badge').textContent()) === 'intake paused');
  assert.match((await page.locator('#intake-state').textContent()) ?? '', /paused by console-admin@test\.local/);
  await shot(page, 'queues');

  await page.getByRole('button', { name: 'Resume intake' }).click();
  await confirm(page);
  await waitFor(
    'intake to accept again',
    async () => (await asPartner(f.url, partner.key, 'POST', '/api/loan/request', loanRequest())).status === 202,
  );
  await waitFor('the console to show it running', async () => (await page.locator('#intake-badge').textContent()) === 'intake running');
  await page.close();
});

test('retrying a dead letter from the console: it completes and its row disappears', async () => {
  const events = eventsCollection(f.t.mongo.db);
  const dead = await publish(f.t.mongo.db, DEMO, { i: -1 }, { dedupeKey: 'console-dead-1' });
  // dead-lettered before the worker could take it: state dead, with the attempt's error
  await events.updateOne(
    { _id: dead.id },
    {
      $set: {
        state: 'dead',
        attempts: 1,
        deadAt: new Date(),
        deadReason: 'handler_error',
        errors: [{ attempt: 1, at: new Date(), message: 'vendor said no', owner: 'test' }],
      },
    },
  );
  const state = async () => (await events.findOne({ _id: dead.id }))?.state;
  if ((await state()) !== 'dead') return assert.fail('the worker took the event before it was dead-lettered; rerun');
  const page = await signedIn('console-admin@test.local');
  await tab(page, 'Dead letters');
  const row = page.locator(`#dead tbody tr[data-id="${dead.id}"]`);
  await row.waitFor();
  assert.match((await row.textContent()) ?? '', /attempt 1 .*vendor said no/);
  await shot(page, 'dead-letters');
  await row.getByRole('button', { name: `retry dead letter ${dead.id}` }).click();
  await confirm(page);
  await row.waitFor({ state: 'detached' });
  await waitFor('the retried event to complete', async () => (await state()) === 'completed');
  await page.close();
});

test('the error log view: filtered entries and counts by category', async () => {
  await recordError(
    f.t.c,
    { code: 'CONSOLE_TEST', category: 'vendor', message: 'bureau timed out', loanId: 'L-console' },
    { retentionDays: 1 },
  );
  const page = await signedIn('console-admin@test.local');
  await tab(page, 'Error log');
  await page.locator('#error-filters select[name="category"]').selectOption('vendor');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.locator('#errors tbody tr').first().waitFor();
  assert.match((await page.locator('#errors tbody').textContent()) ?? '', /CONSOLE_TEST.*bureau timed out/);
  assert.match((await page.locator('#error-categories tbody').textContent()) ?? '', /vendor/);
  await shot(page, 'error-log');
  await page.close();
});

test('search finds an application by partner loanId and shows its timeline', async () => {
  const app = accepted[0] ?? assert.fail('the load test accepted no application');
  const page = await signedIn('console-admin@test.local');
  await tab(page, 'Search');
  await page.getByLabel('Tracking id or partner loanId').fill(app.loanId);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('#timeline tbody tr').first().waitFor();
  assert.match((await page.locator('#timeline-title').textContent()) ?? '', new RegExp(app.id));
  assert.match((await page.locator('#timeline tbody').textContent()) ?? '', /audit/);
  await shot(page, 'search');
  await page.close();
});

test("forcing a vendor breaker from the console (audited), and the reconciler's stuck applications", async () => {
  // What a reconciler would leave: its lease, held by a worker, and a run that found one stuck application.
  assert.ok(await acquire(f.t.mongo.db, RECONCILER_LOCK, 60_000, { owner: 'worker-7' }));
  const at = new Date();
  await f.t.c.reconciliationRuns.insertOne({
    _id: new ObjectId(),
    startedAt: at,
    finishedAt: at,
    owner: 'worker-7',
    fence: 1,
    thresholds: { disbursing: 900 },
    stuck: { disbursing: 1 },
    counts: { waiting: 0, redriven: 1, finished: 0, escalated: 0, deferred: 0, error: 0 },
    steps: [{ applicationId: 'LOAN-STUCK-1', status: 'disbursing', stuckForS: 1200, action: 'redriven', reason: 'no live event' }],
    interrupted: false,
    expiresAt: new Date(at.getTime() + 86_400_000),
  });
  const breaker = async () =>
    ((await admin.get('/api/admin/vendors')).body as { vendors: Array<{ vendor: string; breaker: { state: string } }> }).vendors.find(
      (v) => v.vendor === PAYMENT_VENDOR,
    )?.breaker.state;

  const page = await signedIn('console-admin@test.local');
  await tab(page, 'Queues');
  const row = page.locator(`#breakers tbody tr[data-vendor="${PAYMENT_VENDOR}"]`);
  await row.waitFor();
  await row.getByRole('button', { name: `force open ${PAYMENT_VENDOR}` }).click();
  await confirm(page);
  await waitFor('the API to show the breaker open', async () => (await breaker()) === 'open');
  await waitFor('the console to show it open', async () => (await row.getAttribute('data-state')) === 'open');
  const audit = await admin.get(`/api/admin/audit?entity=vendor&entityId=${PAYMENT_VENDOR}`);
  assert.deepEqual(
    (audit.body as { items: Array<{ action: string; actor: { email: string } }> }).items.map((a) => [a.action, a.actor.email]),
    [['vendor.breaker_forced_open', 'console-admin@test.local']],
  );
  assert.match((await page.locator('#reconciler-holder').textContent()) ?? '', /held by worker-7/);
  assert.match((await page.locator('#reconciler-run').textContent()) ?? '', /stuck disbursing 1; actions redriven 1/);
  assert.match((await page.locator('#stuck tbody').textContent()) ?? '', /LOAN-STUCK-1.*disbursing.*redriven/);
  await shot(page, 'vendors');

  await row.getByRole('button', { name: `force close ${PAYMENT_VENDOR}` }).click();
  await confirm(page);
  await waitFor('the API to show the breaker closed', async () => (await breaker()) === 'closed');
  await waitFor('the console to show it closed', async () => (await row.getAttribute('data-state')) === 'closed');
  await page.close();
});

test('a reviewer gets the read-only console', async () => {
  const page = await signedIn('console-reviewer@test.local');
  assert.match((await page.locator('#who').textContent()) ?? '', /reviewer \(read-only\)/);
  await waitFor(
    'charts for the reviewer',
    async () => (await page.evaluate(() => (globalThis as unknown as { opsCharts: { points(): number } }).opsCharts.points())) > 0,
  );
  await tab(page, 'Queues');
  await page.locator('#types tbody tr').first().waitFor();
  assert.equal(await page.locator('#intake-toggle').isVisible(), false);
  assert.equal(await page.locator('#types tbody button').count(), 0, 'no pause buttons');
  await page.locator('#breakers tbody tr[data-vendor]').first().waitFor();
  assert.equal(await page.locator('#breakers tbody button').count(), 0, 'no force buttons');
  assert.equal(await page.locator('#stuck').isVisible(), false);
  await shot(page, 'reviewer-queues');
  await tab(page, 'Dead letters');
  assert.equal(await page.locator('#dead-filters').isVisible(), false);
  await shot(page, 'reviewer');
  await page.close();
});

test('no console page made a request to another origin or broke the CSP', () => {
  assert.deepEqual(foreign, []);
});
