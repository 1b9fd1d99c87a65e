// Losing the primary of a real 3-member replica set under a steady write load through nginx.
// One throwaway set (tests/helpers/replica-set.ts), two API processes behind nginx, a disbursement
// worker paying through the payment-gateway simulator, started once for the file. Load: lanes that
// create an application (POST), move it to under_review (PUT, optimistic version) and have a second
// admin approve it (PUT), which publishes disbursement.requested in the same transaction; the
// worker pays and writes the ledger. Then:
//   1. replSetStepDown of the primary;
//   2. kill -9 of the (new) primary, which is restarted afterwards and rejoins.
// Each time: every answer is a 2xx or a 503 with Retry-After (retried by the client), every
// acknowledged write is in the database afterwards (and on the restarted member), every approved
// application is disbursed exactly once (one ledger entry, one payment at the gateway), and a
// change stream opened by the queue's wake-up code before the failover still delivers after it.
// The measured windows are printed (SCALING.md "Failover" quotes them); nothing is timed-asserted.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { MongoClient } from 'mongodb';
import { publish } from '../../lib/queue/index.js';
import { startWakeSources } from '../../lib/queue/wakeup.js';
import type { Gateway } from '../helpers/app-processes.js';
import { fixture } from '../helpers/fixture.js';
import type { Client, Res } from '../helpers/http.js';
import type { Proc } from '../helpers/processes.js';
import { testReplicaSet, type ReplicaMember } from '../helpers/replica-set.js';
import { countBy } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

// The set must exist before the fixture makes its database: top-level await, then MONGO_URI.
const rs = await testReplicaSet('failover');
const f = fixture('failover', { stack: { instances: 2 } });
let maker: Client;
let checker: Client;
let gw: Gateway;
let worker: Proc;

