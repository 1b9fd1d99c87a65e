// Runs the real Express app in-process on an ephemeral port against a test database, and spawns
// real server processes (server/main.ts) for cross-instance and shutdown tests.
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serverSchema, parseEnv } from '../../lib/config.js';
import { pipelineHooks } from '../../lib/domain/pipeline/hooks.js';
import { createUser } from '../../lib/domain/users/users.js';
import type { Role } from '../../lib/db/collections.js';
import { createApp } from '../../server/app.js';
import type { AppDeps } from '../../server/deps.js';
import { waitForHttp } from '../../scripts/stack/supervisor.js';
import { Client } from './http.js';
import { silentLog, type TestDb } from './db.js';

export const TEST_SECRET = 'test-session-secret-0123456789abcdef0123456789';
export const PASSWORD = 'correct horse battery staple';

export function testEnv(t: TestDb, extra: Record<string, string> = {}): Record<string, string> {
  return { MONGO_URI: t.uri, MONGO_DB: t.dbName, SESSION_SECRETS: TEST_SECRET, LOG_LEVEL: 'silent', NODE_ENV: 'test', ...extra };
}

export async function startInProcess(t: TestDb, env: Record<string, string> = {}): Promise<{ url: string; deps: AppDeps; close(): Promise<void> }> {
  const cfg = parseEnv(serverSchema, testEnv(t, { PORT: '1', ...env }));
  const deps: AppDeps = { cfg, mongo: t.mongo, c: t.c, domain: { client: t.mongo.client, c: t.c, hooks: pipelineHooks(t.mongo.db) }, logger: silentLog, lifecycle: { draining: false } };
  const server: Server = await new Promise((res) => { const s = createApp(deps).listen(0, '127.0.0.1', () => res(s)); });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, deps,
    close: () => new Promise((res) => { server.closeAllConnections(); server.close(() => res()); }),
  };
}

export interface ServerProcess { url: string; proc: ChildProcess; output: () => string; stop(signal?: NodeJS.Signals): Promise<number | null> }

export async function spawnServer(t: TestDb, port: number, extra: Record<string, string> = {}): Promise<ServerProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, ...testEnv(t, { PORT: String(port), INSTANCE_ID: `api-${port}`, LOG_LEVEL: 'info', ...extra }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/ready`, 30_000, () => proc.exitCode === null).catch((e) => { throw new Error(`${e.message}\n${out}`); });
  return {
    url, proc, output: () => out,
    stop: (signal = 'SIGTERM') => new Promise((res) => {
      if (proc.exitCode !== null) return res(proc.exitCode);
      proc.once('exit', (code) => res(code));
      proc.kill(signal);
    }),
  };
}

let n = 0;
/** Creates a user with the given role and returns a logged-in client. */
export async function userClient(t: TestDb, url: string, role: Role): Promise<Client> {
  const email = `${role}${++n}-${Math.random().toString(36).slice(2, 8)}@test.local`;
  await createUser(t.c, { email, password: PASSWORD, role });
  const cl = new Client(url);
  const r = await cl.login(email, PASSWORD);
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`);
  return cl;
}

export const sampleApplication = (over: Record<string, unknown> = {}) => ({
  applicant: { name: 'Ada Lovelace', email: 'ada@example.com', phone: '+44 20 7946 0000', age: 36 },
  amount: 25_000, income: 90_000, creditScore: 720, purpose: 'home renovation', ...over,
});
