// Starts child processes of the local stack with their logs in .data/logs, waits for readiness,
// and stops them all (SIGTERM, then SIGKILL after a deadline) so nothing is left behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface Child { name: string; proc: ChildProcess; logFile: string }

export class Supervisor {
  private children: Child[] = [];
  private stopping = false;
  constructor(private logDir: string, private onUnexpectedExit: (c: Child, code: number | null) => void) {
    mkdirSync(logDir, { recursive: true });
  }

  spawn(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Child {
    const logFile = join(this.logDir, `${name}.log`);
    const out = createWriteStream(logFile, { flags: 'a' });
    const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.pipe(out);
    proc.stderr!.pipe(out);
    const child = { name, proc, logFile };
    proc.once('exit', (code) => { if (!this.stopping) this.onUnexpectedExit(child, code); });
    this.children.push(child);
    return child;
  }

  /** A TypeScript entry point run with tsx (the same loader the tests use). */
  node(name: string, entry: string, env: NodeJS.ProcessEnv): Child {
    return this.spawn(name, process.execPath, ['--import', 'tsx', entry], env);
  }

  async stopAll(timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    await Promise.all(this.children.reverse().map((c) => new Promise<void>((res) => {
      if (c.proc.exitCode !== null || c.proc.signalCode !== null) return res();
      const t = setTimeout(() => c.proc.kill('SIGKILL'), timeoutMs);
      c.proc.once('exit', () => { clearTimeout(t); res(); });
      c.proc.kill('SIGTERM');
    })));
  }
}

export async function waitForHttp(url: string, timeoutMs: number, isAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return;
    } catch { /* not up yet */ }
    if (!isAlive()) throw new Error(`${url}: the process exited during start-up`);
    if (Date.now() > deadline) throw new Error(`${url} did not become ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
