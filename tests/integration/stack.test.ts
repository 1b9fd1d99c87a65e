// `npm start` end to end, run the way the README runs it: `npm start` itself, in its own process
// group as a terminal runs a foreground job, with its own embedded mongod, ports and DATA_DIR.
// The stack comes up behind nginx and the printed first admin logs in through it; a kill -9'd
// API instance is restarted; Ctrl-C (SIGINT to the group) runs the ordered stop and leaves no
// process behind; a SIGKILLed launcher leaves no process behind either; a taken port or a bad
// setting is refused with a message naming the variable. The embedded mongod runs with access
// control: it refuses unauthenticated writes, the API's user cannot drop the database or create
// users, and no credential is printed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { MongoClient } from 'mongodb';
import { embeddedUriFor } from '../../scripts/mongod/auth.js';
import { Client } from '../helpers/http.js';
import { asPartner, loanRequest, testPartner } from '../helpers/partners.js';
import { processes, type Proc } from '../helpers/processes.js';
import { freePortRange, freePorts } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';
import { attempt } from '../helpers/mongo-access.js';

const procs = processes('start');
const START_MS = 240_000;

/** Runs `npm start` in its own process group (as a terminal would); its output goes to its log file. */
function npmStart(env: Record<string, string>): Promise<Proc> {
  // The launcher starts its own mongod: the test's MONGO_URI is removed.
  return procs.spawn('npm-start', 'npm', ['start'], { MONGO_URI: undefined, LOG_LEVEL: 'info', ...env });
}

/** Waits (bounded) until npm start printed a match of `re`; fails at once when it exited first. */
const printed = (s: Proc, re: RegExp, timeoutMs = START_MS) =>
  waitFor(`npm start to print ${re}`, () => s.output().match(re), {
    timeoutMs,
    intervalMs: 100,
    died: () => (s.exit ? `npm start exited (${s.exit.code ?? s.exit.signal})` : null),
  }).catch((e: Error) => {
    throw new Error(`${e.message}:\n${s.output()}`);
  });

/** npm's exit code, waited for at most 120 s. */
const exitCode = async (s: Proc) => (await s.exitWithin(120_000)).code;

/** Free ports and a fresh DATA_DIR, so nothing collides with a running stack or another test. */
async function stackEnv(): Promise<Record<string, string>> {
  const [nginxPort, gatewayPort, mongoPort] = await freePorts(3);
  // The ranges are free now but not yet taken: draw again when one overlaps a port drawn before.
  const taken = new Set([nginxPort!, gatewayPort!, mongoPort!]);
  const range = async () => {
    for (let i = 0; i < 20; i++) {
      const base = await freePortRange(3);
      const ports = [base, base + 1, base + 2];
      if (ports.every((p) => !taken.has(p))) {
        for (const p of ports) taken.add(p);
        return base;
      }
    }
    throw new Error('no free port range apart from the others');
  };
  return {
    NGINX_PORT: String(nginxPort),
    PAYMENT_GATEWAY_PORT: String(gatewayPort),
    MONGO_PORT: String(mongoPort),
    API_BASE_PORT: String(await range()),
    WORKER_HTTP_BASE_PORT: String(await range()),
    DATA_DIR: mkdtempSync(join(procs.dir, 'data-')),
  };
}

function processTable(): { pid: number; ppid: number }[] {
  return execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .map(([pid, ppid]) => ({ pid: pid!, ppid: ppid! }));
}
/** Every process below `root` (children, grandchildren, …). */
function descendants(root: number): number[] {
  const table = processTable();
  const out: number[] = [];
  for (let queue = [root]; queue.length; ) {
    const p = queue.shift()!;
    for (const r of table)
      if (r.ppid === p) {
        out.push(r.pid);
        queue.push(r.pid);
      }
  }
  return out;
}
/** Running (a zombie waiting for its new parent to reap it counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
/** npm's direct child is the launcher itself (`exec`: no shell in between that would die of SIGINT first). */
function launcherOf(s: Proc): number {
  const kids = processTable()
    .filter((r) => r.ppid === s.pid)
    .map((r) => r.pid);
  assert.equal(kids.length, 1, `npm has one child: ${kids.map(cmdline).join(' | ')}`);
  assert.match(cmdline(kids[0]!), /^\S*node --import tsx scripts\/start\.ts$/);
  return kids[0]!;
}
/** npm (and its group) and every process of the stack it started (those run in their own session). */
const cleanup = async (s: Proc, pids: number[]) => {
  await s.kill9();
  for (const p of pids)
    if (alive(p))
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
};

