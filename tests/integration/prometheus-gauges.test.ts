// The gauges behind the alert rules, read from a registry as a scrape would: the queue gauges
// run ONE queueStats aggregate per cache window however many gauges and scrapes read it, and the
// MongoDB pool gauges follow the driver's CMAP events (checked out, waiting) on a real mongod.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CommandStartedEvent, MongoClient } from 'mongodb';
import { Registry } from 'prom-client';
import { instrumentPool } from '../../lib/metrics/pool.js';
import { publishMany } from '../../lib/queue/index.js';
import { cachedQueueStats, registerQueueGauges } from '../../lib/queue/metrics.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('prometheus-gauges');
let client: MongoClient;
/** Aggregations this file's client sent to the events collection. */
let aggregations = 0;

f.before(async () => {
  client = new MongoClient(f.t.uri, { monitorCommands: true, maxPoolSize: 1 });
  client.on('commandStarted', (e: CommandStartedEvent) => {
    if (e.commandName === 'aggregate' && e.command.aggregate === 'events') aggregations++;
  });
  await client.connect();
  f.after(() => client.close());
  await publishMany(f.t.ctx.db, 'gauge.probe', [{ n: 1 }, { n: 2 }]);
});

/** One scrape of `registry`: the exposition text. */
const scrape = (registry: Registry) => registry.metrics();

test('queue gauges: one cached aggregate serves every gauge and every scrape in the window', async () => {
  const db = client.db(f.t.dbName);
  const registry = new Registry();
  registerQueueGauges(registry, cachedQueueStats(db, 60_000));
  const before = aggregations;
  const texts = await Promise.all([scrape(registry), scrape(registry)]);
  texts.push(await scrape(registry));
  const perQueueStats = 2; // queueStats runs the active-states and the completed-recoveries aggregations
  assert.equal(aggregations - before, perQueueStats, 'three gauges × three scrapes ran one queueStats');
  for (const text of texts) {
    assert.match(text, /queue_pending\{type="gauge\.probe"\} 2/);
    assert.match(text, /queue_dead\{type="gauge\.probe"\} 0/);
    assert.match(text, /queue_oldest_pending_age_seconds\{type="gauge\.probe"\} \d/);
  }

  // Once the window has passed (0 here), the next scrape aggregates again and sees new events.
  const fresh = new Registry();
  registerQueueGauges(fresh, cachedQueueStats(db, 0));
  await publishMany(f.t.ctx.db, 'gauge.probe', [{ n: 3 }]);
  assert.match(await scrape(fresh), /queue_pending\{type="gauge\.probe"\} 3/);
});

test('pool gauges: a held connection is checked out, a second operation waits, both drain to 0', async () => {
  const registry = new Registry();
  instrumentPool(client, registry);
  const db = client.db(f.t.dbName);
  await db.collection<{ _id: number }>('pool_probe').insertOne({ _id: 1 });
  const server = new URL(f.t.uri).host;
  const gauge = (text: string, name: string) => Number(new RegExp(`${name}\\{server="${server}"\\} (\\d+)`).exec(text)?.[1] ?? -1);

  // The pool holds one connection: a slow query takes it, a ping waits for it.
  const slow = db.collection('pool_probe').find({ $where: 'sleep(3000) || true' }).toArray();
  await waitFor('the slow query to check the connection out', async () =>
    gauge(await scrape(registry), 'mongodb_pool_checked_out_connections') === 1 ? true : null,
  );
  const waiting = db.command({ ping: 1 });
  const during = await waitFor('the ping to wait for the connection', async () => {
    const text = await scrape(registry);
    return gauge(text, 'mongodb_pool_wait_queue_size') === 1 ? text : null;
  });
  assert.equal(gauge(during, 'mongodb_pool_checked_out_connections'), 1);
  assert.match(during, /mongodb_pool_max_connections 1/);

  await Promise.all([slow, waiting]);
  const after = await scrape(registry);
  assert.equal(gauge(after, 'mongodb_pool_checked_out_connections'), 0);
  assert.equal(gauge(after, 'mongodb_pool_wait_queue_size'), 0);
});
