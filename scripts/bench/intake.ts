// `npm run bench:intake -- [--duration 15] [--connections 64] [--e2e-rate 500] [--e2e-duration 10]
//                          [--status-rate 1000] [--status-duration 10] [--ceiling-duration 5] [--many-callers 4]
//                          [--approval-concurrency N]`
// (each also as an environment variable: BENCH_INTAKE_DURATION, BENCH_INTAKE_CONNECTIONS, …)
//
// Partner intake through the real topology: a throwaway mongod, 3 API instances behind nginx and an
// approval worker process (scripts/bench/common.ts benchStack), a partner and its key made through
// the admin API. In one run, on the same mongod:
//   1. raw driver ceilings on a scratch collection with the applications' documents and indexes:
//      insertOne with majority write concern at the same concurrency as the HTTP load, and insertMany
//      of 100 documents per call;
//   2. POST /api/loan/request with autocannon at 64 connections for --duration seconds (unique
//      loanIds; amount/income/creditScore varied so the rules reject some), req/s, p50/p95/p99,
//      errors, the ratio to both ceilings and the targets; then every 202'd id is looked up in
//      applications and in the outbox (events): the process exits 1 when one is missing;
//   3. end to end: a steady --e2e-rate for --e2e-duration, then submission → the approval worker's
//      decision, from the server's timestamps (createdAt → updatedAt of the decision write);
//   4. GET /api/loan/request/:id at --status-rate for --status-duration seconds.
// Every load is bounded by its duration (and every wait by a deadline); loopback only. The load
// generator shares the 2 cores with everything else: figures are for comparison on one machine.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { type Collection, MongoClient } from 'mongodb';
import { newTrackingId } from '../../lib/domain/applications/tracking-id.js';
import type { ApplicationDoc } from '../../lib/domain/applications/types.js';
import { createUser } from '../../lib/domain/users/users.js';
import { benchStack, type Ceiling, ceiling, login, logger, measure, percentile, printRows, type Row, rowLine } from './common.js';

const num = (flag: string, env: string, def: number, max: number): number => {
  const v = Number(process.env[env] ?? def);
  if (!Number.isFinite(v) || v <= 0 || v > max) {
    console.error(`--${flag} / ${env} must be a number in (0, ${max}]`);
    process.exit(2);
  }
  return v;
};
const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    connections: { type: 'string' },
    'e2e-rate': { type: 'string' },
    'e2e-duration': { type: 'string' },
    'status-rate': { type: 'string' },
    'status-duration': { type: 'string' },
    'ceiling-duration': { type: 'string' },
    'many-callers': { type: 'string' },
    'approval-concurrency': { type: 'string' },
  },
});
for (const [k, v] of Object.entries(values)) if (v !== undefined) process.env[`BENCH_INTAKE_${k.toUpperCase().replaceAll('-', '_')}`] = v;
const DURATION = num('duration', 'BENCH_INTAKE_DURATION', 15, 120);
const CONNECTIONS = Math.round(num('connections', 'BENCH_INTAKE_CONNECTIONS', 64, 1000));
const E2E_RATE = Math.round(num('e2e-rate', 'BENCH_INTAKE_E2E_RATE', 500, 5000));
const E2E_DURATION = num('e2e-duration', 'BENCH_INTAKE_E2E_DURATION', 10, 120);
const STATUS_RATE = Math.round(num('status-rate', 'BENCH_INTAKE_STATUS_RATE', 1000, 20_000));
const STATUS_DURATION = num('status-duration', 'BENCH_INTAKE_STATUS_DURATION', 10, 120);
const CEILING_MS = num('ceiling-duration', 'BENCH_INTAKE_CEILING_DURATION', 5, 60) * 1000;
const MANY_CALLERS = Math.round(num('many-callers', 'BENCH_INTAKE_MANY_CALLERS', 4, 64));
/** The approval worker's WORKER_CONCURRENCY_APPROVAL; unset: the app's default. */
const APPROVAL_CONCURRENCY = process.env.BENCH_INTAKE_APPROVAL_CONCURRENCY
  ? String(Math.round(num('approval-concurrency', 'BENCH_INTAKE_APPROVAL_CONCURRENCY', 8, 256)))
  : undefined;
/** How long the approval worker may take to decide a phase's applications before the bench gives up waiting. */
const DECIDE_DEADLINE_MS = 180_000;

