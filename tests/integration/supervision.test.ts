// The launcher's supervisor with real processes: the stack `npm start` runs (startStack with a
// restart policy: three API instances behind real nginx, one worker process per role) keeps
// serving while an API instance and a worker are kill -9'd under load, and both come back; a
// child that crash-loops stops everything with a message naming it and the end of its log.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { WORKER_ROLES } from '../../scripts/stack/stack.js';
import { DEFAULT_RESTART_POLICY, Supervisor, type Child } from '../../scripts/stack/supervisor.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { sampleApplication } from '../helpers/samples.js';
import { boundedLoad, countBy } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/** What the supervisor said (restarts, crash loops, the ordered stop). */
const lines: string[] = [];
const f = fixture('supervision', { stack: { workerRoles: WORKER_ROLES, restart: DEFAULT_RESTART_POLICY, log: (m) => lines.push(m) } });
let reviewer: Client;
f.before(async () => {
  reviewer = await f.client('reviewer');
});

/** Waits (bounded) until the child runs a process other than `oldPid` that passed its readiness check. */
const restarted = (c: Child, oldPid: number | undefined) =>
  waitFor(`${c.name} to be restarted and up`, () => c.pid !== oldPid && c.state === 'up', { timeoutMs: 90_000, intervalMs: 100 });

test('kill -9 of an API instance and a worker under load: reads all succeed, acknowledged creates are stored, both come back', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push((await reviewer.create({ amount: 1000 + i })).id);
  const api = f.stack.supervisor.child('api-2');
  const worker = f.stack.supervisor.child('worker-approval');
  assert.equal(api, f.stack.apis[1]!.child, 'the stack and the supervisor hand out the same child object');
  const [apiPid, workerPid] = [api.pid, worker.pid];
  // The moment a restarted child is reported up, it answers its readiness check.
  const readyWhenUp: Promise<[string, number]>[] = [];
  const workerHealth = `http://127.0.0.1:${f.stack.workerHttpBasePort! + WORKER_ROLES.indexOf('approval')}/health`;
  f.stack.supervisor.on('up', (c) => {
    const url = c === api ? `${f.stack.apis[1]!.url}/ready` : c === worker ? workerHealth : undefined;
    if (url)
      readyWhenUp.push(
        fetch(url, { headers: { connection: 'close' } }).then(
          (r): [string, number] => [c.name, r.status],
          (): [string, number] => [c.name, 0],
        ),
      );
  });
  let killed = false;
  const reads = boundedLoad(
    {
      count: 1500,
      concurrency: 12,
      maxMs: 90_000,
      onProgress: (n) => {
        if (n !== 300 || killed) return;
        killed = true;
        process.kill(apiPid!, 'SIGKILL');
        process.kill(workerPid!, 'SIGKILL');
      },
    },
    async (i) => {
      const r = await reviewer.get(i % 2 ? `/api/applications/${ids[i % ids.length]}` : '/api/applications?limit=5');
      return [r.status, r.headers.get('x-upstream') ?? ''];
    },
  );
  const creates = boundedLoad({ count: 300, concurrency: 4, maxMs: 90_000 }, async (i) => {
    const r = await reviewer.post('/api/applications', sampleApplication({ purpose: `supervision ${i}` }));
    return [r.status, r.body?.id as string];
  });
  const [rd, wr] = await Promise.all([reads, creates]);
  assert.ok(killed, 'the children were killed mid-load');

  // No failed idempotent request: nginx retried the reads the dead instance did not answer.
  assert.deepEqual(
    countBy(rd.statuses),
    { 200: rd.statuses.length },
    `reads: ${JSON.stringify(countBy(rd.statuses))} ${rd.errors.slice(0, 3)}`,
  );
  // A create in flight on the killed instance may fail (nginx never replays a POST); every
  // acknowledged one is stored.
  assert.deepEqual(
    wr.statuses.filter((s) => s !== 201 && s !== 502 && s !== 503),
    [],
    JSON.stringify(countBy(wr.statuses)),
  );
  assert.ok(wr.ok.length >= wr.statuses.length - 8, `acknowledged ${wr.ok.length} of ${wr.statuses.length}`);
  assert.equal(await f.t.c.applications.countDocuments({ _id: { $in: wr.ok } }), wr.ok.length, 'every acknowledged create exists');

  // Both come back: a new process, counted as up only once it answers its readiness check.
  await Promise.all([restarted(api, apiPid), restarted(worker, workerPid)]);
  assert.equal(api.restarts, 1);
  assert.equal(worker.restarts, 1);
  assert.deepEqual((await Promise.all(readyWhenUp)).sort(), [
    ['api-2', 200],
    ['worker-approval', 200],
  ]);
  assert.match(lines.join('\n'), /api-2 exited \(signal SIGKILL\); restarting in 250 ms, restart 1/);
  assert.match(lines.join('\n'), /worker-approval exited \(signal SIGKILL\); restarting in 250 ms, restart 1/);
  assert.match(lines.join('\n'), /api-2 is up again/);
  // The restarted instance serves through nginx again (nginx retries it after fail_timeout).
  const upstream = `127.0.0.1:${f.stack.apis[1]!.port}`;
  await waitFor(
    'nginx to route to the restarted instance',
    async () => (await reviewer.get('/api/auth/me')).headers.get('x-upstream') === upstream,
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  for (const c of f.stack.supervisor.list) assert.equal(c.state, 'up', `${c.name} is up`);
});

test('a child that crash-loops stops the supervisor with a message naming it and the end of its log', async () => {
  const said: string[] = [];
  const sup = new Supervisor(join(f.procs.dir, 'crash-loop'), {
    restart: { baseDelayMs: 20, maxDelayMs: 100, crashLoopExits: 5, crashLoopWindowMs: 60_000 },
    log: (m) => said.push(m),
  });
  try {
    let reported: string | undefined;
    sup.once('crash-loop', (_c, message) => {
      reported = message;
    });
    const healthy = sup.spawn('sleeper', 'sleep', ['300'], {});
    const crasher = sup.spawn('crasher', 'sh', ['-c', 'echo "boom: cannot open the thing"; exit 3'], {});
    const message = await waitFor('a crash loop to be reported', () => reported, { timeoutMs: 30_000 }).catch((e: Error) => {
      throw new Error(`${e.message}:\n${said.join('\n')}`);
    });
    await sup.stopAll();
    assert.match(message, /^crasher is crash-looping: 5 exits within 60 s \(last: code 3\); stopping everything/);
    assert.match(message, /boom: cannot open the thing/, 'the end of its log is shown');
    // Restarted with backoff (doubling, capped) until the fifth exit.
    assert.deepEqual(
      said.filter((l) => l.startsWith('crasher exited')).map((l) => /restarting in (\d+) ms, restart (\d+)/.exec(l)!.slice(1).join('/')),
      ['20/1', '40/2', '80/3', '100/4'],
    );
    assert.equal(crasher.restarts, 4);
    assert.equal(crasher.state, 'failed');
    assert.equal(healthy.state, 'stopped');
    assert.equal(healthy.proc.signalCode, 'SIGTERM', 'the healthy child was stopped too');
    assert.ok(
      said.some((l) => l.startsWith('stopping sleeper')),
      said.join('\n'),
    );
  } finally {
    await sup.stopAll();
  }
});
