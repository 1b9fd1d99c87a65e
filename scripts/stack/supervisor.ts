// Runs the local stack's child processes and keeps them running (npm start, tests, load tests).
//
// Every child runs in its own process group: a terminal's Ctrl-C reaches only the process that
// owns the supervisor (which decides the stop order), and when a child's main process ends, what
// it left behind in its group (nginx's worker processes, a worker's tesseract) is killed with it.
// On Linux each child is started through `setpriv --pdeathsig SIGTERM`, so the kernel sends it
// SIGTERM if the owner dies (even by SIGKILL): nothing is left running. Output goes to
// <logDir>/<name>.log.
//
// With a restart policy, a child that exits without being asked to is restarted after a backoff
// (baseDelayMs, doubling per exit inside the crash-loop window, capped at maxDelayMs). A child
// counts as up once its readiness URL answers 2xx (at once when it has none). A child that exits
// `crashLoopExits` times within `crashLoopWindowMs` is crash-looping: the supervisor reports it
// with the last lines of its log ('crash-loop' event) and stops everything. Without a policy an
// exit is only recorded (tests that kill an instance to watch nginx route around it).
//
// stopAll() stops the children group by group in the reverse order of start (nginx before what
// it fronts): each child's stop signal, SIGKILL for its whole group after the deadline.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { dieWithParent } from './parent-death.js';

export interface RestartPolicy {
  /** Delay before the first restart; doubles for every further exit within the crash-loop window. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** This many exits of one child within crashLoopWindowMs stop everything. */
  crashLoopExits: number;
  crashLoopWindowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { baseDelayMs: 250, maxDelayMs: 10_000, crashLoopExits: 5, crashLoopWindowMs: 60_000 };

export interface SpawnOptions {
  stopSignal?: NodeJS.Signals;
  cwd?: string;
  /** Children of one group (e.g. the API instances and the workers) stop together, in parallel. */
  group?: string;
  /** The child is up once this URL answers 2xx; without it, as soon as it is spawned. */
  readyUrl?: string;
  readyTimeoutMs?: number;
}

/**
 * starting: spawned, readiness not yet seen · up · restarting: exited, waiting out the backoff ·
 * stopping/stopped: asked to stop · exited: exited, not restarted (no policy) · failed: exited
 * before its first readiness, or crash-looped.
 */
export type ChildState = 'starting' | 'up' | 'restarting' | 'stopping' | 'stopped' | 'exited' | 'failed';

/** One supervised child. The object stays the same across restarts; `proc` is the current process. */
export interface Child {
  readonly name: string;
  readonly logFile: string;
  readonly stopSignal: NodeJS.Signals;
  readonly group: string;
  readonly proc: ChildProcess;
  readonly pid: number | undefined;
  readonly state: ChildState;
  /** How often it was restarted. */
  readonly restarts: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  expected: boolean;
}

interface SupervisorEvents {
  /** A child (re)started and passed its readiness check. */
  up: [Child];
  /** A child's process exited (emitted before the supervisor restarts it or gives up). */
  exit: [Child, ExitInfo];
  /** A child crash-looped; the supervisor is stopping everything. */
  'crash-loop': [Child, string];
}

export interface SupervisorOptions {
  restart?: RestartPolicy;
  /** Progress lines: restarts, crash loops, the ordered stop. */
  log?: (m: string) => void;
  /** How long a child may take to stop after its stop signal before its group is SIGKILLed. */
  stopTimeoutMs?: number;
}

interface Spec {
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  opts: SpawnOptions;
}

class Supervised implements Child {
  proc!: ChildProcess;
  state: ChildState = 'starting';
  restarts = 0;
  everUp = false;
  /** Times of recent exits (crash-loop window). */
  exits: number[] = [];
  timer: NodeJS.Timeout | undefined;
  readonly firstUp: Promise<void>;
  settleFirstUp!: (err?: Error) => void;
  constructor(
    readonly name: string,
    readonly logFile: string,
    readonly spec: Spec,
  ) {
    this.firstUp = new Promise((res, rej) => {
      this.settleFirstUp = (err) => (err ? rej(err) : res());
    });
    this.firstUp.catch(() => {}); // awaited by whoever starts the stack; never an unhandled rejection
  }
  get stopSignal(): NodeJS.Signals {
    return this.spec.opts.stopSignal ?? 'SIGTERM';
  }
  get group(): string {
    return this.spec.opts.group ?? this.name;
  }
  get pid(): number | undefined {
    return this.proc.pid;
  }
  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }
}

