// A local N-member replica set: N mongod processes on one machine (loopback, consecutive or given
// ports, one data directory each under `dir`), for `npm start` with MONGO_REPLICAS=3 and for the
// failover tests (tests/helpers/replica-set.ts). On first start the set is initiated with the
// first member preferred (priority 2, the others 1, unless `priorities` says otherwise); every
// start waits until the preferred member is primary and every member is primary or secondary,
// so the set a caller gets can take majority writes and survive the loss of one member.
// With `auth` the members run with --keyFile (access control and internal authentication) and the
// users of scripts/mongod/auth.ts are created or updated, as for the single mongod.
//
// Each member can be stopped, killed (SIGKILL) and started again on its data directory, which
// is how the failover tests take a primary away and bring it back.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { ensureUsers, uriWithCredentials, type LocalAuth } from './auth.js';
import { portInUse, spawnMongod, stopChild, type RunningMongo } from './launch.js';
import { resolveMongod } from './resolve.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ReplicaSetOptions {
  /** Member i keeps its data in <dir>/member-<i>. */
  dir: string;
  ports: number[];
  setName?: string;
  /** Election priorities, one per member (default: 2 for the first, 1 for the others). */
  priorities?: number[];
  cacheSizeGB?: number;
  auth?: { files: LocalAuth; dbName: string };
  log?: (m: string) => void;
  /** How long to wait for the preferred primary and healthy members (default 90 s). */
  timeoutMs?: number;
  /** MongoDB's fault injection (failCommand) on every member: tests only. */
  testCommands?: boolean;
}

export interface ReplicaMember {
  index: number;
  /** host:port as in the replica set configuration. */
  host: string;
  port: number;
  dbPath: string;
  pid(): number | undefined;
  running(): boolean;
  /** Starts the member again on its data directory (after stop() or kill9()). */
  start(): Promise<void>;
  /** SIGTERM: a clean shutdown (a primary steps down first). */
  stop(): Promise<void>;
  /** SIGKILL: no shutdown, no step-down; resolves once the process is gone. */
  kill9(): Promise<void>;
  /** A client connected to this member only (no auth needed for hello). */
  directUri: string;
}

export interface RunningReplicaSet extends RunningMongo {
  setName: string;
  members: ReplicaMember[];
  /** The member hello reports as writable primary (polled on every member), or undefined. */
  primary(): Promise<ReplicaMember | undefined>;
}

/** hello on one member, or undefined when it does not answer within `timeoutMs`. */
export async function helloOf(directUri: string, timeoutMs = 1000): Promise<Record<string, unknown> | undefined> {
  const c = new MongoClient(directUri, { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs });
  try {
    return await c.db('admin').command({ hello: 1 });
  } catch {
    return undefined;
  } finally {
    await c.close().catch(() => {});
  }
}

