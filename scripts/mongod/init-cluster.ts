// The compose `mongo-init` job: `node dist/scripts/mongod/init-cluster.js --members h1:p,h2:p,h3:p
// --db creditdesk --secrets /run/secrets`. Idempotent, so it runs on every `docker compose up`:
//   1. initiates replica set rs0 with the members (the first gets priority 2) unless it is initiated;
//   2. waits until the first member is primary;
//   3. creates or updates the users of scripts/mongod/auth.ts (admin, migrator, api, worker) with
//      the passwords of the Docker secrets mongo_<role>_password. The first user is created through
//      the localhost exception: the job runs in the first member's network namespace
//      (`network_mode: service:mongo-1`), so 127.0.0.1:27017 is that mongod on loopback.
// The same ensureUsers() runs for the embedded mongod of `npm start` (tests/integration/stack.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { ensureUsers, MONGO_ROLES, type Credentials, type MongoRole } from './auth.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The users with their passwords read from `<dir>/mongo_<role>_password`. */
export function usersFromSecrets(dir: string): Record<MongoRole, Credentials> {
  const read = (r: MongoRole): Credentials => {
    const file = join(dir, `mongo_${r}_password`);
    const password = readFileSync(file, 'utf8').trim();
    if (password.length < 16) throw new Error(`${file}: the password needs at least 16 characters`);
    return { user: `creditdesk-${r}`, password };
  };
  return { admin: read('admin'), migrator: read('migrator'), api: read('api'), worker: read('worker') };
}

/** Initiates rs0 (once) on the member at `direct`, then waits until it is the primary. */
async function initiateAndWait(direct: string, members: string[], timeoutMs: number): Promise<void> {
  const client = new MongoClient(direct, { serverSelectionTimeoutMS: 5000 });
  const deadline = Date.now() + timeoutMs;
  try {
    const admin = client.db('admin');
    if (!(await admin.command({ hello: 1 })).setName) {
      await admin.command({
        replSetInitiate: { _id: 'rs0', members: members.map((host, i) => ({ _id: i, host, priority: i === 0 ? 2 : 1 })) },
      });
      console.log(`replica set rs0 initiated: ${members.join(', ')}`);
    }
    while (!(await admin.command({ hello: 1 })).isWritablePrimary) {
      if (Date.now() > deadline) throw new Error(`${members[0]} did not become primary within ${timeoutMs / 1000} s`);
      await sleep(500);
    }
  } finally {
    await client.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      members: { type: 'string' },
      db: { type: 'string', default: 'creditdesk' },
      secrets: { type: 'string', default: '/run/secrets' },
      port: { type: 'string', default: '27017' },
    },
  });
  const members = (values.members ?? '').split(',').filter(Boolean);
  if (members.length === 0) throw new Error('--members host:port,… is required');
  const users = usersFromSecrets(values.secrets);
  const direct = `mongodb://127.0.0.1:${values.port}/?directConnection=true`;
  await initiateAndWait(direct, members, 120_000);
  await ensureUsers(direct, users, values.db, `mongodb://${members.join(',')}/?replicaSet=rs0`);
  console.log(`users ${MONGO_ROLES.map((r) => users[r].user).join(', ')} are in place (roles on ${values.db})`);
}

// Only when run as the job (tests import usersFromSecrets).
if (process.argv[1] && /init-cluster\.(js|ts)$/.test(process.argv[1])) {
  main().catch((e: Error) => {
    console.error(`mongo-init: ${e.message}`);
    process.exit(1);
  });
}
