// The one per-file setup: `const f = fixture('label', { api: true })` at the top of a test file
// (or of a describe block) registers node:test before/after hooks. before(): a fresh migrated
// database (f.t), and on request the API in-process (f.api) or N API processes behind nginx
// (f.stack). after(): the file's own f.after() steps, every child process, in-process workers and
// APIs, the stack, then the database is dropped — in that order, also when a test failed.
//
// A file's own setup goes in f.before(), not node:test's before(): at a file's top level node:test
// starts each before() hook as it is registered, without waiting for the ones before it.
import { after, before } from 'node:test';
import { parseEnv, serverSchema, workerSchema } from '../../lib/config.js';
import type { Role } from '../../lib/domain/users/types.js';
import { startApi, type RunningApi } from '../../server/start.js';
import { startWorkers, type RunningWorkers } from '../../workers/start.js';
import { gatewayProcess, serverProcess, workerProcess, type Gateway, type ServerProc } from './app-processes.js';
import { type Bureau, bureauProcess } from './bureau.js';
import { silentLog, testDb, type TestDb } from './db.js';
import { apiEnv, workerEnv } from './env.js';
import type { Client } from './http.js';
import { createProcesses, type Proc, type Processes } from './processes.js';
import { testStack, type TestStack, type TestStackOptions } from './stack.js';
import { loggedIn, testUser, type TestUser } from './users.js';

export interface FixtureOptions {
  /** Run the migrations on the fresh database (default true). */
  migrate?: boolean;
  /** The real API wiring (startApi) in this process on a free port; an object adds settings. */
  api?: boolean | Record<string, string>;
  /** N API processes behind real nginx (tests/helpers/stack.ts). */
  stack?: TestStackOptions;
}

export interface Fixture {
  /** The test's database, with a process context (`f.t.ctx`) for calling use cases directly. */
  readonly t: TestDb;
  /** The in-process API ({ api: true }). */
  readonly api: RunningApi;
  /** The API processes behind nginx ({ stack }). */
  readonly stack: TestStack;
  /** Where clients go: the stack's nginx, else the in-process API. */
  readonly url: string;
  /** This file's child processes (stopped in after()). */
  readonly procs: Processes;
  /** A new user with `role` (a unique email unless given) and the test password. */
  user(role: Role, email?: string): Promise<TestUser>;
  /** A new user with `role`, logged in through `url` (default f.url); the client knows its email and role. */
  client(role: Role, url?: string): Promise<Client>;
  /** Another in-process API with other settings; stopped in after(). */
  startApi(env?: Record<string, string>): Promise<RunningApi>;
  /** The real worker wiring (startWorkers) in this process; stopped in after(). */
  startWorkers(env: Record<string, string>): Promise<RunningWorkers>;
  /** A server/main.ts process on `port`. */
  server(port: number, env?: Record<string, string>): Promise<ServerProc>;
  /** A workers/main.ts process for `roles`. */
  worker(roles: string, env?: Record<string, string>): Promise<Proc>;
  /** The payment-gateway simulator process. */
  gateway(): Promise<Gateway>;
  /**
   * The credit-bureau simulator process (`env`: its BUREAU_SIM_* start settings). Workers started
   * with f.worker('approval') have no bureau (BUREAU_URL unset: declared figures only) unless given
   * `{ BUREAU_URL: bureau.url }`.
   */
  bureau(env?: Record<string, string>): Promise<Bureau>;
  /** The file's own setup: a before() hook that runs once the fixture's setup is done. */
  before(fn: () => unknown): void;
  /** The file's own cleanup: runs in after(), before the fixture's own cleanup (last registered first). */
  after(fn: () => unknown): void;
}

export function fixture(label: string, opts: FixtureOptions = {}): Fixture {
  let t: TestDb | undefined;
  let api: RunningApi | undefined;
  let stack: TestStack | undefined;
  const procs = createProcesses(label);
  const deferred: Array<() => unknown> = [];
  const inProcess: Array<{ stop(): Promise<void> }> = [];
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`fixture('${label}'): no ${what} (not requested in the options, or used outside a test or hook)`);
    return v;
  };

  const f: Fixture = {
    get t() {
      return need(t, 'database');
    },
    get api() {
      return need(api, 'in-process API');
    },
    get stack() {
      return need(stack, 'stack');
    },
    get url() {
      return need(stack?.url ?? api?.url, 'API');
    },
    procs,
    user: (role, email) => testUser(f.t, role, email),
    client: async (role, url) => loggedIn(url ?? f.url, await f.user(role)),
    async startApi(env = {}) {
      const a = await startApi(parseEnv(serverSchema, apiEnv(f.t, { PORT: '0', SHUTDOWN_TIMEOUT_MS: '100', ...env })), silentLog);
      inProcess.push(a);
      return a;
    },
    async startWorkers(env) {
      const w = await startWorkers(parseEnv(workerSchema, workerEnv(f.t, { LOG_LEVEL: 'silent', ...env })), silentLog);
      inProcess.push(w);
      return w;
    },
    server: (port, env) => serverProcess(procs, f.t, port, env),
    worker: (roles, env) => workerProcess(procs, f.t, roles, env),
    gateway: () => gatewayProcess(procs),
    bureau: (env) => bureauProcess(procs, env),
    before: (fn) => {
      before(async () => {
        await start();
        await fn();
      });
    },
    after: (fn) => {
      deferred.push(fn);
    },
  };

  let started: Promise<void> | undefined;
  /** The fixture's setup, once, whichever hook asks first. */
  const start = () =>
    (started ??= (async () => {
      t = await testDb(label, { migrate: opts.migrate });
      if (opts.api) api = await f.startApi(opts.api === true ? {} : opts.api);
      if (opts.stack) stack = await testStack(t, opts.stack);
    })());
  before(start);

  after(async () => {
    await started?.catch(() => {}); // a failed setup: clean up what it made
    const errors: unknown[] = [];
    const step = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    };
    for (const stop of deferred.splice(0).reverse()) await step(stop);
    await step(() => procs.stopAll());
    for (const s of inProcess.splice(0).reverse()) await step(() => s.stop());
    if (stack) await step(() => stack!.stop());
    if (t) await step(() => t!.close());
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `fixture('${label}'): ${errors.length} cleanup steps failed`);
  });

  return f;
}
