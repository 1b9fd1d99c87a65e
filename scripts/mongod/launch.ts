// Starts a real mongod as a single-node replica set, waits until it is primary, stops it cleanly.
// spawnMongod/stopChild are shared with the N-member set of replica-set.ts (MONGO_REPLICAS=3).
// With `auth` (npm start) it runs with --keyFile, so access control is on, and makes sure the
// users of scripts/mongod/auth.ts exist; without it (tests, benchmarks) it runs without access control.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { MongoClient } from 'mongodb';
import { dieWithParent } from '../stack/parent-death.js';
import { ensureUsers, uriWithCredentials, type LocalAuth, type MongoRole } from './auth.js';
import { resolveMongod } from './resolve.js';

export interface RunningMongo {
  /** Without credentials: with access control on, only good for `hello` and `ping`. */
  uri: string;
  /** The URI with a user's credentials (`uri` itself when access control is off). */
  uriFor(role: MongoRole): string;
  stop(): Promise<void>;
  pid: number | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((res) => {
    const s = createConnection({ port, host });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

async function waitForPrimary(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let client: MongoClient | undefined;
  try {
    while (!client) {
      if (child.exitCode !== null) throw new Error(`mongod exited with code ${child.exitCode} during start-up`);
      if (Date.now() > deadline) throw new Error('mongod did not accept connections in time');
      try {
        const c = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`, { serverSelectionTimeoutMS: 1000 });
        await c.connect();
        client = c;
      } catch {
        await sleep(200);
      }
    }
    const admin = client.db('admin');
    // hello needs no authentication; an initiated set names itself (then, with access control
    // on and users created, replSetInitiate would be refused as unauthorized).
    if (!(await admin.command({ hello: 1 })).setName) {
      try {
        await admin.command({ replSetInitiate: { _id: 'rs0', members: [{ _id: 0, host: `127.0.0.1:${port}` }] } });
      } catch (e) {
        if (!/already initialized/i.test((e as Error).message)) throw e;
      }
    }
    while (!(await admin.command({ hello: 1 })).isWritablePrimary) {
      if (Date.now() > deadline) throw new Error('mongod did not become primary in time');
      await sleep(100);
    }
  } finally {
    await client?.close();
  }
}

export interface LaunchOptions {
  dbPath: string;
  port: number;
  log?: (m: string) => void;
  cacheSizeGB?: number;
  /** Access control: the keyfile and users (scripts/mongod/auth.ts) and the application database they get roles on. */
  auth?: { files: LocalAuth; dbName: string };
}

export interface SpawnOptions {
  bin: string;
  dbPath: string;
  port: number;
  cacheSizeGB?: number;
  /** --keyFile (access control; also the members' internal authentication). */
  keyFile?: string;
  /** The replica set's name (default rs0). */
  replSet?: string;
  /** enableTestCommands: MongoDB's fault injection (the failCommand fail point). Tests only. */
  testCommands?: boolean;
}

/**
 * One mongod child, logging to <dbPath>/mongod.log. Its own process group (a terminal's Ctrl-C
 * does not reach it: its owner stops it, last), and SIGTERM from the kernel if its owner dies
 * without stopping it.
 */
export function spawnMongod(o: SpawnOptions): ChildProcess {
  mkdirSync(o.dbPath, { recursive: true });
  const logFd = openSync(join(o.dbPath, 'mongod.log'), 'a');
  const child = spawn(
    ...dieWithParent(o.bin, [
      '--replSet',
      o.replSet ?? 'rs0',
      '--bind_ip',
      '127.0.0.1',
      '--port',
      String(o.port),
      '--dbpath',
      o.dbPath,
      '--wiredTigerCacheSizeGB',
      String(o.cacheSizeGB ?? 1),
      '--setParameter',
      'ttlMonitorSleepSecs=5',
      ...(o.keyFile ? ['--keyFile', o.keyFile] : []),
      ...(o.testCommands ? ['--setParameter', 'enableTestCommands=1'] : []),
    ]),
    { stdio: ['ignore', logFd, logFd], detached: true },
  );
  closeSync(logFd); // the child has its own copy
  return child;
}

/** SIGTERM (a clean shutdown), SIGKILL after `forceAfterMs`; resolves once the child exited. */
export function stopChild(child: ChildProcess, forceAfterMs = 30_000): Promise<void> {
  return new Promise<void>((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    const force = setTimeout(() => child.kill('SIGKILL'), forceAfterMs);
    child.once('exit', () => {
      clearTimeout(force);
      res();
    });
    child.kill('SIGTERM');
  });
}

export async function launchMongod(opts: LaunchOptions): Promise<RunningMongo> {
  const log = opts.log ?? console.error;
  if (await portInUse(opts.port)) {
    throw new Error(
      `port ${opts.port} is already in use: stop what listens there or set MONGO_PORT to a free port (or MONGO_URI to use that server)`,
    );
  }
  const bin = await resolveMongod(log);
  const child = spawnMongod({
    bin: bin.path,
    dbPath: opts.dbPath,
    port: opts.port,
    cacheSizeGB: opts.cacheSizeGB,
    ...(opts.auth ? { keyFile: opts.auth.files.keyFile } : {}),
  });
  log(
    `[mongod] ${bin.source} pid ${child.pid} on 127.0.0.1:${opts.port}, data in ${opts.dbPath}${opts.auth ? `, access control on (keyfile and users in ${dirname(opts.auth.files.keyFile)})` : ''}`,
  );
  try {
    await waitForPrimary(opts.port, child, 60_000);
    if (opts.auth) await ensureUsers(`mongodb://127.0.0.1:${opts.port}/?directConnection=true`, opts.auth.files.users, opts.auth.dbName);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}; see ${join(opts.dbPath, 'mongod.log')}`);
  }
  let stopping: Promise<void> | undefined;
  const uri = `mongodb://127.0.0.1:${opts.port}/?replicaSet=rs0`;
  const auth = opts.auth?.files;
  return {
    uri,
    uriFor: (role) => (auth ? uriWithCredentials(uri, auth.users[role]) : uri),
    pid: child.pid,
    stop() {
      stopping ??= stopChild(child);
      return stopping;
    },
  };
}

/**
 * For tests, benchmarks and throwaway stacks: the server named by MONGO_URI if set (nothing is
 * started), else a fresh mongod in a temporary folder on a free port, removed again by stop().
 */
export async function mongoForRun(
  label: string,
  log: (m: string) => void = console.error,
): Promise<{ uri: string; started: boolean; stop(): Promise<void> }> {
  if (process.env.MONGO_URI) return { uri: process.env.MONGO_URI, started: false, stop: async () => {} };
  const { freePort } = await import('../stack/ports.js');
  const dbPath = mkdtempSync(join(tmpdir(), `creditdesk-${label}-mongod-`));
  const m = await launchMongod({ dbPath, port: await freePort(), cacheSizeGB: 1, log });
  return {
    uri: m.uri,
    started: true,
    stop: async () => {
      await m.stop();
      rmSync(dbPath, { recursive: true, force: true });
    },
  };
}
