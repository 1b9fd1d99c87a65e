// Worker autoscaling with real processes: the launcher's startStack with `autoscale` (as npm start
// runs it) scales the approval role between 1 and 3 processes from the backlog. A burst of
// applications whose approval waits on a slow credit bureau (the simulator, 2.5 s per report)
// grows the role to its maximum; the backlog drains; the count returns to the minimum, the retired
// processes drained (exit 0, never a SIGKILL: a process is retired while its events are still in
// flight, and those finish there); and every event completed exactly once: one attempt, no lease
// taken over, one bureau request per application, the added processes among the callers. The metric the Kubernetes path scales on
// (queue_role_backlog) is served by the role's first process and follows the backlog.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EVENT } from '../../lib/domain/pipeline/events.js';
import { startStack, type Stack } from '../../scripts/stack/stack.js';
import { generateSecret } from '../../lib/webhooks/standard-webhooks.js';
import { applicantWith, type BureauRequest, clean, inScoring } from '../helpers/bureau.js';
import { TEST_PARTNER_SECRET, TEST_SECRET } from '../helpers/env.js';
import { fixture } from '../helpers/fixture.js';
import { freePortRange, freePorts } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const BURST = 30;
const MAX = 3;
const f = fixture('autoscaling');
const lines: string[] = [];
let stack: Stack;
let runDir: string;
let bureauUrl: string;
let metricsUrl: string;

f.before(async () => {
  const [nginxPort, bureauPort, apiPort] = await freePorts(3);
  const workerPort = await freePortRange(1);
  runDir = mkdtempSync(join(tmpdir(), 'creditdesk-autoscale-'));
  bureauUrl = `http://127.0.0.1:${bureauPort}`;
  metricsUrl = `http://127.0.0.1:${workerPort}/metrics`;
  stack = await startStack({
    mongoUri: f.t.uri,
    dbName: f.t.dbName,
    sessionSecrets: TEST_SECRET,
    partnerKeySecrets: TEST_PARTNER_SECRET,
    apiPorts: [apiPort!],
    nginxPort: nginxPort!,
    runDir,
    workerRoles: ['approval'],
    workerHttpBasePort: workerPort,
    bureau: { port: bureauPort!, webhookSecret: generateSecret(), mode: 'sync' },
    log: (m) => lines.push(m),
    env: {
      LOG_LEVEL: 'info',
      NODE_ENV: 'test',
      // Two lanes per process, so three processes are needed to run six reports at once; a short
      // lease, so an event abandoned by a killed process would be taken over (and seen) in time.
      WORKER_CONCURRENCY_APPROVAL: '2',
      WORKER_LEASE_MS: '5000',
      WORKER_POLL_MS: '200',
      BUREAU_TIMEOUT_MS: '8000',
    },
    autoscale: {
      intervalMs: 250,
      roles: {
        approval: { min: 1, max: MAX, jobsPerProcess: 4, hysteresis: 0.25, upCooldownMs: 0, downCooldownMs: 1000, maxDueAgeMs: 0 },
      },
    },
  });
  f.after(async () => {
    await stack.stop();
    rmSync(runDir, { recursive: true, force: true });
  });
  const r = await fetch(`${bureauUrl}/_sim/control`, { method: 'POST', body: JSON.stringify({ latencyMs: 2500, jitter: 'none' }) });
  assert.equal(r.status, 200, await r.text());
});

