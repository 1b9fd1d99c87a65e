// Helpers for queue and lock tests: bounded waiting and real child processes (kill -9 included).
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** Polls cond every intervalMs until it returns a truthy value; throws after timeoutMs. */
export async function waitFor<T>(what: string, cond: () => Promise<T> | T, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (let i = 0; i < 100_000; i++) {
    last = await cond();
    if (last) return last;
    if (Date.now() > deadline) break;
    await sleep(opts.intervalMs ?? 50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

export interface Child { proc: ChildProcess; output(): string; exited: Promise<number | null>; kill(signal?: NodeJS.Signals): Promise<number | null> }

/** Spawns `node --import tsx <script>` with env; resolves once the child prints readyLine. */
export async function spawnFixture(script: string, env: Record<string, string>, readyLine = 'ready'): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((res) => proc.once('exit', (code, sig) => res(code ?? (sig ? -1 : null))));
  const child: Child = {
    proc, output: () => out, exited,
    async kill(signal = 'SIGTERM') { if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal); return exited; },
  };
  try {
    await waitFor(`${script} to print "${readyLine}"`, () => {
      if (proc.exitCode !== null) throw new Error(`${script} exited with ${proc.exitCode}: ${out}`);
      return out.split('\n').includes(readyLine);
    }, { timeoutMs: 30_000, intervalMs: 25 });
  } catch (e) {
    await child.kill('SIGKILL');
    throw e;
  }
  return child;
}
