// Real worker processes (workers/main.ts), the payment-gateway simulator process, and polling
// waits (a wait is bounded by a generous deadline; no assertion depends on how long it took).
import { spawn, type ChildProcess } from 'node:child_process';
import type { TestDb } from './db.js';

export interface Proc { proc: ChildProcess; output(): string; stop(signal?: NodeJS.Signals): Promise<number | null>; exited(): Promise<number | null> }

const live = new Set<ChildProcess>();
process.once('exit', () => { for (const p of live) p.kill('SIGKILL'); });

/** For a test file's after(): kills whatever a failed test left running (so the file can exit). */
export async function killLeftovers(): Promise<void> {
  await Promise.all([...live].map((p) => new Promise<void>((res) => { p.once('exit', () => res()); p.kill('SIGKILL'); })));
}

function track(proc: ChildProcess): Proc {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const exit = new Promise<number | null>((res) => proc.once('exit', (code, sig) => res(code ?? (sig ? 128 : null))));
  return {
    proc, output: () => out, exited: () => exit,
    stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exit;
    },
  };
}

export function workerEnv(t: TestDb, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MONGO_URI: t.uri, MONGO_DB: t.dbName, LOG_LEVEL: 'info', NODE_ENV: 'test',
    WORKER_POLL_MS: '200', WORKER_BACKOFF_BASE_MS: '100', WORKER_BACKOFF_CAP_MS: '1000', ...extra,
  };
}

/** Spawns `workers/main.ts <roles>` and resolves once it logged that it started. */
export async function spawnWorker(t: TestDb, roles: string, extra: Record<string, string> = {}): Promise<Proc> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts', roles], {
    env: { ...process.env, ...workerEnv(t, { INSTANCE_ID: `w-${roles}-${Math.random().toString(36).slice(2, 7)}`, ...extra }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p = track(proc);
  await waitFor(() => p.output().includes('worker started'), `worker ${roles} to start`, 60_000, () => proc.exitCode === null ? null : p.output());
  return p;
}

export interface Gateway extends Proc { url: string; payments(): Promise<Array<{ key: string; paymentId: string; requests: number }>>; held(): Promise<number>; setHold(h: boolean): Promise<void> }

export async function spawnGateway(extra: Record<string, string> = {}): Promise<Gateway> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/simulators/payment-gateway.ts', '0'], {
    env: { ...process.env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p = track(proc);
  await waitFor(() => /listening on (http:\/\/\S+)/.test(p.output()), 'gateway to listen', 30_000, () => proc.exitCode === null ? null : p.output());
  const url = /listening on (http:\/\/\S+)/.exec(p.output())![1]!;
  const get = async (path: string) => (await fetch(url + path)).json() as Promise<any>;
  return {
    ...p, url,
    payments: async () => (await get('/payments')).items,
    held: async () => (await get('/control/held')).held,
    setHold: async (hold) => { await fetch(`${url}/control/hold`, { method: 'POST', body: JSON.stringify({ hold }) }); },
  };
}

/** Polls `check` until it returns something truthy; fails with `what` (and diagnostics) at the deadline. */
export async function waitFor<T>(
  check: () => T | Promise<T>, what: string, timeoutMs = 60_000, diagnose: () => string | null = () => null,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    const dead = diagnose();
    if (dead !== null) throw new Error(`gave up waiting for ${what}: the process exited\n${dead}`);
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Multipart upload of one file as the logged-in client (cookie + CSRF), like a browser form. */
export async function uploadAs(
  cl: { baseUrl: string; cookie: string; csrf: string }, applicationId: string, data: Buffer,
  opts: { filename?: string; type?: string; field?: string; csrf?: boolean } = {},
): Promise<{ status: number; body: any }> {
  const form = new FormData();
  form.append(opts.field ?? 'file', new Blob([new Uint8Array(data)], { type: opts.type ?? 'image/png' }), opts.filename ?? 'document.png');
  const headers: Record<string, string> = { cookie: cl.cookie };
  if (opts.csrf !== false) headers['x-csrf-token'] = cl.csrf;
  const r = await fetch(`${cl.baseUrl}/api/applications/${applicationId}/documents`, { method: 'POST', headers, body: form });
  const text = await r.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, body };
}
