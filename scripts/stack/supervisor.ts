// Starts child processes of the local stack with their logs in a directory, waits for readiness,
// and stops them all (their stop signal, then SIGKILL after a deadline) so nothing is left behind,
// in the reverse order of start (nginx before the API, the API before MongoDB).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';

export interface Child { name: string; proc: ChildProcess; logFile: string; stopSignal: NodeJS.Signals; group: string }
/** `group`: children of one group (e.g. the API instances) are stopped together, in parallel. */
export interface SpawnOptions { stopSignal?: NodeJS.Signals; cwd?: string; group?: string }

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
/** Last resort when the parent dies without stopping its children (uncaught error, process.exit). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => { for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL'); });
}

export class Supervisor {
  private children: Child[] = [];
  private stopping = false;
  constructor(private logDir: string, private onUnexpectedExit: (c: Child, code: number | null) => void = () => {}) {
    mkdirSync(logDir, { recursive: true });
    installExitHook();
  }

  /** Output goes straight to the log file (no copying through this process). */
  spawn(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: SpawnOptions = {}): Child {
    const logFile = join(this.logDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd], cwd: opts.cwd });
    closeSync(fd);
    const child: Child = { name, proc, logFile, stopSignal: opts.stopSignal ?? 'SIGTERM', group: opts.group ?? name };
    live.add(proc);
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      // Ctrl-C signals the whole process group: a child (possibly still loading, before its own
      // handlers exist) can die of SIGINT before our own SIGINT handler has started stopping.
      // Judge a signal death a moment later, once our handler had its turn.
      if (signal === 'SIGINT' || signal === 'SIGTERM') setTimeout(() => { if (!this.stopping) this.onUnexpectedExit(child, code); }, 300);
      else if (!this.stopping) this.onUnexpectedExit(child, code);
    });
    this.children.push(child);
    return child;
  }

  /** A TypeScript entry point run with tsx (the same loader the tests use); `nodeBin` picks another Node. */
  node(name: string, entry: string, env: NodeJS.ProcessEnv, opts: SpawnOptions & { nodeBin?: string } = {}): Child {
    return this.spawn(name, opts.nodeBin ?? process.execPath, ['--import', 'tsx', entry], env, opts);
  }

  get list(): readonly Child[] { return this.children; }

  /** Stops one child (e.g. to drain an instance) without reporting it as unexpected. */
  async stopOne(c: Child, timeoutMs = 15_000, signal: NodeJS.Signals = c.stopSignal): Promise<number | null> {
    this.children = this.children.filter((x) => x !== c);
    return stopProcess(c.proc, signal, timeoutMs);
  }

  async stopAll(timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    const order = [...this.children].reverse();
    this.children = [];
    // Group by group: what was spawned later (the front) stops before what it depends on.
    while (order.length) {
      const group = order[0]!.group;
      const batch: Child[] = [];
      while (order.length && order[0]!.group === group) batch.push(order.shift()!);
      await Promise.all(batch.map((c) => stopProcess(c.proc, c.stopSignal, timeoutMs)));
    }
  }
}

export function stopProcess(proc: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<number | null> {
  return new Promise((res) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return res(proc.exitCode);
    const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('exit', (code) => { clearTimeout(t); res(code); });
    proc.kill(signal);
  });
}

/**
 * One GET on its own connection, closed afterwards. (fetch would keep the connection in its pool,
 * and an idle connection from the launcher holds a draining API instance open until its deadline.)
 */
function probe(url: string): Promise<number> {
  return new Promise((res, rej) => {
    const req = httpGet(url, { agent: false, headers: { connection: 'close' }, timeout: 1000 }, (r) => { r.resume(); res(r.statusCode ?? 0); });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', rej);
  });
}

export async function waitForHttp(url: string, timeoutMs: number, isAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const status = await probe(url);
      if (status >= 200 && status < 300) return;
    } catch { /* not up yet */ }
    if (!isAlive()) throw new Error(`${url}: the process exited during start-up`);
    if (Date.now() > deadline) throw new Error(`${url} did not become ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
