// The live ops dashboard in a real browser (Debian's Chromium driven by playwright-core): an admin
// signs in, sees queue figures pushed over SSE, and pauses a queue type with a click.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { eventsCollection, pausedTypes, publish } from '../../lib/queue/index.js';
import { fixture } from '../helpers/fixture.js';
import { Client } from '../helpers/http.js';
import { PASSWORD } from '../helpers/users.js';

const f = fixture('opsdash', { api: true });
let browser: Browser;

f.before(async () => {
  await f.user('admin', 'ops-admin@test.local');
  for (let i = 0; i < 3; i++) await publish(f.t.mongo.db, 'dash.demo', { i });
  const dead = await publish(f.t.mongo.db, 'dash.demo', { i: 99 });
  await eventsCollection(f.t.mongo.db).updateOne({ _id: dead.id }, { $set: { state: 'dead', attempts: 5 } });
  const reviewer = await f.client('reviewer');
  await reviewer.create();
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
  f.after(() => browser.close());
});

test('an admin signs in, sees live queue figures and pauses a type from the dashboard', async () => {
  const page = await browser.newPage();
  await page.goto(`${f.url}/ops/`);
  await page.getByLabel('Email').fill('ops-admin@test.local');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();

  const row = page.locator('#types tbody tr[data-type="dash.demo"]');
  await row.waitFor({ timeout: 15_000 });
  const cells = await row.locator('td').allTextContents();
  assert.equal(cells[1], '3', 'pending');
  assert.equal(cells[4], '1', 'dead');
  assert.equal(await page.locator('#applications .card[data-label="submitted"] b').textContent(), '1');
  assert.equal(await page.locator('#status').textContent(), 'live');
  assert.equal(await page.locator('#login').isVisible(), false, 'the sign-in form is gone once signed in');

  await row.getByRole('button', { name: 'pause' }).click();
  await page.locator('#types tbody tr.paused[data-type="dash.demo"]').waitFor({ timeout: 15_000 });
  assert.deepEqual(await pausedTypes(f.t.mongo.db), ['dash.demo']);

  mkdirSync('results', { recursive: true });
  await page.screenshot({ path: 'results/ops-dashboard.png', fullPage: true });
});

test('the stream refuses non-admins and anonymous callers', async () => {
  const viewer = await f.client('viewer');
  assert.equal((await viewer.get('/api/admin/stream')).status, 403);
  assert.equal((await new Client(f.url).get('/api/admin/stream')).status, 401);
});