const say = logger('bench:intake');
const ADMIN = { email: 'bench-admin@bench.local', password: `bench-${randomBytes(9).toString('base64url')}` };
const PARTNER_KEY_SECRET = randomBytes(32).toString('hex');
const RUN = randomBytes(4).toString('hex');

// ── realistic, unique loan requests ───────────────────────────────────────────────────────────
const FIRST = ['Ana', 'Ben', 'Chloe', 'Dmitri', 'Esther', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Kemi', 'Luis'];
const LAST = ['Okafor', 'Smith', 'Novak', 'Garcia', 'Tanaka', 'Haddad', 'Murphy', 'Kowalski', 'Silva', 'Nguyen'];
const PURPOSES = ['home renovation', 'car purchase', 'debt consolidation', 'small business', 'education', 'medical bills'];
const pick = <T>(a: readonly T[]) => a[Math.floor(Math.random() * a.length)]!;
const between = (lo: number, hi: number) => Math.round(lo + Math.random() * (hi - lo));
let seq = 0;

/**
 * A valid POST /api/loan/request body with a loanId unique in this run. creditScore 520–850 (about
 * a quarter below 600: LOW_CREDIT_SCORE) and amount up to 150,000 against incomes from 18,000 (some
 * above 5 × income: LOAN_TOO_LARGE), so the rules reject a share of them.
 */
function loanRequest() {
  const first = pick(FIRST);
  const last = pick(LAST);
  return {
    loanId: `B-${RUN}-${seq++}`,
    application: {
      name: `${first} ${last}`,
      age: between(18, 80),
      email: `${first}.${last}.${between(1, 1e6)}@example.com`.toLowerCase(),
      phone: `+1 555 ${between(1000000, 9999999)}`,
    },
    amount: between(1, 150) * 1000,
    income: between(18, 250) * 1000,
    creditScore: between(520, 850),
    purpose: pick(PURPOSES),
  };
}

// ── raw driver ceilings ───────────────────────────────────────────────────────────────────────
/** An application document as intake stores it (status scoring, intake fields), for the scratch collection. */
function scratchDoc(): ApplicationDoc {
  const { loanId, application, ...terms } = loanRequest();
  const now = new Date();
  const actor = { id: 'partner:bench', email: 'bench@partners.creditdesk.internal' };
  return {
    _id: newTrackingId(now.getTime()),
    applicant: application,
    ...terms,
    status: 'scoring',
    version: 1,
    createdAt: now,
    updatedAt: now,
    updatedBy: actor,
    createdBy: actor,
    termsChangedBy: actor,
    intake: { partnerId: 'bench', loanId, idempotencyKey: loanId, fingerprint: randomBytes(32).toString('hex') },
  };
}

/** The ceilings on a scratch collection with the applications collection's indexes; dropped afterwards. */
async function driverCeilings(uri: string, dbName: string, from: Collection<ApplicationDoc>): Promise<Ceiling[]> {
  const client = new MongoClient(uri, { maxPoolSize: CONNECTIONS + MANY_CALLERS + 4, appName: 'bench-intake-ceiling' });
  await client.connect();
  const scratch = client.db(dbName).collection<ApplicationDoc>(`bench_scratch_${RUN}`);
  try {
    for (const ix of await from.listIndexes().toArray()) {
      if (ix.name === '_id_') continue;
      const { key, name, unique, sparse, partialFilterExpression } = ix as Record<string, unknown> & { key: Record<string, 1 | -1> };
      await scratch.createIndex(key, {
        name: String(name),
        ...(unique ? { unique: true } : {}),
        ...(sparse ? { sparse: true } : {}),
        ...(partialFilterExpression ? { partialFilterExpression: partialFilterExpression as Record<string, unknown> } : {}),
      });
    }
    const majority = { writeConcern: { w: 'majority' as const } };
    const one = () => scratch.insertOne(scratchDoc(), majority);
    const many = () => scratch.insertMany(Array.from({ length: 100 }, scratchDoc), { ...majority, ordered: false });
    await ceiling('warm-up', CONNECTIONS, 1000, 1, one); // connections, cache
    const out = [
      await ceiling(`insertOne w:majority, ${CONNECTIONS} in flight`, CONNECTIONS, CEILING_MS, 1, one),
      await ceiling(`insertMany ×100 w:majority, ${MANY_CALLERS} in flight`, MANY_CALLERS, CEILING_MS, 100, many),
    ];
    for (const c of out)
      say(
        `ceiling ${c.label}: ${c.docsPerS.toFixed(0)} docs/s (${c.callsPerS.toFixed(0)} calls/s), p50 ${c.p50.toFixed(1)} ms, p99 ${c.p99.toFixed(1)} ms`,
      );
    return out;
  } finally {
    await scratch.drop().catch(() => {});
    await client.close();
  }
}

// ── HTTP loads ────────────────────────────────────────────────────────────────────────────────
interface Submissions {
  row: Row;
  /** Ids of the 202 answers. */
  ids: string[];
  statuses: Record<number, number>;
  /** How long the load ran, in seconds (autocannon's measure). */
  seconds: number;
}

/** POST /api/loan/request with fresh bodies: `rate` per second overall, or as fast as the connections go. */
async function submit(
  url: string,
  key: string,
  target: string,
  o: { connections: number; duration: number; rate?: number },
): Promise<Submissions> {
  const ids: string[] = [];
  const statuses: Record<number, number> = {};
  const { row, result } = await measure('intake', target, {
    url,
    connections: o.connections,
    duration: o.duration,
    ...(o.rate ? { overallRate: o.rate } : {}),
    requests: [
      {
        method: 'POST',
        path: '/api/loan/request',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: JSON.stringify(loanRequest()) }),
        onResponse: (status, body) => {
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status === 202) ids.push((JSON.parse(body) as { id: string }).id);
        },
      },
    ],
  });
  return { row, ids, statuses, seconds: result.duration };
}

