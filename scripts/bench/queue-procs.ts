// Child processes for the queue benchmark: spawn with env, wait for "ready", stop all.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** `nodeArgs` go before the script (e.g. --cpu-prof); `onStderr` receives stderr instead of this process's. */
export async function spawnReady(
  script: string,
  env: Record<string, string>,
  o: { nodeArgs?: string[]; onStderr?: (chunk: string) => void } = {},
): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), '--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', o.onStderr ? 'pipe' : 'inherit'],
  });
  if (o.onStderr) proc.stderr!.on('data', (d: Buffer) => o.onStderr!(String(d)));
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  const deadline = Date.now() + 30_000;
  while (!out.includes('ready\n')) {
    if (proc.exitCode !== null) throw new Error(`${script} exited with ${proc.exitCode}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${script} did not start within 30 s`);
    }
    await sleep(25);
  }
  return proc;
}

export async function stopAll(procs: ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((res) => {
          if (p.exitCode !== null || p.signalCode !== null) return res();
          const force = setTimeout(() => p.kill('SIGKILL'), 10_000);
          p.once('exit', () => {
            clearTimeout(force);
            res();
          });
          p.kill('SIGTERM');
        }),
    ),
  );
}

/** Polls count() until it reaches n or timeoutMs passes; returns the count and the time it took. */
export async function waitCount(
  count: () => Promise<number>,
  n: number,
  t0: number,
  timeoutMs: number,
): Promise<{ done: number; ms: number }> {
  let done = 0;
  while (Date.now() - t0 < timeoutMs) {
    done = await count();
    if (done >= n) break;
    await sleep(250);
  }
  return { done, ms: Date.now() - t0 };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