f.before(async () => {
  [maker, checker, gw] = await Promise.all([f.client('admin'), f.client('admin'), f.gateway()]);
  // A slow poll (2 s) so that prompt processing after the failover needs the change stream.
  worker = await f.worker('disbursement', { PAYMENT_GATEWAY_URL: gw.url, WORKER_POLL_MS: '2000', WORKER_CONCURRENCY_DISBURSEMENT: '4' });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Call {
  kind: 'create' | 'review' | 'approve';
  start: number;
  end: number;
  status: number;
  retryAfter: string | null;
}

/** What the load saw: every HTTP answer, and the writes the API acknowledged. */
interface LoadLog {
  calls: Call[];
  /** Application id → the version and status of its last acknowledged write. */
  acked: Map<string, { version: number; status: string }>;
  /** A PUT answered 503 and its retry 409: the first attempt had been applied (confirmed by a re-read). */
  ambiguousApplied: number;
  /** Answers that were neither 2xx nor a 503 with Retry-After (must stay empty). */
  unexpected: string[];
}

/**
 * One request, retried (after Retry-After) while it answers 503 during the election; at most 40
 * attempts. A 409 on a retried PUT means the unanswered first attempt was applied: confirmed by
 * reading the application back.
 */
async function call(
  log: LoadLog,
  kind: Call['kind'],
  send: () => Promise<Res>,
  appliedAlready?: () => Promise<boolean>,
): Promise<Res | undefined> {
  let retried = false;
  for (let attempt = 0; attempt < 40; attempt++) {
    const start = Date.now();
    let r: Res;
    try {
      r = await send();
    } catch (e) {
      log.calls.push({ kind, start, end: Date.now(), status: 0, retryAfter: null });
      log.unexpected.push(`${kind}: ${(e as Error).message}`);
      return undefined;
    }
    const retryAfter = r.headers.get('retry-after');
    log.calls.push({ kind, start, end: Date.now(), status: r.status, retryAfter });
    if (r.status >= 200 && r.status < 300) return r;
    if (r.status === 503 && retryAfter) {
      retried = true;
      await sleep(Number(retryAfter) * 1000);
      continue;
    }
    if (r.status === 409 && retried && appliedAlready && (await appliedAlready())) {
      log.ambiguousApplied++;
      return undefined;
    }
    log.unexpected.push(`${kind}: ${r.status} ${JSON.stringify(r.body)}${serverLogOf(r.body?.requestId)}`);
    return undefined;
  }
  log.unexpected.push(`${kind}: still 503 after 40 attempts`);
  return undefined;
}

/** What the API instances logged for a request id (the error behind an unexpected answer), or ''. */
function serverLogOf(requestId: unknown): string {
  if (typeof requestId !== 'string') return '';
  const dir = join(f.stack.runDir, 'logs');
  const lines = readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n'))
    .filter((line) => line.includes(requestId) && line.includes('"err"'));
  return lines.length ? `\n  server log: ${lines.join('\n  ')}` : '';
}

/** The life of one application through the API: create, review, approve (four-eyes: another admin). */
async function oneApplication(log: LoadLog): Promise<void> {
  const created = await call(log, 'create', () => maker.post('/api/applications', { ...sampleBody() }));
  if (!created) return;
  const id: string = created.body.id;
  log.acked.set(id, { version: created.body.version, status: created.body.status });
  const statusIs = (status: string) => async () => (await maker.get(`/api/applications/${id}`)).body?.status === status;
  const reviewed = await call(
    log,
    'review',
    () => maker.put(`/api/applications/${id}`, { version: 1, status: 'under_review' }),
    statusIs('under_review'),
  );
  if (!reviewed) return;
  log.acked.set(id, { version: reviewed.body.version, status: reviewed.body.status });
  const approved = await call(
    log,
    'approve',
    () => checker.put(`/api/applications/${id}`, { version: reviewed.body.version, status: 'approved' }),
    async () => ['approved', 'disbursing', 'disbursed'].includes((await maker.get(`/api/applications/${id}`)).body?.status),
  );
  if (approved) log.acked.set(id, { version: approved.body.version, status: approved.body.status });
}

let serial = 0;
function sampleBody() {
  serial++;
  return {
    applicant: { name: `Failover ${serial}`, email: `failover${serial}@example.com`, phone: '+44 20 7946 0000', age: 36 },
    amount: 10_000 + serial,
    income: 90_000,
    creditScore: 720,
    purpose: 'failover test',
  };
}

/**
 * Lanes of applications, paced, until `stopAfterMs` or `maxApplications`: `failover` runs once
 * the load has been steady for 2 s. Returns the log and when the failover action was taken.
 */
async function underLoad(
  failover: () => Promise<void>,
  o: { lanes: number; stopAfterMs: number; maxApplications: number },
): Promise<{ log: LoadLog; failoverAt: number }> {
  const log: LoadLog = { calls: [], acked: new Map(), ambiguousApplied: 0, unexpected: [] };
  const begin = Date.now();
  let started = 0;
  const lane = async () => {
    while (Date.now() - begin < o.stopAfterMs && started < o.maxApplications) {
      started++;
      await oneApplication(log);
      await sleep(100);
    }
  };
  const lanes = Array.from({ length: o.lanes }, lane);
  await sleep(2000);
  const failoverAt = Date.now();
  await failover();
  await Promise.all(lanes);
  return { log, failoverAt };
}

/** Polls hello on every member from the failover until a new primary is there: the election's length. */
async function electionTime(from: number, old: ReplicaMember): Promise<{ ms: number; primary: ReplicaMember }> {
  const primary = await waitFor(
    'a new primary',
    async () => {
      const p = await rs.primary();
      return p && p.index !== old.index ? p : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  return { ms: Date.now() - from, primary };
}

/** The windows the load saw, relative to the failover. */
function measure(log: LoadLog, failoverAt: number) {
  const failed = log.calls.filter((c) => c.status !== 0 && (c.status < 200 || c.status >= 300));
  const ok = log.calls.filter((c) => c.status >= 200 && c.status < 300);
  const after = ok.filter((c) => c.start >= failoverAt).sort((a, b) => a.end - b.end);
  const okAfterFailure = failed.length ? ok.filter((c) => c.start >= Math.max(...failed.map((x) => x.end))) : after;
  const slowest = ok.reduce((m, c) => Math.max(m, c.end - c.start), 0);
  return {
    requests: log.calls.length,
    statuses: countBy(log.calls.map((c) => c.status)),
    retryable503: failed.filter((c) => c.status === 503).length,
    /** From the failover to the end of the last 503 (0: none). */
    window503Ms: failed.length ? Math.max(...failed.map((c) => c.end)) - failoverAt : 0,
    /** From the failover to the first write started after it that succeeded. */
    firstWriteAfterMs: after[0] ? after[0].end - failoverAt : -1,
    /** From the failover to the first success of a request started after the last 503. */
    recoveredMs: okAfterFailure[0] ? okAfterFailure[0].end - failoverAt : -1,
    slowestOkMs: slowest,
    ambiguousApplied: log.ambiguousApplied,
  };
}

/** Every acknowledged write is there, read with majority read concern through the set's primary. */
async function assertAcknowledgedPresent(log: LoadLog, db = f.t.mongo.db, where = 'the replica set') {
  const ids = [...log.acked.keys()];
  const docs = await db
    .collection<{ _id: string; version: number; status: string }>('applications')
    .find({ _id: { $in: ids } }, { projection: { version: 1, status: 1 } })
    .toArray();
  const byId = new Map(docs.map((d) => [d._id, d]));
  const missing = ids.filter((id) => !byId.has(id));
  assert.deepEqual(missing, [], `acknowledged creates missing on ${where}`);
  const behind = ids.filter((id) => byId.get(id)!.version < log.acked.get(id)!.version);
  assert.deepEqual(behind, [], `acknowledged updates missing on ${where} (version below the acknowledged one)`);
}

/** Every approved application is disbursed exactly once: one ledger entry, one payment at the gateway. */
async function assertDisbursedOnce(log: LoadLog, what: string): Promise<number> {
  const approvedIds = [...log.acked].filter(([, a]) => a.status === 'approved').map(([id]) => id);
  const apps = () => f.t.c.applications.countDocuments({ _id: { $in: approvedIds }, status: 'disbursed' });
  await waitFor(`${what}: every approved application to be disbursed`, async () => (await apps()) === approvedIds.length, {
    timeoutMs: 45_000,
    intervalMs: 250,
    died: f.procs.died,
  });
  const payments = await gw.payments();
  for (const id of approvedIds) {
    assert.equal(await f.t.c.ledger.countDocuments({ applicationId: id }), 1, `${what}: one ledger entry for ${id}`);
    const paid = payments.filter((p) => p.key === `disbursement:${id}`);
    assert.equal(paid.length, 1, `${what}: the gateway paid ${id} once`);
  }
  const dead = await f.t.mongo.db.collection('events').countDocuments({ state: 'dead' });
  assert.equal(dead, 0, `${what}: no dead letters`);
  return approvedIds.length;
}

/** The queue's stall: the largest gap between consecutive ledger entries of this load, and when it ended (after the failover). */
async function queueStall(log: LoadLog, failoverAt: number): Promise<{ largestGapMs: number; resumedAfterMs: number }> {
  const entries = await f.t.c.ledger
    .find({ applicationId: { $in: [...log.acked.keys()] } }, { projection: { createdAt: 1 }, sort: { createdAt: 1 } })
    .toArray();
  let largestGapMs = 0;
  let resumedAfterMs = 0;
  for (let i = 1; i < entries.length; i++) {
    const gap = entries[i]!.createdAt.getTime() - entries[i - 1]!.createdAt.getTime();
    if (gap > largestGapMs) {
      largestGapMs = gap;
      resumedAfterMs = entries[i]!.createdAt.getTime() - failoverAt;
    }
  }
  return { largestGapMs, resumedAfterMs };
}

/**
 * The queue's wake-up sources (lib/queue/wakeup.ts) with a poll too slow to matter: a wake-up
 * after the failover for an event published after it can only come from the change stream.
 */
function wakeProbe() {
  let wakes = 0;
  let streamErrors = 0;
  const sources = startWakeSources({
    db: f.t.mongo.db,
    pollMs: 3_600_000,
    onWake: () => wakes++,
    onError: () => streamErrors++,
  });
  return {
    async assertDelivers(what: string) {
      const before = wakes;
      await publish(f.t.mongo.db, 'failover.probe', { what });
      await waitFor(`${what}: the change stream to deliver an event published after the failover`, () => wakes > before, {
        timeoutMs: 20_000,
      });
      return { streamErrors };
    },
    close: () => sources.close(),
  };
}

describe('failover of a 3-member replica set under load through nginx', () => {
  test('replSetStepDown of the primary: only retryable 503s, every acknowledged write present, queue resumes, paid once', async () => {
    const probe = wakeProbe();
    try {
      await sleep(500); // the probe's stream is open
      const old = await rs.waitForPrimary();
      let election: { ms: number; primary: ReplicaMember } | undefined;
      const { log, failoverAt } = await underLoad(
        async () => {
          const at = Date.now();
          await rs.stepDown(20);
          election = await electionTime(at, old);
        },
        { lanes: 3, stopAfterMs: 14_000, maxApplications: 90 },
      );
      const m = measure(log, failoverAt);
      console.log(
        `[failover] step-down of ${old.host}: new primary ${election?.primary.host} after ${election?.ms} ms; ${JSON.stringify(m)}; ${log.acked.size} applications acknowledged`,
      );
      assert.deepEqual(log.unexpected, [], 'no answer other than 2xx or 503 + Retry-After');
      const stream = await probe.assertDelivers('step-down');
      const disbursed = await assertDisbursedOnce(log, 'step-down');
      console.log(
        `[failover] step-down: ${disbursed} disbursed once each; queue ${JSON.stringify(await queueStall(log, failoverAt))}; wake-up stream errors: ${stream.streamErrors}`,
      );
      await assertAcknowledgedPresent(log);
      assert.ok(log.acked.size > 0, 'the load made applications');
      assert.equal((await fetch(`${f.url}/ready`)).status, 200, 'the API is ready again');
      assert.equal(worker.died(), null, 'the worker survived');
    } finally {
      await probe.close();
    }
  });

  test('kill -9 of the primary: the same, and after it restarts and rejoins no acknowledged write is missing', async () => {
    const probe = wakeProbe();
    try {
      await sleep(500);
      const old = await rs.waitForPrimary();
      let election: { ms: number; primary: ReplicaMember } | undefined;
      const { log, failoverAt } = await underLoad(
        async () => {
          const at = Date.now();
          await old.kill9();
          election = await electionTime(at, old);
        },
        { lanes: 3, stopAfterMs: 20_000, maxApplications: 90 },
      );
      const m = measure(log, failoverAt);
      console.log(
        `[failover] kill -9 of ${old.host}: new primary ${election?.primary.host} after ${election?.ms} ms; ${JSON.stringify(m)}; ${log.acked.size} applications acknowledged`,
      );
      assert.deepEqual(log.unexpected, [], 'no answer other than 2xx or 503 + Retry-After');
      const stream = await probe.assertDelivers('kill -9');
      const disbursed = await assertDisbursedOnce(log, 'kill -9');
      await assertAcknowledgedPresent(log);

      // The old primary comes back on its data: it rolls back what only it had (w:1 writes such as
      // queue claims) and catches up; every acknowledged write must be on it too.
      const restartAt = Date.now();
      await old.start();
      await rs.waitForSecondary(old);
      const rejoinMs = Date.now() - restartAt;
      const direct = new MongoClient(`${old.directUri}&readPreference=secondaryPreferred`, { serverSelectionTimeoutMS: 5000 });
      try {
        const db = direct.db(f.t.dbName);
        await waitFor(
          'the restarted member to have caught up',
          async () =>
            (await db.collection('applications').countDocuments({ _id: { $in: [...log.acked.keys()] as never[] } })) === log.acked.size,
          { timeoutMs: 30_000, intervalMs: 250 },
        );
        await assertAcknowledgedPresent(log, db, `the restarted member ${old.host}`);
      } finally {
        await direct.close();
      }
      const rollbackDir = join(old.dbPath, 'rollback');
      const rolledBack = existsSync(rollbackDir) ? readdirSync(rollbackDir, { recursive: true }).length : 0;
      console.log(
        `[failover] kill -9 of ${old.host}: ${disbursed} disbursed once each; queue ${JSON.stringify(await queueStall(log, failoverAt))}; wake-up stream errors: ${stream.streamErrors}; ` +
          `restarted member rejoined as secondary in ${rejoinMs} ms, rollback files: ${rolledBack}`,
      );
      assert.equal((await fetch(`${f.url}/ready`)).status, 200, 'the API is ready again');
      assert.equal(worker.died(), null, 'the worker survived');
    } finally {
      await probe.close();
    }
  });
});