/** Signals a child's whole process group (it leads its own group); ignores a group already gone. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
/** Last resort when the owner exits without stopping its children (uncaught error, process.exit). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) signalGroup(p.pid, 'SIGKILL');
  });
}

const describeExit = (code: number | null, signal: NodeJS.Signals | null) => (signal ? `signal ${signal}` : `code ${code}`);
const seconds = (ms: number) => `${+(ms / 1000).toFixed(1)} s`;

export class Supervisor extends EventEmitter<SupervisorEvents> {
  private children: Supervised[] = [];
  private stopping: Promise<void> | undefined;
  private readonly policy: RestartPolicy | undefined;
  private readonly log: (m: string) => void;
  private readonly stopTimeoutMs: number;

  constructor(
    private logDir: string,
    o: SupervisorOptions = {},
  ) {
    super();
    this.policy = o.restart;
    this.log = o.log ?? (() => {});
    this.stopTimeoutMs = o.stopTimeoutMs ?? 15_000;
    mkdirSync(logDir, { recursive: true });
    installExitHook();
  }

  /** Starts a child. Output goes straight to its log file (no copying through this process). */
  spawn(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: SpawnOptions = {}): Child {
    if (this.stopping) throw new Error(`cannot start ${name}: the supervisor is stopping`);
    if (this.children.some((c) => c.name === name)) throw new Error(`a child named ${name} already exists`);
    const child = new Supervised(name, join(this.logDir, `${name}.log`), { cmd, args, env: { ...process.env, ...env }, opts });
    this.children.push(child);
    this.launch(child);
    return child;
  }

  /** A TypeScript entry point run with tsx (the same loader the tests use); `nodeBin` picks another Node. */
  node(name: string, entry: string, env: NodeJS.ProcessEnv, opts: SpawnOptions & { nodeBin?: string | undefined } = {}): Child {
    return this.spawn(name, opts.nodeBin ?? process.execPath, ['--import', 'tsx', entry], env, opts);
  }

  get list(): readonly Child[] {
    return this.children;
  }

  /** The child with this name (its current process is `.proc`, `.pid`). */
  child(name: string): Child {
    const c = this.children.find((x) => x.name === name);
    if (!c) throw new Error(`no child named ${name}`);
    return c;
  }

  /** Resolves when the child's first start passed its readiness check; rejects when it exited or timed out first. */
  whenUp(c: Child): Promise<void> {
    return this.own(c).firstUp;
  }

  /** Stops one child (e.g. to drain an instance); it is not restarted. */
  async stopOne(c: Child, timeoutMs = this.stopTimeoutMs): Promise<number | null> {
    return (await this.stopChild(this.own(c), timeoutMs)).code;
  }

  /** Stops everything, group by group (idempotent: a second call waits for the first). */
  stopAll(timeoutMs = this.stopTimeoutMs): Promise<void> {
    this.stopping ??= this.stopGroups(timeoutMs);
    return this.stopping;
  }

  private own(c: Child): Supervised {
    const s = this.children.find((x) => x === c);
    if (!s) throw new Error(`${c.name} is not supervised here`);
    return s;
  }

  private launch(c: Supervised): void {
    const { cmd, args, env, opts } = c.spec;
    const fd = openSync(c.logFile, 'a');
    let proc: ChildProcess;
    try {
      const [file, argv] = dieWithParent(cmd, args);
      proc = spawn(file, argv, { env, cwd: opts.cwd, stdio: ['ignore', fd, fd], detached: true });
    } finally {
      closeSync(fd);
    }
    c.proc = proc;
    c.state = 'starting';
    live.add(proc);
    proc.once('error', (e) => {
      if (proc.pid === undefined) this.onExit(c, proc, 127, null, e.message);
    });
    proc.once('exit', (code, signal) => this.onExit(c, proc, code, signal));
    if (!opts.readyUrl) {
      this.markUp(c, proc);
      return;
    }
    waitForHttp(opts.readyUrl, opts.readyTimeoutMs ?? 60_000, () => c.proc === proc && c.running).then(
      () => this.markUp(c, proc),
      (e: Error) => {
        if (c.proc !== proc || !c.running || c.state !== 'starting') return; // its exit is handled in onExit
        if (!c.everUp) {
          c.state = 'failed';
          c.settleFirstUp(e);
        } else this.log(`${c.name} did not become ready (${e.message}); killing it`);
        signalGroup(proc.pid, 'SIGKILL');
      },
    );
  }

  private markUp(c: Supervised, proc: ChildProcess): void {
    if (c.proc !== proc || c.state !== 'starting') return;
    c.state = 'up';
    if (c.everUp) this.log(`${c.name} is up again (pid ${proc.pid}, restart ${c.restarts})`);
    c.everUp = true;
    c.settleFirstUp();
    this.emit('up', c);
  }

  private onExit(c: Supervised, proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null, error?: string): void {
    if (!live.delete(proc) || c.proc !== proc) return;
    signalGroup(proc.pid, 'SIGKILL'); // whatever it left behind in its group
    const expected = c.state === 'stopping' || c.state === 'stopped' || this.stopping !== undefined;
    this.emit('exit', c, { code, signal, expected });
    if (expected) {
      c.state = 'stopped';
      return;
    }
    const how = error ?? describeExit(code, signal);
    if (!c.everUp) {
      c.state = 'failed';
      c.settleFirstUp(new Error(`exited during start-up (${how})`));
      return;
    }
    if (!this.policy) {
      c.state = 'exited';
      this.log(`${c.name} exited (${how})`);
      return;
    }
    const p = this.policy;
    const now = performance.now();
    c.exits = [...c.exits.filter((t) => now - t < p.crashLoopWindowMs), now];
    if (c.exits.length >= p.crashLoopExits) {
      c.state = 'failed';
      this.crashLoop(c, how);
      return;
    }
    const delay = Math.min(p.baseDelayMs * 2 ** (c.exits.length - 1), p.maxDelayMs);
    c.restarts++;
    c.state = 'restarting';
    this.log(`${c.name} exited (${how}); restarting in ${delay} ms, restart ${c.restarts}`);
    c.timer = setTimeout(() => {
      c.timer = undefined;
      if (c.state !== 'restarting' || this.stopping) return;
      try {
        this.launch(c);
      } catch (e) {
        c.state = 'failed';
        this.giveUp(c, `${c.name} cannot be restarted (${(e as Error).message}); stopping everything.`);
      }
    }, delay);
  }

  private crashLoop(c: Supervised, how: string): void {
    const p = this.policy!;
    this.giveUp(
      c,
      `${c.name} is crash-looping: ${p.crashLoopExits} exits within ${seconds(p.crashLoopWindowMs)} (last: ${how}); stopping everything.`,
    );
  }

  /** Reports a child the supervisor gives up on, with the end of its log, and stops everything. */
  private giveUp(c: Supervised, why: string): void {
    const message = `${why} Last lines of ${c.logFile}:\n${tail(c.logFile, 20)}`;
    this.log(message);
    this.emit('crash-loop', c, message);
    void this.stopAll();
  }

  private async stopGroups(timeoutMs: number): Promise<void> {
    const order = [...this.children].reverse();
    while (order.length) {
      const group = order[0]!.group;
      const batch: Supervised[] = [];
      while (order.length && order[0]!.group === group) batch.push(order.shift()!);
      const running = batch.filter((c) => c.running).reverse();
      for (const c of batch)
        if (!c.running && c.state !== 'failed' && c.state !== 'exited') {
          clearTimeout(c.timer);
          c.state = 'stopped';
        }
      if (running.length === 0) continue;
      const signals = [...new Set(running.map((c) => c.stopSignal))].join('/');
      this.log(`stopping ${running.map((c) => c.name).join(', ')} (${signals}; SIGKILL after ${seconds(timeoutMs)})`);
      const results = await Promise.all(running.map((c) => this.stopChild(c, timeoutMs)));
      const killed = running.filter((_, i) => results[i]!.killed).map((c) => c.name);
      if (killed.length) this.log(`${killed.join(', ')} did not stop within ${seconds(timeoutMs)}: killed`);
    }
  }

  private stopChild(c: Supervised, timeoutMs: number): Promise<{ code: number | null; killed: boolean }> {
    clearTimeout(c.timer);
    const proc = c.proc;
    if (!c.running) {
      if (c.state !== 'failed' && c.state !== 'exited') c.state = 'stopped';
      return Promise.resolve({ code: proc.exitCode, killed: false });
    }
    c.state = 'stopping';
    return new Promise((res) => {
      let killed = false;
      const t = setTimeout(() => {
        killed = true;
        signalGroup(proc.pid, 'SIGKILL');
      }, timeoutMs);
      proc.once('exit', (code) => {
        clearTimeout(t);
        res({ code, killed });
      });
      proc.kill(c.stopSignal); // the main process only: it stops its own children its own way
    });
  }
}

/** The last `n` lines of a (possibly large) log file. */
export function tail(file: string, n: number): string {
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      return buf
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .slice(-n)
        .map((l) => `  | ${l}`)
        .join('\n');
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return `  (cannot read ${file}: ${(e as Error).message})`;
  }
}

/**
 * One GET on its own connection, closed afterwards. (fetch would keep the connection in its pool,
 * and an idle connection from the launcher holds a draining API instance open until its deadline.)
 */
function probe(url: string): Promise<number> {
  return new Promise((res, rej) => {
    const req = httpGet(url, { agent: false, headers: { connection: 'close' }, timeout: 1000 }, (r) => {
      r.resume();
      res(r.statusCode ?? 0);
    });
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
    } catch {
      /* not up yet */
    }
    if (!isAlive()) throw new Error(`${url}: the process exited during start-up`);
    if (Date.now() > deadline) throw new Error(`${url} did not become ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
