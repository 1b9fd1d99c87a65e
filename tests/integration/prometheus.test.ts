// deploy/prometheus/ checked by Debian's promtool (config, rules, the rules' unit tests), and a real
// Prometheus scraping the app: it loads the same alert rules, scrapes an API instance, a worker
// process and a worker metrics listener with MongoDB (queue and pool gauges, a vendor client),
// and its HTTP API shows the series with the expected labels and runs every query of the Grafana
// dashboard (deploy/grafana/creditdesk.json). Prometheus comes from `npm test`'s setup
// (scripts/install-system-deps.sh test); without it these tests fail, they never skip.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { bureauSchema, parseEnv } from '../../lib/config.js';
import { acquire } from '../../lib/locks/index.js';
import { publishMany } from '../../lib/queue/index.js';
import { bureauVendor } from '../../lib/vendors/bureau-vendor.js';
import { startHealthServer } from '../../workers/http.js';
import { fixture } from '../helpers/fixture.js';
import { asPartner, loanRequest, testPartner } from '../helpers/partners.js';
import { freePort } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const DIR = resolve(import.meta.dirname, '../../deploy/prometheus');
const MISSING = "is not installed: `npm test` installs Debian's prometheus package (scripts/install-system-deps.sh test)";
const PROBE_TYPE = 'metrics.probe';

