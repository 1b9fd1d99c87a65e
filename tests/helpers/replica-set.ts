// A throwaway replica set for one test file (failover tests: three members; `members` for fewer):
// real mongod processes on free loopback ports, data in a temp dir, no access control (like the
// single test mongod); `testCommands` turns on MongoDB's fault injection, the failCommand fail
// point (tests/integration/mongo-errors.test.ts). Started with top-level await BEFORE fixture() and exported as MONGO_URI, so the
// fixture's database, the stack's API processes and the workers all use it:
//
//   const rs = await testReplicaSet('failover');   // sets process.env.MONGO_URI for this file
//   const f = fixture('failover', { stack: { instances: 2 } });
//
// Killed (and the temp dir removed) in an after() hook registered after the fixture's, so it
// runs once the fixture has stopped every process and dropped the database.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { MongoClient } from 'mongodb';
import { helloOf, launchReplicaSet, type ReplicaMember, type RunningReplicaSet } from '../../scripts/mongod/replica-set.js';
import { freePorts } from '../../scripts/stack/ports.js';
import { waitFor } from './wait.js';

export type { ReplicaMember } from '../../scripts/mongod/replica-set.js';

export interface TestReplicaSet extends RunningReplicaSet {
  /** The current primary, waited for (bounded). */
  waitForPrimary(what?: string): Promise<ReplicaMember>;
  /** replSetStepDown on the current primary (it may not be re-elected for `seconds`); returns the member that stepped down. */
  stepDown(seconds?: number): Promise<ReplicaMember>;
  /** Waits until `m` reports itself secondary again (after a restart: it rejoined and caught up). */
  waitForSecondary(m: ReplicaMember): Promise<void>;
}

/**
 * Starts the set now and registers its stop. Equal priorities: after a failover no member takes
 * the primary back (a priority takeover would be a second election in the middle of a test).
 */
export async function testReplicaSet(
  label: string,
  opts: { exportUri?: boolean; members?: number; testCommands?: boolean } = {},
): Promise<TestReplicaSet> {
  const dir = mkdtempSync(join(tmpdir(), `creditdesk-${label}-rs-`));
  const members = opts.members ?? 3;
  let rs: RunningReplicaSet;
  try {
    rs = await launchReplicaSet({
      dir,
      ports: await freePorts(members),
      priorities: Array.from({ length: members }, () => 1),
      cacheSizeGB: 0.25,
      log: () => {},
      testCommands: opts.testCommands === true,
    });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  if (opts.exportUri !== false) process.env.MONGO_URI = rs.uri;
  after(async () => {
    // Throwaway data: SIGKILL is enough and spares the members' shutdown wait for each other.
    await Promise.all(rs.members.map((m) => m.kill9()));
    rmSync(dir, { recursive: true, force: true });
  });
  const waitForPrimary = (what = 'a primary') => waitFor(what, () => rs.primary(), { timeoutMs: 60_000, intervalMs: 100 });
  return Object.assign(rs, {
    waitForPrimary,
    async stepDown(seconds = 60) {
      const p = await waitForPrimary();
      const c = new MongoClient(p.directUri, { serverSelectionTimeoutMS: 5000 });
      try {
        // secondaryCatchUpPeriodSecs: the primary waits for a secondary to catch up before stepping down.
        await c.db('admin').command({ replSetStepDown: seconds, secondaryCatchUpPeriodSecs: 10 });
      } catch (e) {
        // Older servers close the connection as they step down; hello tells whether it did.
        if ((await helloOf(p.directUri))?.isWritablePrimary !== false) throw e;
      } finally {
        await c.close().catch(() => {});
      }
      return p;
    },
    async waitForSecondary(m: ReplicaMember) {
      await waitFor(`${m.host} to rejoin as a secondary`, async () => (await helloOf(m.directUri))?.secondary === true, {
        timeoutMs: 60_000,
        intervalMs: 200,
      });
    },
  });
}