/** The embedded mongod's access control, its credential files, and who connects as whom. */
async function checkAccessControl(env: Record<string, string>, output: string, pids: number[]): Promise<void> {
  const dir = join(env.DATA_DIR!, 'mongo-auth');
  const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
  assert.deepEqual([mode(dir), mode(join(dir, 'keyfile')), mode(join(dir, 'users.json'))], ['700', '600', '600']);
  const users: Record<string, { user: string; password: string }> = JSON.parse(readFileSync(join(dir, 'users.json'), 'utf8'));
  assert.deepEqual(Object.keys(users).sort(), ['admin', 'api', 'migrator', 'worker']);
  for (const { password } of Object.values(users)) assert.ok(!output.includes(password), 'no MongoDB password is printed');
  assert.ok(
    pids.some((p) => alive(p) && /mongod .*--keyFile /.test(cmdline(p))),
    'mongod runs with --keyFile',
  );

  const host = `127.0.0.1:${env.MONGO_PORT}`;
  const as = (name: string) => {
    const u = users[name]!;
    return `mongodb://${encodeURIComponent(u.user)}:${encodeURIComponent(u.password)}@${host}/?replicaSet=rs0&authSource=admin`;
  };
  const db = (c: MongoClient) => c.db('creditdesk');
  assert.equal(
    await attempt(`mongodb://${host}/?replicaSet=rs0`, (c) => db(c).collection('users').insertOne({ email: 'x' })),
    'Unauthorized',
  );
  assert.equal(await attempt(as('api'), (c) => db(c).collection('probe').insertOne({ ok: 1 })), 'ok');
  assert.equal(await attempt(as('api'), (c) => db(c).dropDatabase()), 'Unauthorized');
  assert.equal(
    await attempt(as('api'), (c) => c.db('admin').command({ createUser: 'intruder', pwd: 'intruder-password', roles: ['root'] })),
    'Unauthorized',
  );
  assert.equal(await attempt(as('worker'), (c) => db(c).dropDatabase()), 'Unauthorized');
  // CLIs beside npm start (create-admin, migrate, seed) find the migrator's credentials in DATA_DIR.
  const cli = embeddedUriFor(`mongodb://${host}/?replicaSet=rs0`, env.DATA_DIR!, 'migrator');
  assert.equal(await attempt(cli, (c) => db(c).collection('probe').createIndex({ ok: 1 })), 'ok');

  // Each API instance connects as the api user.
  const uriOf = (p: number) =>
    environ(p)
      .find((e) => e.startsWith('MONGO_URI='))
      ?.slice('MONGO_URI='.length) ?? '';
  const instanceOf = (p: number) =>
    environ(p)
      .find((e) => e.startsWith('INSTANCE_ID='))
      ?.slice('INSTANCE_ID='.length) ?? '';
  const apis = pids.filter((p) => alive(p) && /^api-\d$/.test(instanceOf(p)));
  assert.deepEqual([...new Set(apis.map(instanceOf))].sort(), ['api-1', 'api-2', 'api-3']);
  for (const p of apis) assert.equal(decodeURIComponent(new URL(uriOf(p)).username), users.api!.user, instanceOf(p));
  // … and each worker process as the worker user.
  const workers = pids.filter((p) => alive(p) && /^worker-/.test(instanceOf(p)));
  assert.deepEqual([...new Set(workers.map(instanceOf))].sort(), ['worker-approval', 'worker-disbursement', 'worker-ocr']);
  for (const p of workers) assert.equal(decodeURIComponent(new URL(uriOf(p)).username), users.worker!.user, instanceOf(p));
}

