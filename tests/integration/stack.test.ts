// `npm start` end to end (scripts/start.ts as a real process): the stack comes up behind nginx,
// the printed first admin can log in through it, Ctrl-C stops every process it started, and a
// taken port is refused with a message naming the setting.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { testDb, type TestDb } from '../helpers/db.js';
import { Client } from '../helpers/http.js';
import { freePortRange, freePorts } from '../helpers/stack.js';

let t: TestDb;
let dataDir: string;
before(async () => { t = await testDb('stack', { migrate: false }); dataDir = mkdtempSync(join(tmpdir(), 'creditdesk-start-')); });
after(async () => { await t?.close(); rmSync(dataDir, { recursive: true, force: true }); });

/** Starts scripts/start.ts in its own process group (as a terminal would) and collects its output. */
function launch(env: Record<string, string>): { proc: ChildProcess; out: () => string; waitFor(re: RegExp): Promise<RegExpMatchArray>; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    env: { ...process.env, MONGO_URI: t.uri, MONGO_DB: t.dbName, DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  let out = '';
  const waiters: (() => void)[] = [];
  const onData = (d: Buffer) => { out += d; waiters.forEach((w) => w()); };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exit = new Promise<number | null>((res) => proc.once('exit', (c) => { waiters.forEach((w) => w()); res(c); }));
  return {
    proc, out: () => out, exit,
    waitFor: (re) => new Promise((res, rej) => {
      const check = () => {
        const m = out.match(re);
        if (m) return res(m);
        if (proc.exitCode !== null) rej(new Error(`start exited (${proc.exitCode}) before ${re}:\n${out}`));
      };
      waiters.push(check);
      check();
    }),
  };
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('npm start: stack behind nginx, first admin logs in through it, Ctrl-C leaves no process behind', async () => {
  const [nginxPort, gatewayPort] = await freePorts(2);
  const s = launch({ NGINX_PORT: String(nginxPort), PAYMENT_GATEWAY_PORT: String(gatewayPort),
    API_BASE_PORT: String(await freePortRange(3)), WORKER_HTTP_BASE_PORT: String(await freePortRange(3)) });
  try {
    const [, url] = await s.waitFor(/ready: (http:\/\/127\.0\.0\.1:\d+)/);
    assert.equal(url, `http://127.0.0.1:${nginxPort}`);
    const [, email, password] = await s.waitFor(/first admin created: (\S+) \/ (\S+)/);
    await s.waitFor(/Ctrl-C stops everything/);
    const admin = new Client(url!);
    assert.equal((await admin.login(email!, password!)).status, 200);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await admin.get('/api/auth/me')).headers.get('x-upstream') ?? '');
    assert.equal(seen.size, 3, `three API instances behind nginx: ${[...seen]}`);
    // Every process of the stack is in the launcher's process group; Ctrl-C signals the group.
    const group = (await import('node:child_process')).execFileSync('ps', ['-o', 'pid=', '-g', String(s.proc.pid)], { encoding: 'utf8' })
      .split('\n').map((x) => Number(x.trim())).filter(Boolean);
    assert.ok(group.length >= 5, `launcher, 3 API instances, nginx (+ workers): ${group.length} processes`);
    process.kill(-s.proc.pid!, 'SIGINT');
    assert.equal(await s.exit, 0, s.out());
    assert.match(s.out(), /stopped/);
    assert.deepEqual(group.filter(alive), [], 'no process left behind');
  } finally {
    if (s.proc.exitCode === null) process.kill(-s.proc.pid!, 'SIGKILL');
  }
});

test('npm start: a taken port is refused with a message naming the setting, nothing is left running', async () => {
  const [nginxPort] = await freePorts(1);
  const blocker = createServer().listen(nginxPort, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  try {
    const s = launch({ NGINX_PORT: String(nginxPort), API_BASE_PORT: String(await freePortRange(3)) });
    assert.equal(await s.exit, 1);
    assert.match(s.out(), new RegExp(`port ${nginxPort} \\(nginx; set NGINX_PORT\\) is already in use`));
  } finally {
    blocker.close();
  }
});