/** Every id in applications, and with its approval.requested event in the outbox. */
async function verifyStored(env: Awaited<ReturnType<typeof benchStack>>, ids: string[]) {
  const stored = new Set<string>();
  for (let i = 0; i < ids.length; i += 10_000) {
    const batch = ids.slice(i, i + 10_000);
    for (const d of await env.c.applications.find({ _id: { $in: batch } }, { projection: { _id: 1 } }).toArray()) stored.add(d._id);
  }
  const withEvent = new Set<string>();
  const events = env.mongo.db
    .collection<{ payload: { applicationId?: string } }>('events')
    .find({ type: 'approval.requested' }, { projection: { 'payload.applicationId': 1 } });
  for await (const e of events) if (e.payload.applicationId) withEvent.add(e.payload.applicationId);
  const unique = new Set(ids);
  return {
    acknowledged: ids.length,
    distinct: unique.size,
    stored: [...unique].filter((id) => stored.has(id)).length,
    withEvent: [...unique].filter((id) => withEvent.has(id)).length,
    /** Stored and with its event. */
    complete: [...unique].filter((id) => stored.has(id) && withEvent.has(id)).length,
    missing: [...unique].filter((id) => !stored.has(id) || !withEvent.has(id)).slice(0, 5),
  };
}

/** Waits (bounded) until none of `ids` (or no application at all when ids is undefined) is still in scoring. */
async function untilDecided(env: Awaited<ReturnType<typeof benchStack>>, what: string, ids?: string[]): Promise<boolean> {
  const deadline = Date.now() + DECIDE_DEADLINE_MS;
  let last = Date.now();
  for (;;) {
    const pending = await env.c.applications.countDocuments({ status: 'scoring', ...(ids ? { _id: { $in: ids } } : {}) });
    if (pending === 0) return true;
    if (Date.now() > deadline) {
      say(`${what}: ${pending} still in scoring after ${DECIDE_DEADLINE_MS / 1000} s; giving up waiting`);
      return false;
    }
    if (Date.now() - last > 5000) {
      say(`${what}: ${pending} still in scoring…`);
      last = Date.now();
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => x.toFixed(1);

// ── the run ───────────────────────────────────────────────────────────────────────────────────
say('starting mongod, 3 API instances behind nginx and an approval worker…');
const env = await benchStack({
  label: 'bench-intake',
  // INTAKE_* settings in the bench's environment reach the API instances (to compare group-commit settings).
  env: {
    LOG_LEVEL: 'warn',
    PARTNER_KEY_SECRET,
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('INTAKE_'))),
  },
  // Another node for the API and worker processes, e.g. a wrapper adding --cpu-prof to profile them.
  ...(process.env.BENCH_INTAKE_NODE ? { nodeBin: process.env.BENCH_INTAKE_NODE } : {}),
  workerRoles: ['approval'],
  ...(APPROVAL_CONCURRENCY ? { workerEnv: { WORKER_CONCURRENCY_APPROVAL: APPROVAL_CONCURRENCY } } : {}),
  log: say,
  prepare: async (c) => {
    await createUser(c, { ...ADMIN, role: 'admin' });
  },
});
let code = 0;
try {
  const url = env.stack.url;
  const admin = await login(url, ADMIN.email, ADMIN.password);
  const adminPost = async (path: string, body: unknown) => {
    const r = await fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: admin.cookie, 'x-csrf-token': admin.csrf },
      body: JSON.stringify(body),
    });
    if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as Record<string, string>;
  };
  // The highest rate the API allows, so the partner limit never throttles the bench.
  const partner = await adminPost('/api/partners', { name: `bench-${RUN}`, rateLimitPerSecond: 100_000 });
  const { key } = await adminPost(`/api/partners/${partner.id}/keys`, {});
  say(`stack up at ${url}; partner ${partner.id} with a key (rate limit 100,000/s)`);

  const ceilings = await driverCeilings(env.uri, env.dbName, env.c.applications);
  const [one, many] = ceilings as [Ceiling, Ceiling];

  say(`warm-up: 3 s at ${CONNECTIONS} connections`);
  const warm = await submit(url, key!, 'warm-up', { connections: CONNECTIONS, duration: 3 });
  say(`POST /api/loan/request: ${CONNECTIONS} connections, ${DURATION} s`);
  const burst = await submit(url, key!, `POST /api/loan/request, ${CONNECTIONS} connections`, {
    connections: CONNECTIONS,
    duration: DURATION,
  });
  say(rowLine(burst.row));
  const acked = burst.ids.length / burst.seconds;
  const burstErrors = burst.row.errors + burst.row.non2xx;
  const check = await verifyStored(env, [...warm.ids, ...burst.ids]);
  const allStored = check.complete === check.distinct && check.distinct === check.acknowledged;
  if (!allStored) code = 1;

  say(`waiting for the approval worker to decide the burst's applications (at most ${DECIDE_DEADLINE_MS / 1000} s)…`);
  const drainStart = Date.now();
  const drained = await untilDecided(env, 'burst backlog');
  const drainS = (Date.now() - drainStart) / 1000;

  let e2e:
    | {
        row: Row;
        statuses: Record<number, number>;
        n: number;
        seconds: number;
        decided: number;
        p50: number;
        p95: number;
        p99: number;
        outcomes: Record<string, number>;
      }
    | undefined;
  if (drained) {
    say(`end to end: ${E2E_RATE} req/s for ${E2E_DURATION} s, then until every one is decided`);
    const steady = await submit(url, key!, `POST at ${E2E_RATE}/s (steady)`, {
      connections: CONNECTIONS,
      duration: E2E_DURATION,
      rate: E2E_RATE,
    });
    say(rowLine(steady.row));
    await untilDecided(env, 'steady phase', steady.ids);
    const docs = await env.c.applications
      .find({ _id: { $in: steady.ids } }, { projection: { createdAt: 1, updatedAt: 1, status: 1 } })
      .toArray();
    const decided = docs.filter((d) => d.status !== 'scoring');
    const lat = decided.map((d) => d.updatedAt.getTime() - d.createdAt.getTime()).sort((a, b) => a - b);
    const outcomes: Record<string, number> = {};
    for (const d of decided) outcomes[d.status] = (outcomes[d.status] ?? 0) + 1;
    e2e = {
      row: steady.row,
      n: steady.ids.length,
      seconds: steady.seconds,
      statuses: steady.statuses,
      decided: decided.length,
      p50: percentile(lat, 0.5),
      p95: percentile(lat, 0.95),
      p99: percentile(lat, 0.99),
      outcomes,
    };
  }

  say(`GET /api/loan/request/:id at ${STATUS_RATE} req/s for ${STATUS_DURATION} s`);
  const sample = burst.ids.length ? burst.ids : warm.ids;
  const { row: status } = await measure('intake', `GET /api/loan/request/:id at ${STATUS_RATE}/s`, {
    url,
    connections: 32,
    duration: STATUS_DURATION,
    overallRate: STATUS_RATE,
    requests: [
      {
        method: 'GET',
        headers: { authorization: `Bearer ${key}` },
        setupRequest: (req) => ({ ...req, path: `/api/loan/request/${pick(sample)}` }),
      },
    ],
  });
  say(rowLine(status));

  // ── report ──
  printRows('partner intake through nginx to 3 API instances (autocannon on the same 2 cores; client-side latency)', [
    burst.row,
    ...(e2e ? [e2e.row] : []),
    status,
  ]);
  console.log('\n── driver ceilings on the same mongod (scratch collection, applications indexes) ──');
  for (const c of ceilings)
    console.log(`  ${c.label.padEnd(44)} ${f0(c.docsPerS).padStart(7)} docs/s  p50 ${f1(c.p50)} ms  p99 ${f1(c.p99)} ms`);
  console.log('\n── intake burst ──');
  console.log(
    `  acknowledged (202)      ${burst.ids.length} in ${f1(burst.seconds)} s = ${f0(acked)} req/s; statuses ${JSON.stringify(burst.statuses)}`,
  );
  console.log(`  errors / non-2xx        ${burst.row.errors} / ${burst.row.non2xx}`);
  console.log(`  ratio to insertOne      ×${(acked / one.docsPerS).toFixed(2)} (${f0(one.docsPerS)} docs/s)`);
  console.log(`  ratio to insertMany×100 ×${(acked / many.docsPerS).toFixed(3)} (${f0(many.docsPerS)} docs/s)`);
  console.log(
    `  stored                  ${check.stored}/${check.distinct} ids in applications, ${check.withEvent} with their approval.requested event` +
      `${check.distinct !== check.acknowledged ? `; ${check.acknowledged - check.distinct} ids answered twice` : ''}` +
      `${check.missing.length ? `; missing e.g. ${check.missing.join(', ')}` : ''} (warm-up included)`,
  );
  console.log(
    `  backlog decided in      ${drained ? `${f1(drainS)} s` : `not within ${DECIDE_DEADLINE_MS / 1000} s`} (one approval worker, WORKER_CONCURRENCY_APPROVAL ${APPROVAL_CONCURRENCY ?? 'default'})`,
  );
  if (e2e) {
    console.log('\n── end to end (server timestamps: createdAt → the approval worker’s decision write) ──');
    console.log(
      `  offered ${E2E_RATE} req/s, acknowledged ${f0(e2e.n / e2e.seconds)} req/s for ${f1(e2e.seconds)} s; statuses ${JSON.stringify(e2e.statuses)}`,
    );
    console.log(`  ${e2e.decided}/${e2e.n} decided: ${JSON.stringify(e2e.outcomes)}`);
    console.log(`  submission → decision   p50 ${f0(e2e.p50)} ms  p95 ${f0(e2e.p95)} ms  p99 ${f0(e2e.p99)} ms`);
  }
  console.log('\n── targets ──');
  const targets = [
    [`≥ 2,500 acknowledged req/s at ${CONNECTIONS} connections`, acked >= 2500, `${f0(acked)} req/s`],
    ['p99 < 50 ms', burst.row.p99 < 50, `${f1(burst.row.p99)} ms`],
    ['0 errors', burstErrors === 0, `${burstErrors}`],
    ['≥ 0.5 × insertOne ceiling', acked >= 0.5 * one.docsPerS, `×${(acked / one.docsPerS).toFixed(2)}`],
    ['every 202 stored with its event (else exit 1)', allStored, `${check.complete}/${check.acknowledged}`],
    ['end to end p95 < 200 ms', e2e !== undefined && e2e.decided === e2e.n && e2e.p95 < 200, e2e ? `${f0(e2e.p95)} ms` : 'not measured'],
    ['status GET p95 < 20 ms', status.p95 < 20, `${f1(status.p95)} ms`],
  ] as const;
  for (const [name, ok, got] of targets) console.log(`  ${met(ok).padEnd(8)} ${name.padEnd(44)} ${got}`);
  console.log(
    `BENCH_INTAKE_SUMMARY ${JSON.stringify({
      acknowledgedPerS: acked,
      burst: burst.row,
      statuses: burst.statuses,
      ceilings,
      stored: check,
      e2e,
      status,
    })}`,
  );
  if (code) console.log('\nFAILED: an acknowledged request is missing (see "stored" above)');
} catch (e) {
  say(`failed: ${(e as Error).stack ?? e}`);
  code = 1;
} finally {
  await env.stop();
}
process.exit(code);