/** Runs a Prometheus tool; a missing binary fails with a message saying where it comes from. */
async function tool(bin: 'promtool' | 'prometheus', args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(bin, args, { cwd: DIR, timeout: 30_000 });
    return stdout + stderr;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (err.code === 'ENOENT') throw new Error(`${bin} ${MISSING}`);
    throw new Error(`${bin} ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

describe('promtool on deploy/prometheus', () => {
  test('the scrape config is valid and finds the rule file', async () => {
    assert.match(await tool('promtool', ['check', 'config', 'prometheus.yml']), /SUCCESS: 1 rule files found/);
  });
  test('the alert rules are valid', async () => {
    assert.match(await tool('promtool', ['check', 'rules', 'alerts.yml']), /SUCCESS: 16 rules found/);
  });
  test("every alert's unit tests pass (fires on bad series, quiet on healthy ones)", async () => {
    assert.match(await tool('promtool', ['test', 'rules', 'alerts.test.yml']), /SUCCESS/);
  });
});

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('a real Prometheus scraping the app', () => {
  const f = fixture('prometheus', { api: true });
  let prom: string;
  let probe: Server | undefined;

  f.before(async () => {
    await tool('prometheus', ['--version']);
    const [promPort, workerPort, probePort] = [await freePort(), await freePort(), await freePort()];
    // Events of a type no worker runs: they stay pending, so the queue gauges have a known value.
    await publishMany(f.t.ctx.db, PROBE_TYPE, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    // A worker process with its /metrics listener (worker_jobs_*, process defaults).
    await f.worker('approval', { WORKER_HTTP_PORT: String(workerPort) });
    // The worker metrics listener with the process's MongoDB, as startWorkers wires it: queue
    // gauges from the cached aggregate, the driver's pool gauges, and a vendor client (the credit
    // bureau's, with its defaults) that made one call, and a lock this process took.
    const bureau = bureauVendor(f.t.ctx.db, parseEnv(bureauSchema, {}), 'probe');
    const called = await bureau.call(({ signal }) => fetch(`${f.api.url}/health`, { signal }));
    assert.ok(called.ok, JSON.stringify(called));
    assert.ok(await acquire(f.t.ctx.db, 'probe:metrics', 60_000));
    const ctx = { ...f.t.ctx, bureau: { client: bureau } };
    probe = await startHealthServer('127.0.0.1', probePort, { instance: 'probe', roles: [], draining: false }, new Map(), ctx);
    f.after(() => new Promise<void>((res) => (probe ? probe.close(() => res()) : res())));

    const api = new URL(f.api.url);
    const config = [
      'global: { scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s }',
      `rule_files: [${JSON.stringify(join(DIR, 'alerts.yml'))}]`,
      'scrape_configs:',
      `  - { job_name: api, static_configs: [{ targets: ["${api.host}"] }] }`,
      `  - { job_name: worker, static_configs: [{ targets: ["127.0.0.1:${workerPort}", "127.0.0.1:${probePort}"] }] }`,
      '',
    ].join('\n');
    const configFile = join(f.procs.dir, 'prometheus.yml');
    await writeFile(configFile, config);
    prom = `http://127.0.0.1:${promPort}`;
    await f.procs.spawn(
      'prometheus',
      'prometheus',
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(f.procs.dir, 'prometheus-data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      {},
      { readyUrl: `${prom}/-/ready`, timeoutMs: 30_000 },
    );
    // Requests with known route labels: a sign-in, a list, and a path no route matches.
    const viewer = await f.client('viewer');
    assert.equal((await viewer.get('/api/applications')).status, 200);
    assert.equal((await fetch(`${f.api.url}/no-such-route`)).status, 404);
    // Partner intake: accepted, replayed, rejected (the approval worker then runs the event).
    const partner = await testPartner(await f.client('admin'));
    const body = loanRequest();
    const intake = (b: unknown) => asPartner(f.api.url, partner.key, 'POST', '/api/loan/request', b);
    assert.equal((await intake(body)).status, 202);
    assert.equal((await intake(body)).headers.get('idempotent-replayed'), 'true');
    assert.equal((await intake({ loanId: 'x' })).status, 400);
  });

  const bounded = { timeoutMs: 30_000, intervalMs: 250, died: () => f.procs.died() };
  /** An instant query through Prometheus's HTTP API. */
  const query = async (q: string): Promise<Sample[]> => {
    const body = (await (await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as {
      status: string;
      data: { result: Sample[] };
    };
    assert.equal(body.status, 'success', JSON.stringify(body));
    return body.data.result;
  };
  /** The samples of `q`, once it has at least one (bounded wait). */
  const series = (q: string) =>
    waitFor(
      `Prometheus to have ${q}`,
      async () => {
        const r = await query(q);
        return r.length > 0 ? r : null;
      },
      bounded,
    );

  test('every target is up (the API serves /metrics to a loopback scraper)', async () => {
    await waitFor('3 targets up', async () => (await query('count(up == 1)'))[0]?.value[1] === '3', bounded);
  });

  test('API request durations by route template, method and status class', async () => {
    const [list] = await series('http_request_duration_seconds_count{job="api",route="/api/applications"}');
    assert.deepEqual({ method: list!.metric.method, status: list!.metric.status }, { method: 'GET', status: '2xx' });
    const [login] = await series('http_request_duration_seconds_count{job="api",route="/api/auth/login"}');
    assert.deepEqual({ method: login!.metric.method, status: login!.metric.status }, { method: 'POST', status: '2xx' });
    const [unmatched] = await series('http_request_duration_seconds_count{job="api",route="unmatched"}');
    assert.equal(unmatched!.metric.status, '4xx');
    // The buckets the latency alert's histogram_quantile reads.
    const buckets = await series('http_request_duration_seconds_bucket{job="api",route="/api/applications"}');
    assert.ok(buckets.some((b) => b.metric.le === '+Inf'));
  });

  test('queue gauges per type from the cached aggregate', async () => {
    const [pending] = await series(`queue_pending{job="worker",type="${PROBE_TYPE}"}`);
    assert.equal(pending!.value[1], '3');
    const [dead] = await series(`queue_dead{job="worker",type="${PROBE_TYPE}"}`);
    assert.equal(dead!.value[1], '0');
    const [age] = await series(`queue_oldest_pending_age_seconds{job="worker",type="${PROBE_TYPE}"}`);
    assert.ok(Number(age!.value[1]) >= 0);
  });

  test('MongoDB pool gauges per server, and the pool limit', async () => {
    const mongo = new URL(f.t.uri).host;
    await series(`mongodb_pool_checked_out_connections{job="worker",server="${mongo}"}`);
    await series(`mongodb_pool_wait_queue_size{job="worker",server="${mongo}"}`);
    const [max] = await series('mongodb_pool_max_connections{job="worker"}');
    assert.ok(Number(max!.value[1]) > 0);
  });

  test('worker jobs per role and the event-loop lag the alerts use', async () => {
    await series('worker_jobs_in_flight{job="worker",role="approval"}');
    await series('worker_jobs_processed{job="worker",role="approval"}');
    await series('nodejs_eventloop_lag_p99_seconds{job="api"}');
    await series('nodejs_eventloop_lag_p99_seconds{job="worker"}');
  });

  test('partner intake by outcome (accepted, replayed, rejected; every outcome starts at 0)', async () => {
    const value = async (outcome: string) => Number((await series(`intake_requests_total{job="api",outcome="${outcome}"}`))[0]!.value[1]);
    assert.deepEqual(
      {
        accepted: await value('accepted'),
        replayed: await value('replayed'),
        rejected: await value('rejected'),
        limited: await value('limited'),
      },
      { accepted: 1, replayed: 1, rejected: 1, limited: 0 },
    );
  });

  test("the worker's queue counters per type: the accepted request's approval event was claimed and completed", async () => {
    const type = 'approval.requested';
    await waitFor(
      'the approval event to be completed and scraped',
      async () => (await query(`queue_completions_total{job="worker",type="${type}"} == 1`)).length === 1,
      bounded,
    );
    const [claims] = await series(`queue_claims_total{job="worker",type="${type}"}`);
    assert.equal(claims!.value[1], '1');
    for (const name of ['queue_recovered', 'queue_dead']) await series(`${name}{job="worker",type="${PROBE_TYPE}"}`);
  });

  test('lock waits and the last fence by key prefix', async () => {
    await series('lock_acquire_wait_seconds_bucket{job="worker",prefix="probe",outcome="acquired"}');
    const [fence] = await series('lock_last_fence{job="worker",prefix="probe"}');
    assert.ok(Number(fence!.value[1]) >= 1);
  });

  test('vendor calls, retry budget, breaker state and outbound latency by vendor', async () => {
    const [calls] = await series('vendor_calls_total{job="worker",vendor="credit-bureau"}');
    assert.equal(calls!.value[1], '1');
    await series('vendor_retry_budget_available{job="worker",vendor="credit-bureau"}');
    const states = await series('vendor_breaker_state{job="worker",vendor="credit-bureau"}');
    assert.deepEqual(Object.fromEntries(states.map((s) => [s.metric.state, s.value[1]])), { closed: '1', open: '0', half_open: '0' });
    const api = new URL(f.api.url).host;
    await series(`http_client_request_duration_seconds_bucket{job="worker",server="${api}",status="2xx"}`);
  });

  test('stuck applications per status on the workers (the ReconcilerStuckApplications alert)', async () => {
    const stuck = await series('reconcile_stuck_applications{job="worker"}');
    assert.deepEqual([...new Set(stuck.map((s) => s.metric.status))].sort(), ['bureau_pending', 'disbursing', 'ocr_pending', 'scoring']);
    assert.ok(
      stuck.every((s) => s.value[1] === '0'),
      JSON.stringify(stuck),
    );
  });

  test('status streams (SSE) per stream kind on the API', async () => {
    const streams = await series('sse_connections{job="api"}');
    assert.deepEqual(streams.map((s) => s.metric.stream).sort(), ['admin', 'application', 'partner']);
  });

  test('every query of the Grafana dashboard is valid PromQL on this Prometheus', async () => {
    const file = resolve(import.meta.dirname, '../../deploy/grafana/creditdesk.json');
    const dashboard = JSON.parse(await readFile(file, 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
    assert.ok(exprs.length > 20);
    for (const { title, expr } of exprs) {
      const q = expr.replaceAll('$__rate_interval', '1m');
      const body = (await (await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as {
        status: string;
        error?: string;
      };
      assert.equal(body.status, 'success', `${title}: ${q}: ${body.error}`);
    }
  });

  test('Prometheus loaded and evaluates every alert rule', async () => {
    const rules = await waitFor(
      'every rule evaluated',
      async () => {
        const body = (await (await fetch(`${prom}/api/v1/rules?type=alert`)).json()) as {
          data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> };
        };
        const all = body.data.groups.flatMap((g) => g.rules);
        return all.length > 0 && all.every((r) => r.health !== 'unknown') ? all : null;
      },
      bounded,
    );
    assert.deepEqual(
      rules.map((r) => `${r.name}: ${r.health}${r.lastError ? ` (${r.lastError})` : ''}`).sort(),
      [
        'ApiErrorRateHigh',
        'ApiLatencyP95High',
        'ApiSheddingLoad',
        'DeadLettersGrowing',
        'EventLoopLagHigh',
        'IntakeRateLimitedHigh',
        'IntakeRejectionsHigh',
        'LockWaitP95High',
        'MongoPoolExhausted',
        'QueueBacklogHigh',
        'QueueLagHigh',
        'QueueLeaseLosses',
        'ReconcilerStuckApplications',
        'SseConnectionsNearCap',
        'VendorBreakerOpen',
        'WorkerJobsStuck',
      ].map((n) => `${n}: ok`),
    );
  });
});