test('npm start: behind nginx, first admin logs in, a killed instance is restarted, Ctrl-C stops in order and leaves nothing', async () => {
  const env = await stackEnv();
  const s = await npmStart(env);
  const pids: number[] = [];
  try {
    const [, url] = await printed(s, /ready: (http:\/\/127\.0\.0\.1:\d+)/);
    assert.equal(url, `http://127.0.0.1:${env.NGINX_PORT}`);
    const [, email, password] = await printed(s, /first admin created: (\S+) \/ (\S+)/);
    await printed(s, /Ctrl-C stops everything/);
    const admin = new Client(url!);
    assert.equal((await admin.login(email!, password!)).status, 200);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await admin.get('/api/auth/me')).headers.get('x-upstream') ?? '');
    assert.equal(seen.size, 3, `three API instances behind nginx: ${[...seen]}`);
    // partner intake is configured (the launcher's dev PARTNER_KEY_SECRET): a key works through nginx
    const partner = await testPartner(admin);
    const submitted = await asPartner(url!, partner.key, 'POST', '/api/loan/request', loanRequest());
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    assert.equal((await asPartner(url!, partner.key, 'GET', submitted.body.statusUrl)).status, 200);
    assert.ok(statSync(join(env.DATA_DIR!, 'partner-key-secret')).mode % 0o1000 === 0o600, 'the dev partner secret is private');

    pids.push(...descendants(s.pid!));
    launcherOf(s);
    const api2 = pids.find((p) => alive(p) && environ(p).includes('INSTANCE_ID=api-2'));
    assert.ok(api2, 'api-2 runs');
    // launcher, mongod, its watchdog, the gateway, 3 API instances, 3 workers, nginx (+ its workers)
    assert.ok(pids.length >= 11, `processes of the stack: ${pids.map(cmdline).join('\n')}`);
    await checkAccessControl(env, s.output(), pids);

    process.kill(api2, 'SIGKILL');
    await printed(s, /api-2 exited \(signal SIGKILL\); restarting in 250 ms, restart 1/);
    const [, newPid] = await printed(s, /api-2 is up again \(pid (\d+), restart 1\)/);
    pids.push(...descendants(s.pid!).filter((p) => !pids.includes(p)));
    assert.ok(pids.includes(Number(newPid)));
    assert.equal((await admin.get('/api/auth/me')).status, 200);

    // Ctrl-C: a terminal sends SIGINT to its foreground process group (npm's). Only npm gets it
    // (the launcher runs in its own session) and forwards it to the launcher, which stops in order.
    process.kill(-s.pid!, 'SIGINT');
    assert.equal(await exitCode(s), 0, s.output());
    const out = s.output();
    const steps = [
      /SIGINT: stopping nginx, then/,
      /stopping nginx \(SIGQUIT/,
      /stopping api-1, api-2, api-3, worker-ocr, worker-approval, worker-disbursement \(SIGTERM/,
      /stopping payment-gateway-simulator \(SIGTERM/,
      /stopping MongoDB/,
      /\[creditdesk\] stopped\n/,
    ];
    const at = steps.map((re) => out.search(re));
    assert.ok(
      at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]!)),
      `ordered stop ${JSON.stringify(at)}:\n${out}`,
    );
    assert.doesNotMatch(out, /did not stop within/);
    // MongoDB was stopped by the launcher (SIGTERM, last), not by the terminal's SIGINT.
    const mongodLog = readFileSync(join(env.DATA_DIR!, 'mongod', 'mongod.log'), 'utf8');
    assert.match(mongodLog, /"msg":"Received signal","attr":\{"signal":15/);
    assert.doesNotMatch(mongodLog, /"msg":"Received signal","attr":\{"signal":2/);
    assert.deepEqual(pids.filter(alive).map(cmdline), [], 'no process left behind');
  } finally {
    await cleanup(s, pids);
  }
});

test('npm start: a SIGKILLed launcher leaves no process behind', async () => {
  const s = await npmStart(await stackEnv());
  const pids: number[] = [];
  try {
    await printed(s, /ready: http/);
    pids.push(...descendants(s.pid!));
    const launcher = launcherOf(s);
    assert.ok(pids.length >= 11, `processes of the stack: ${pids.map(cmdline).join('\n')}\n${s.output()}`);
    process.kill(launcher, 'SIGKILL');
    // Each supervised child gets SIGTERM from the kernel (parent-death signal) and drains; the
    // watchdog stops mongod.
    await waitFor('every process of the stack to exit', () => pids.filter(alive).length === 0, {
      timeoutMs: 60_000,
      intervalMs: 200,
    }).catch((e: Error) => {
      throw new Error(`${e.message}: ${pids.filter(alive).map(cmdline).join(' | ')}`);
    });
    assert.notEqual(await exitCode(s), 0);
  } finally {
    await cleanup(s, pids);
  }
});

test('npm start: a taken port or a bad setting is refused with a message naming the variable', async () => {
  const env = await stackEnv();
  const blocker = createServer().listen(Number(env.NGINX_PORT), '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  try {
    const taken = await npmStart(env);
    assert.equal(await exitCode(taken), 1, taken.output());
    assert.match(taken.output(), new RegExp(`port ${env.NGINX_PORT} \\(nginx; set NGINX_PORT\\) is already in use`));
  } finally {
    blocker.close();
  }
  const bad = await npmStart({ ...env, API_INSTANCES: '0', CRASH_LOOP_WINDOW_MS: 'soon' });
  assert.equal(await exitCode(bad), 1, bad.output());
  assert.match(
    bad.output(),
    /creditdesk start: invalid configuration \(see \.env\.example\):\n {2}API_INSTANCES .*\n {2}CRASH_LOOP_WINDOW_MS /,
  );
});
