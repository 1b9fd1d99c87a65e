// The real local topology for tests, started by the launcher's own startStack: N API processes
// (server/main.ts) + Debian nginx rendered from the canonical nginx.conf, optionally one worker
// process per role and a restart policy (as `npm start` runs it), on free loopback ports, against
// the test's own database.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortRange, freePorts } from '../../scripts/stack/ports.js';
import { startStack, type Stack, type StackOptions } from '../../scripts/stack/stack.js';
import { generateSecret } from '../../lib/webhooks/standard-webhooks.js';
import type { TestDb } from './db.js';
import { TEST_PARTNER_SECRET, TEST_SECRET } from './env.js';

export { freePort, freePortRange, freePorts } from '../../scripts/stack/ports.js';

export interface TestStackOptions extends Pick<StackOptions, 'workerRoles' | 'restart' | 'log'> {
  /** Run the credit-bureau simulator for the approval worker in this mode (default: no bureau, declared figures only). */
  bureau?: { mode: 'sync' | 'async' };
  /** API processes (default 3). */
  instances?: number;
  /** Added to the API and worker processes' environment (default LOG_LEVEL=info, NODE_ENV=test). */
  env?: Record<string, string>;
}

export interface TestStack extends Stack {
  runDir: string;
  accessLog: string;
  /** Worker i (of workerRoles) serves /health and /metrics on this port + i. */
  workerHttpBasePort: number | undefined;
}

export async function testStack(t: TestDb, opts: TestStackOptions = {}): Promise<TestStack> {
  const [nginxPort, bureauPort, ...apiPorts] = await freePorts((opts.instances ?? 3) + 2);
  const workerHttpBasePort = opts.workerRoles?.length ? await freePortRange(opts.workerRoles.length) : undefined;
  const runDir = mkdtempSync(join(tmpdir(), 'creditdesk-stack-'));
  const stack = await startStack({
    mongoUri: t.uri,
    dbName: t.dbName,
    sessionSecrets: TEST_SECRET,
    partnerKeySecrets: TEST_PARTNER_SECRET,
    apiPorts,
    nginxPort: nginxPort!,
    runDir,
    workerRoles: opts.workerRoles,
    workerHttpBasePort,
    restart: opts.restart,
    log: opts.log,
    env: { LOG_LEVEL: 'info', NODE_ENV: 'test', ...opts.env },
    ...(opts.bureau ? { bureau: { port: bureauPort!, webhookSecret: generateSecret(), mode: opts.bureau.mode } } : {}),
  }).catch((e: unknown) => {
    rmSync(runDir, { recursive: true, force: true });
    throw e;
  });
  return {
    ...stack,
    runDir,
    accessLog: join(runDir, 'nginx', 'access.log'),
    workerHttpBasePort,
    async stop() {
      await stack.stop();
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}

export interface LoadResult<T> {
  ok: T[];
  statuses: number[];
  errors: string[];
}

/**
 * A bounded load: at most `count` calls of `fn`, `concurrency` at a time, and none started after
 * `maxMs`. `fn` returns [status, value]; a thrown error (reset, refused) is recorded as status 0.
 */
export async function boundedLoad<T>(
  o: { count: number; concurrency: number; maxMs: number; onProgress?: (done: number) => void },
  fn: (i: number) => Promise<[number, T]>,
): Promise<LoadResult<T>> {
  const deadline = Date.now() + o.maxMs;
  const r: LoadResult<T> = { ok: [], statuses: [], errors: [] };
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < o.count && Date.now() < deadline) {
      const i = next++;
      try {
        const [status, value] = await fn(i);
        r.statuses.push(status);
        if (status >= 200 && status < 300) r.ok.push(value);
      } catch (e) {
        r.statuses.push(0);
        r.errors.push(String((e as Error & { cause?: Error }).cause?.message ?? (e as Error).message));
      }
      o.onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, lane));
  return r;
}

/** How often each status occurs. */
export function countBy(xs: number[]): Record<number, number> {
  const m: Record<number, number> = {};
  for (const x of xs) m[x] = (m[x] ?? 0) + 1;
  return m;
}