export async function launchReplicaSet(o: ReplicaSetOptions): Promise<RunningReplicaSet> {
  const log = o.log ?? console.error;
  const setName = o.setName ?? 'rs0';
  const timeoutMs = o.timeoutMs ?? 90_000;
  for (const p of o.ports) {
    if (await portInUse(p))
      throw new Error(
        `port ${p} is already in use: stop what listens there or set MONGO_PORT so that MONGO_PORT…+${o.ports.length - 1} are free`,
      );
  }
  const bin = await resolveMongod(log);
  const children: Array<ChildProcess | undefined> = o.ports.map(() => undefined);
  const members: ReplicaMember[] = o.ports.map((port, index) => {
    const dbPath = join(o.dir, `member-${index}`);
    const m: ReplicaMember = {
      index,
      host: `127.0.0.1:${port}`,
      port,
      dbPath,
      directUri: `mongodb://127.0.0.1:${port}/?directConnection=true`,
      pid: () => children[index]?.pid,
      running: () => {
        const c = children[index];
        return !!c && c.exitCode === null && c.signalCode === null;
      },
      async start() {
        if (m.running()) return;
        const child = spawnMongod({
          bin: bin.path,
          dbPath,
          port,
          replSet: setName,
          cacheSizeGB: o.cacheSizeGB ?? 0.25,
          ...(o.auth ? { keyFile: o.auth.files.keyFile } : {}),
          ...(o.testCommands ? { testCommands: true } : {}),
        });
        children[index] = child;
        const deadline = Date.now() + 60_000;
        while (!(await helloOf(m.directUri))) {
          if (child.exitCode !== null) throw new Error(`${m.host} exited with code ${child.exitCode}; see ${join(dbPath, 'mongod.log')}`);
          if (Date.now() > deadline) throw new Error(`${m.host} did not accept connections in 60 s; see ${join(dbPath, 'mongod.log')}`);
          await sleep(200);
        }
      },
      async stop() {
        const c = children[index];
        if (c) await stopChild(c);
      },
      async kill9() {
        const c = children[index];
        if (!c || !m.running()) return;
        await new Promise<void>((res) => {
          c.once('exit', () => res());
          c.kill('SIGKILL');
        });
      },
    };
    return m;
  });
  const stopAll = () => Promise.all(members.map((m) => m.stop())).then(() => {});
  try {
    await Promise.all(members.map((m) => m.start()));
    log(
      `[mongod] ${bin.source}: replica set ${setName} of ${members.length} on ${members.map((m) => `${m.host} (pid ${m.pid()})`).join(', ')}, data in ${o.dir}${o.auth ? ', access control on' : ''}`,
    );
    await initiate(members, setName, o.priorities ?? members.map((_, i) => (i === 0 ? 2 : 1)));
    await waitUntilHealthy(members, o.priorities ? undefined : members[0], timeoutMs);
    if (o.auth) {
      const first = members[0]!;
      const all = `mongodb://${members.map((m) => m.host).join(',')}/?replicaSet=${setName}`;
      await ensureUsers(first.directUri, o.auth.files.users, o.auth.dbName, all);
    }
  } catch (e) {
    await Promise.all(members.map((m) => m.kill9()));
    throw e;
  }
  const uri = `mongodb://${members.map((m) => m.host).join(',')}/?replicaSet=${setName}`;
  const auth = o.auth?.files;
  let stopping: Promise<void> | undefined;
  return {
    uri,
    uriFor: (role) => (auth ? uriWithCredentials(uri, auth.users[role]) : uri),
    pid: members[0]!.pid(),
    setName,
    members,
    async primary() {
      for (const m of members) if ((await helloOf(m.directUri, 500))?.isWritablePrimary === true) return m;
      return undefined;
    },
    stop() {
      stopping ??= stopAll();
      return stopping;
    },
  };
}

/** replSetInitiate on the first member unless the set is initiated already (hello names it). */
async function initiate(members: ReplicaMember[], setName: string, priorities: number[]): Promise<void> {
  const first = members[0]!;
  if ((await helloOf(first.directUri, 5000))?.setName) return;
  const c = new MongoClient(first.directUri, { serverSelectionTimeoutMS: 5000 });
  try {
    // With --keyFile and no user yet, the localhost exception allows replSetInitiate.
    await c.db('admin').command({
      replSetInitiate: {
        _id: setName,
        members: members.map((m, i) => ({ _id: i, host: m.host, priority: priorities[i] ?? 1 })),
      },
    });
  } catch (e) {
    if (!/already initialized/i.test((e as Error).message)) throw e;
  } finally {
    await c.close();
  }
}

/**
 * Waits until `preferred` (or, without one, any member) is writable primary and every other member
 * reports itself secondary: then a majority write can be acknowledged and one member can be lost.
 */
async function waitUntilHealthy(members: ReplicaMember[], preferred: ReplicaMember | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hellos = await Promise.all(members.map((m) => helloOf(m.directUri, 1000)));
    const primaries = hellos.filter((h) => h?.isWritablePrimary === true).length;
    const secondaries = hellos.filter((h) => h?.secondary === true).length;
    const preferredOk = !preferred || hellos[preferred.index]?.isWritablePrimary === true;
    if (primaries === 1 && secondaries === members.length - 1 && preferredOk) return;
    if (Date.now() > deadline) {
      const states = members.map(
        (m, i) => `${m.host}: ${hellos[i]?.isWritablePrimary ? 'primary' : hellos[i]?.secondary ? 'secondary' : 'not ready'}`,
      );
      throw new Error(`the replica set did not become healthy in ${timeoutMs / 1000} s (${states.join(', ')})`);
    }
    await sleep(250);
  }
}
