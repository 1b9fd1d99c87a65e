// Access control for the embedded development mongod (`npm start`): on first start a keyfile and
// one password per MongoDB user are generated into <DATA_DIR>/mongo-auth (directory 0700, files
// 0600; printed nowhere). mongod runs with --keyFile, which for a replica set turns access
// control on. The first user (the administrator) is created through the localhost exception (no
// user exists yet and the client is on loopback); the others are created or brought up to date as
// that administrator on every start, so the files are the source of truth.
//
// Users (all authenticate against the `admin` database):
//   creditdesk-admin     root                               the launcher: users, replica set
//   creditdesk-migrator  readWrite + dbAdmin on MONGO_DB    migrations (indexes, collMod), first app admin
//   creditdesk-api       readWrite on MONGO_DB              the API instances
//   creditdesk-worker    readWrite on MONGO_DB              the workers (readWrite includes the
//                                                          `changeStream` and `find` actions the queue's wake-up stream needs)
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MongoClient, MongoServerError } from 'mongodb';
import { PROJECT_ROOT } from './resolve.js';

export const MONGO_ROLES = ['admin', 'migrator', 'api', 'worker'] as const;
export type MongoRole = (typeof MONGO_ROLES)[number];

export interface Credentials {
  user: string;
  password: string;
}

export interface LocalAuth {
  /** The replica set's internal-authentication key (0600). */
  keyFile: string;
  users: Record<MongoRole, Credentials>;
}

/** The database roles each user gets on the application database (the admin gets root). */
export function rolesFor(role: MongoRole, dbName: string): { role: string; db: string }[] {
  switch (role) {
    case 'admin':
      return [{ role: 'root', db: 'admin' }];
    case 'migrator':
      return [
        { role: 'readWrite', db: dbName },
        { role: 'dbAdmin', db: dbName },
      ];
    case 'api':
    case 'worker':
      return [{ role: 'readWrite', db: dbName }];
  }
}

const secret = (bytes: number) => randomBytes(bytes).toString('base64url');

function isCredentials(v: unknown): v is Credentials {
  return (
    typeof v === 'object' && v !== null && 'user' in v && 'password' in v && typeof v.user === 'string' && typeof v.password === 'string'
  );
}

/** The keyfile and the users' credentials in `dir`, generated (0600) on first use. */
export function ensureLocalAuth(dir: string): LocalAuth {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const keyFile = join(dir, 'keyfile');
  // A keyfile holds 6–1024 base64 characters; mongod refuses one that group or others can read.
  if (!existsSync(keyFile)) writeFileSync(keyFile, randomBytes(567).toString('base64'), { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  const usersFile = join(dir, 'users.json');
  if (!existsSync(usersFile)) {
    const users = Object.fromEntries(MONGO_ROLES.map((r) => [r, { user: `creditdesk-${r}`, password: secret(24) }]));
    writeFileSync(usersFile, `${JSON.stringify(users, null, 2)}\n`, { mode: 0o600 });
  }
  chmodSync(usersFile, 0o600);
  return readLocalAuth(dir);
}

/** The keyfile and credentials `ensureLocalAuth` generated in `dir`. */
export function readLocalAuth(dir: string): LocalAuth {
  const keyFile = join(dir, 'keyfile');
  const usersFile = join(dir, 'users.json');
  const parsed: unknown = JSON.parse(readFileSync(usersFile, 'utf8'));
  const entry = (r: MongoRole): Credentials => {
    const c: unknown = typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, r) : undefined;
    if (!isCredentials(c)) throw new Error(`${usersFile} has no valid entry for "${r}": delete the data directory to start afresh`);
    return c;
  };
  return { keyFile, users: { admin: entry('admin'), migrator: entry('migrator'), api: entry('api'), worker: entry('worker') } };
}

/** `npm start`'s local state directory: DATA_DIR, or <project>/.data when it is empty. */
export const localDataDir = (setting: string) => resolve(setting || join(PROJECT_ROOT, '.data'));

/**
 * For CLIs beside `npm start` (create-admin, migrate, seed): the embedded mongod's `uri` with
 * `role`'s credentials when npm start generated users into DATA_DIR, else `uri` unchanged.
 */
export function embeddedUriFor(uri: string, dataDir: string, role: MongoRole): string {
  const dir = join(localDataDir(dataDir), 'mongo-auth');
  return existsSync(join(dir, 'users.json')) ? uriWithCredentials(uri, readLocalAuth(dir).users[role]) : uri;
}

/**
 * `uri` with `creds` (authSource=admin); the credentials are percent-encoded. Done on the string,
 * not with URL: a replica set's seed list (`host1:p1,host2:p2`) is no valid WHATWG URL host.
 */
export function uriWithCredentials(uri: string, creds: Credentials): string {
  const m = /^(mongodb(?:\+srv)?:\/\/)(?:[^@/]*@)?([^/?]*)\/?([^?]*)(?:\?(.*))?$/.exec(uri);
  if (!m) throw new Error('not a mongodb:// connection string');
  const [, scheme, hosts, path, query] = m;
  const params = new URLSearchParams(query ?? '');
  params.set('authSource', 'admin');
  const userinfo = `${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@`;
  return `${scheme}${userinfo}${hosts}/${path}?${params.toString()}`;
}

const isCode = (e: unknown, ...codes: number[]) => e instanceof MongoServerError && codes.includes(Number(e.code));

/**
 * Makes sure every user exists with its password and roles. `direct` is an unauthenticated
 * direct connection on loopback to the primary: while no user exists it may create the first
 * one (the localhost exception), after that it can do nothing. The others are then created or
 * updated as that administrator through `cluster` (default: `direct`).
 */
export async function ensureUsers(
  direct: string,
  users: Record<MongoRole, Credentials>,
  dbName: string,
  cluster: string = direct,
): Promise<void> {
  const plain = new MongoClient(direct, { serverSelectionTimeoutMS: 5000 });
  try {
    const { user, password } = users.admin;
    await plain.db('admin').command({ createUser: user, pwd: password, roles: rolesFor('admin', dbName) });
  } catch (e) {
    // 13 Unauthorized: users exist already (the exception is closed); 51003: the admin exists.
    if (!isCode(e, 13, 51003)) throw e;
  } finally {
    await plain.close();
  }
  const admin = new MongoClient(uriWithCredentials(cluster, users.admin), { serverSelectionTimeoutMS: 10_000 });
  try {
    await admin.connect().catch((e: Error) => {
      throw new Error(`cannot authenticate as ${users.admin.user} (${e.message}): its stored password no longer matches the server's`);
    });
    const db = admin.db('admin');
    for (const r of MONGO_ROLES) {
      const { user, password } = users[r];
      const roles = rolesFor(r, dbName);
      try {
        await db.command({ createUser: user, pwd: password, roles });
      } catch (e) {
        if (!isCode(e, 51003)) throw e; // 51003: exists → bring password and roles up to date
        await db.command({ updateUser: user, pwd: password, roles });
      }
    }
  } finally {
    await admin.close();
  }
}
