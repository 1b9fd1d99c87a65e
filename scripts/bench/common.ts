// Shared by the HTTP benchmarks (http.ts, intake.ts): the throwaway stack (scripts/stack/ephemeral.ts)
// plus optional worker processes on its own supervisor, an admin session through nginx, autocannon
// runs measured into rows (with p95, which autocannon's own summary lacks), and the result table.
import autocannon from 'autocannon';
import { ephemeralStack, type Ephemeral } from '../stack/ephemeral.js';
import { freePorts } from '../stack/ports.js';
import type { Child } from '../stack/supervisor.js';

/** `[tag] message` on stdout. */
export const logger =
  (tag: string) =>
  (m: string): void =>
    console.log(`[${tag}] ${m}`);

/** One measured load: the request rate, client-side latency percentiles (ms), failures. */
export interface Row {
  node: string;
  target: string;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/** The value below which `q` of the sorted samples fall (nearest rank). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** At most this many latency samples are kept per run (≈ 8 MB). */
const MAX_SAMPLES = 1_000_000;

/**
 * Runs autocannon and records every response's latency from its `response` event, so the row has
 * p50/p95/p99 of all responses (autocannon's summary has p90 and p97.5 but no p95).
 */
export async function measure(node: string, target: string, opts: autocannon.Options): Promise<{ row: Row; result: autocannon.Result }> {
  const samples = new Float64Array(MAX_SAMPLES);
  let n = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(opts, (err: Error | null, r: autocannon.Result) => (err ? reject(err) : resolve(r)));
    instance.on('response', (_client, _status, _bytes, ms) => {
      if (n < MAX_SAMPLES) samples[n++] = ms;
    });
  });
  const sorted = samples.subarray(0, n).sort();
  const row: Row = {
    node,
    target,
    rps: result.duration > 0 ? result.requests.total / result.duration : 0,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
  return { row, result };
}

const ms = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));

/** One line for the progress log. */
export const rowLine = (r: Row): string =>
  `${r.node} ${r.target}: ${r.rps.toFixed(0)} req/s, p50 ${ms(r.p50)} ms, p95 ${ms(r.p95)} ms, p99 ${ms(r.p99)} ms, non-2xx ${r.non2xx}, errors ${r.errors}`;

/** The result table. */
export function printRows(title: string, rows: Row[]): void {
  console.log(`\n── ${title} ──`);
  console.log(
    `${'node'.padEnd(9)} ${'target'.padEnd(48)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p95 ms'.padStart(7)} ${'p99 ms'.padStart(7)}  non2xx errors`,
  );
  for (const r of rows) {
    console.log(
      `${r.node.padEnd(9)} ${r.target.padEnd(48)} ${r.rps.toFixed(0).padStart(8)} ${ms(r.p50).padStart(7)} ${ms(r.p95).padStart(7)} ${ms(r.p99).padStart(7)}  ${String(r.non2xx).padStart(6)} ${String(r.errors).padStart(6)}`,
    );
  }
}

/** A logged-in session through `url`: its cookie and CSRF token; throws unless the login succeeds. */
export async function login(url: string, email: string, password: string): Promise<{ cookie: string; csrf: string }> {
  const r = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (r.status !== 200) throw new Error(`login as ${email}: ${r.status} ${await r.text()}`);
  const cookie = r.headers
    .getSetCookie()
    .find((x) => x.startsWith('creditdesk.sid='))
    ?.split(';')[0];
  if (!cookie) throw new Error(`login as ${email}: no session cookie`);
  const { csrfToken } = (await r.json()) as { csrfToken: string };
  return { cookie, csrf: csrfToken };
}

export interface BenchStack extends Ephemeral {
  /** One workers/main.ts process per role, on the stack's supervisor (stopped with it). */
  workers: Child[];
}

/**
 * ephemeralStack, then one worker process per role against the same database, supervised with
 * the API instances (the stack's stop() stops them too). Each worker counts as up once its
 * /health answers.
 */
export async function benchStack(
  o: Parameters<typeof ephemeralStack>[0] & { workerRoles?: readonly string[]; workerEnv?: Record<string, string> },
): Promise<BenchStack> {
  // The workers are started here (with workerEnv), not by ephemeralStack's own workerRoles.
  const { workerRoles, workerEnv, ...stackOptions } = o;
  const env = await ephemeralStack(stackOptions);
  try {
    const roles = workerRoles ?? [];
    const ports = await freePorts(roles.length);
    const sup = env.stack.supervisor;
    const workers = roles.map((role, i) =>
      sup.node(
        `worker-${role}`,
        'workers/main.ts',
        {
          MONGO_URI: env.uri,
          MONGO_DB: env.dbName,
          NODE_ENV: 'development',
          LOG_LEVEL: 'warn',
          ...o.env,
          ...workerEnv,
          WORKER_ROLES: role,
          INSTANCE_ID: `worker-${role}`,
          WORKER_HTTP_HOST: '127.0.0.1',
          WORKER_HTTP_PORT: String(ports[i]),
        },
        { group: 'app', readyUrl: `http://127.0.0.1:${ports[i]}/health`, ...(o.nodeBin ? { nodeBin: o.nodeBin } : {}) },
      ),
    );
    await Promise.all(workers.map((w) => sup.whenUp(w)));
    return { ...env, workers };
  } catch (e) {
    await env.stop();
    throw e;
  }
}

/** A raw driver ceiling: operations (documents) per second and call latency (ms). */
export interface Ceiling {
  label: string;
  docsPerS: number;
  callsPerS: number;
  p50: number;
  p99: number;
}

/** `lanes` callers each awaiting `call` in a loop for `ms`; docs per second and call latency. */
export async function ceiling(label: string, lanes: number, ms: number, perCall: number, call: () => Promise<unknown>): Promise<Ceiling> {
  const lat: number[] = [];
  const started = performance.now();
  const end = started + ms;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await call();
        lat.push(performance.now() - t);
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  lat.sort((a, b) => a - b);
  return {
    label,
    docsPerS: (lat.length * perCall) / secs,
    callsPerS: lat.length / secs,
    p50: percentile(lat, 0.5),
    p99: percentile(lat, 0.99),
  };
}