const approvalProcesses = () => stack.supervisor.list.filter((c) => c.name.startsWith('worker-approval'));
/** Processes counted now: started and not asked to stop. */
const running = () => approvalProcesses().filter((c) => c.state === 'starting' || c.state === 'up');
/** A worker that ended without being retired (crash, failed start), with the end of the log. */
const died = () => {
  const dead = approvalProcesses().find((c) => c.state === 'exited' || c.state === 'failed');
  return dead ? `${dead.name} ${dead.state}` : null;
};
const backlogMetric = async () => {
  const text = await (await fetch(metricsUrl)).text();
  const m = /^queue_role_backlog\{role="approval"\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : undefined;
};

test('a burst behind a slow bureau scales approval to its maximum and back to one process; every event completes exactly once', async () => {
  const db = f.t.mongo.db;
  const reviewer = await f.client('reviewer', stack.url);
  const bureauBefore = (await (await fetch(`${bureauUrl}/_sim/stats`)).json()) as { calls: number };

  // The burst: applications enter scoring faster than one process (two lanes of 2.5 s) decides them.
  const ids = await Promise.all(
    Array.from({ length: BURST }, (_, i) => inScoring(f.t.ctx, reviewer, applicantWith(clean, `scale-${i}`).applicant)),
  );

  await waitFor(`${MAX} approval processes`, () => running().length === MAX, { timeoutMs: 30_000, intervalMs: 50, died });
  assert.ok(
    lines.some((l) =>
      /^autoscale approval: [12] → 3 processes; backlog \d+ \(\d+ due \+ \d+ running\), oldest due [\d.]+ s: load \d+ needs \d+ at 4 per process/.test(
        l,
      ),
    ),
    `a scale-up to the maximum, naming the backlog and why:\n${lines.join('\n')}`,
  );
  await waitFor('queue_role_backlog above 0 on the first process', async () => ((await backlogMetric()) ?? 0) > 0, { timeoutMs: 30_000 });

  // Drained and back to the minimum, the retired processes stopped (not merely asked to).
  await waitFor(
    'every approval event completed',
    async () => (await db.collection('events').countDocuments({ type: EVENT.approval, state: 'completed' })) === BURST,
    { timeoutMs: 60_000, intervalMs: 200, died },
  );
  await waitFor('one approval process again', () => running().length === 1 && approvalProcesses().every((c) => c.state !== 'stopping'), {
    timeoutMs: 30_000,
    intervalMs: 100,
    died,
  });
  assert.equal(running()[0]!.name, 'worker-approval', 'the newest were retired; the first (with the HTTP port) stays');
  assert.deepEqual(stack.autoscaler?.status().approval?.processes, 1);
  assert.equal(
    await waitFor('the backlog metric back to 0', async () => (await backlogMetric()) === 0 && 'zero', { timeoutMs: 30_000 }),
    'zero',
  );

  // Every retired process drained and exited by itself (exit 0), never killed at the deadline.
  const retired = lines.filter((l) => / retired \(exit /.test(l));
  assert.equal(retired.length, MAX - 1, lines.join('\n'));
  for (const l of retired) assert.match(l, /retired \(exit 0\)/);
  assert.ok(
    lines.some((l) => /^autoscale approval: [23] → [12] processes; backlog \d+ .*fits in/.test(l)),
    `scale-down lines name the backlog and why:\n${lines.join('\n')}`,
  );

  // Exactly once: one attempt each, no lease taken over, no give-up; one bureau request each.
  const events = await db
    .collection('events')
    .find({ type: EVENT.approval }, { projection: { attempts: 1, recoveries: 1, state: 1 } })
    .toArray();
  assert.equal(events.length, BURST);
  assert.deepEqual(
    events.filter((e) => e.attempts !== 1 || (e.recoveries ?? 0) !== 0),
    [],
    'an event ran twice (a process was killed or abandoned its events)',
  );
  const bureauAfter = (await (await fetch(`${bureauUrl}/_sim/stats`)).json()) as { calls: number };
  assert.equal(bureauAfter.calls - bureauBefore.calls, BURST, 'one bureau report per application');
  // The added processes shared the work (each asked the bureau: X-Sim-Caller is the process's INSTANCE_ID).
  const { items } = (await (await fetch(`${bureauUrl}/_sim/requests?after=${bureauBefore.calls}`)).json()) as {
    items: BureauRequest[];
  };
  assert.deepEqual([...new Set(items.map((r) => r.caller))].sort(), ['worker-approval', 'worker-approval-2', 'worker-approval-3']);
  const decided = await f.t.c.applications.countDocuments({ _id: { $in: ids }, risk: { $exists: true }, status: { $ne: 'scoring' } });
  assert.equal(decided, BURST);
});
