// A role's backlog (the autoscaling signal): due pending + running events of its types, the oldest
// due age, from one covered scan of the `claim` index; the KEDA query (backlogFilter) counts the same set.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { parseAllDocuments } from 'yaml';
import {
  backlogFilter,
  backlogLoad,
  claimOne,
  completeEvent,
  eventsCollection,
  groupBacklog,
  publish,
  publishMany,
  retryEvent,
} from '../../lib/queue/index.js';
import { registerBacklogGauges } from '../../lib/queue/metrics.js';
import { activeStatsPipeline } from '../../lib/queue/stats.js';
import { ROLE_EVENT_TYPES } from '../../workers/role-events.js';
import { fixture } from '../helpers/fixture.js';

const f = fixture('queue_backlog');

test('due pending + running per group; not-due retries, completed events and other types do not count', async () => {
  const db = f.t.mongo.db;
  await publishMany(db, 'a.one', [{}, {}, {}, {}, {}]);
  await publishMany(db, 'a.two', [{}, {}]);
  await publishMany(db, 'other', [{}, {}, {}]);
  await publish(db, 'a.one', {}, { runAt: new Date(Date.now() + 3600_000) }); // scheduled: not due
  const done = (await claimOne(db, ['a.one'], 60_000))!;
  assert.equal(await completeEvent(db, { _id: done._id, owner: done.owner! }, null, 60_000), true);
  const retried = (await claimOne(db, ['a.one'], 60_000))!; // waits out its backoff: not due
  assert.equal(
    await retryEvent(db, { _id: retried._id, owner: retried.owner! }, { attempt: 1, message: 'x', label: 't', retryInMs: 60_000 }),
    true,
  );
  await claimOne(db, ['a.one'], 60_000); // running
  await claimOne(db, ['a.two'], 60_000); // running
  // The oldest due a.one event has waited 90 s.
  const oldest = await eventsCollection(db).findOne(
    { type: 'a.one', state: 'pending', runAt: { $lte: new Date() } },
    { sort: { runAt: 1 } },
  );
  await eventsCollection(db).updateOne({ _id: oldest!._id }, { $set: { runAt: new Date(Date.now() - 90_000) } });

  const groups = { a: ['a.one', 'a.two'], two: ['a.two'], idle: ['nothing'] };
  const b = await groupBacklog(db, groups);
  assert.deepEqual({ due: b.a.due, running: b.a.running }, { due: 3, running: 2 }, '2 due a.one + 1 due a.two; one running each');
  assert.ok(b.a.oldestDueAgeMs >= 90_000 && b.a.oldestDueAgeMs < 120_000, String(b.a.oldestDueAgeMs));
  assert.deepEqual({ due: b.two.due, running: b.two.running }, { due: 1, running: 1 });
  assert.ok(b.two.oldestDueAgeMs < 60_000);
  assert.deepEqual(b.idle, { due: 0, running: 0, oldestDueAgeMs: 0 });

  // The KEDA query counts exactly the load.
  for (const [g, types] of Object.entries(groups))
    assert.equal(await eventsCollection(db).countDocuments(backlogFilter(types)), backlogLoad(b[g as keyof typeof b]), g);

  // The gauges the HPA reads.
  const registry = new Registry();
  registerBacklogGauges(registry, () => groupBacklog(db, groups));
  const text = await registry.metrics();
  assert.match(text, /^queue_role_backlog\{role="a"\} 5$/m);
  assert.match(text, /^queue_role_backlog\{role="idle"\} 0$/m);
  assert.match(text, /^queue_role_oldest_due_age_seconds\{role="a"\} (9\d|1[01]\d)\.?\d*$/m);
});

test('the backlog aggregation is a covered scan of the claim index; the KEDA query is bounded by it', async () => {
  const db = f.t.mongo.db;
  const pipeline = activeStatsPipeline(['pending', 'processing'], ['a.one', 'a.two']);
  const text = JSON.stringify(await eventsCollection(db).aggregate(pipeline, { hint: 'claim' }).explain('queryPlanner'));
  assert.match(text, /"indexName":"claim"/);
  assert.doesNotMatch(text, /COLLSCAN|FETCH/, 'a covered index scan');
  // No hint: the planner picks `claim` for the count KEDA runs (state and type bounds), never a collection scan.
  const count = await db.command({ explain: { count: 'events', query: backlogFilter(['a.one']) }, verbosity: 'queryPlanner' });
  const plan = JSON.stringify(count.queryPlanner.winningPlan);
  assert.match(plan, /"indexName":"claim"/);
  assert.doesNotMatch(plan, /COLLSCAN/);
});

/** The parts of the deploy/k8s manifests this test reads. */
interface Manifest {
  kind: string;
  metadata: { name: string };
  spec: {
    scaleTargetRef?: { name: string };
    triggers?: { type: string; metadata: { collection: string; query: string } }[];
    metrics?: { external: { metric: { name: string; selector: { matchLabels: Record<string, string> } } } }[];
    template?: { spec: { containers: { env: { name: string; value?: string }[] }[] } };
  };
}
const manifests = (file: string): Manifest[] =>
  parseAllDocuments(readFileSync(`deploy/k8s/${file}`, 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], file);
    return d.toJSON() as Manifest;
  });

test('deploy/k8s scales each role on this backlog: KEDA counts backlogFilter, the HPAs read queue_role_backlog{role}', () => {
  const [keda, hpas, deployments] = [manifests('keda.yaml'), manifests('hpa.yaml'), manifests('workers.yaml')];
  for (const [role, types] of Object.entries(ROLE_EVENT_TYPES)) {
    const name = `creditdesk-worker-${role}`;
    const trigger = keda.find((d) => d.kind === 'ScaledObject' && d.spec.scaleTargetRef?.name === name)?.spec.triggers?.[0];
    assert.equal(trigger?.type, 'mongodb', role);
    assert.equal(trigger.metadata.collection, 'events');
    assert.deepEqual(JSON.parse(trigger.metadata.query), backlogFilter(types), `${role}: the KEDA query is the backlog's`);
    const metric = hpas.find((d) => d.spec.scaleTargetRef?.name === name)?.spec.metrics?.[0]?.external.metric;
    assert.deepEqual(metric, { name: 'queue_role_backlog', selector: { matchLabels: { role } } });
    const env = deployments.find((d) => d.metadata.name === name)?.spec.template?.spec.containers[0]?.env;
    assert.equal(env?.find((e) => e.name === 'WORKER_ROLES')?.value, role);
  }
});
