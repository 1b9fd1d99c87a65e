// Real child processes for tests, run by the launcher's own Supervisor (scripts/stack/supervisor.ts)
// without a restart policy: an exit is recorded, never restarted. Each child logs to
// <dir>/logs/<name>.log (output() reads it), runs in its own process group (what it leaves behind
// dies with it) and gets SIGTERM from the kernel if the test process dies. processes() stops them
// all in after(), also when a test failed or a before() hook threw.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { Supervisor, tail, type Child } from '../../scripts/stack/supervisor.js';
import { waitFor } from './wait.js';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  /** Arguments after the entry point. */
  args?: string[];
  /** Ready once the output contains this text (or matches this pattern). */
  readyLine?: string | RegExp;
  /** Ready once this URL answers 2xx (the supervisor's readiness check). */
  readyUrl?: string;
  /** How long it may take to get ready (default 60 s). */
  timeoutMs?: number;
}

/** How long a stop signal may take before the child's group is SIGKILLed (above the apps' SHUTDOWN_TIMEOUT_MS of 10 s). */
const STOP_TIMEOUT_MS = 30_000;
/** At teardown nothing needs a graceful drain: a short deadline, then SIGKILL. */
const TEARDOWN_TIMEOUT_MS = 5000;

const describeExit = (e: Exit) => (e.signal ? `signal ${e.signal}` : `code ${e.code}`);

/** One started child (its process is never replaced: restarts are off). */
export class Proc {
  /** How it exited; undefined while it runs. */
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;
  private asked = false;
  private settle!: (e: Exit) => void;

  constructor(
    readonly child: Child,
    private readonly sup: Supervisor,
  ) {
    this.exited = new Promise((res) => {
      this.settle = res;
    });
  }

  get name(): string {
    return this.child.name;
  }
  get pid(): number | undefined {
    return this.child.pid;
  }
  get logFile(): string {
    return this.child.logFile;
  }

  /** Everything it printed so far, stdout and stderr (read from its log file). */
  output(): string {
    try {
      return readFileSync(this.child.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** For Processes: from now on an exit is expected (teardown), died() stays null. */
  expectExit(): void {
    this.asked = true;
  }

  /** For Processes: the supervisor reported the exit. */
  exitedWith(e: Exit): void {
    this.exit = e;
    this.settle(e);
  }

  /** Sends `signal` (SIGTERM: a graceful stop) and waits for the exit; SIGKILL for its group after 30 s. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    this.asked = true;
    if (this.exit) return this.exit;
    if (signal === this.child.stopSignal) {
      await this.sup.stopOne(this.child, STOP_TIMEOUT_MS);
      return this.exited;
    }
    this.child.proc.kill(signal);
    const pid = this.pid;
    const deadline = setTimeout(() => {
      if (pid !== undefined)
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
    }, STOP_TIMEOUT_MS);
    const e = await this.exited;
    clearTimeout(deadline);
    return e;
  }

  /** kill -9, and waits for the exit. */
  kill9(): Promise<Exit> {
    return this.stop('SIGKILL');
  }

  /** Sends a signal that is not meant to end it (SIGSTOP, SIGCONT). */
  signal(signal: NodeJS.Signals): void {
    this.child.proc.kill(signal);
  }

  /** Waits for a one-shot process (a CLI, a refused configuration) to exit; after timeoutMs it is killed and this throws. */
  async exitWithin(timeoutMs = 60_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((res) => {
      timer = setTimeout(() => res('late'), timeoutMs);
    });
    const e = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (e !== 'late') return e;
    await this.kill9();
    throw new Error(`${this.name} did not exit within ${timeoutMs} ms; last lines of ${this.logFile}:\n${tail(this.logFile, 30)}`);
  }

  /** null while it runs, after a clean exit (code 0) or when the test stopped it; otherwise how it exited and the end of its log. (Unbound: pass it as waitFor's `died`.) */
  died = (): string | null => {
    if (!this.exit || this.asked || (this.exit.code === 0 && this.exit.signal === null)) return null;
    return `${this.name} exited (${describeExit(this.exit)}); last lines of ${this.logFile}:\n${tail(this.logFile, 30)}`;
  };
}

/** Added to the test process's environment; `undefined` removes a variable (e.g. MONGO_URI for a launcher that starts its own mongod). */
export type Env = Record<string, string | undefined>;

export interface Processes {
  /** A temp dir for this file's processes (logs in <dir>/logs), removed at the end. */
  readonly dir: string;
  /** The supervisor, for code that starts its children itself (startNginx). */
  readonly supervisor: Supervisor;
  /** `node --import tsx <entry> [...args]`; resolves once it is ready (at once without readyLine/readyUrl). */
  node(name: string, entry: string, env?: Env, opts?: StartOptions): Promise<Proc>;
  /** Any command (`npm start`); the same options except `args`. */
  spawn(name: string, cmd: string, args: string[], env?: Env, opts?: Omit<StartOptions, 'args'>): Promise<Proc>;
  /** The first child that died (non-zero exit or a signal) without the test stopping it, with the end of its log; else null. For waitFor's `died`. */
  died(): string | null;
  /** Stops every child (SIGTERM, SIGKILL after 5 s) and removes the dir. Idempotent. */
  stopAll(): Promise<void>;
}

/** A Processes without hooks: the caller stops it (the fixture does, in its own order). */
export function createProcesses(label = 'test'): Processes {
  const dir = mkdtempSync(join(tmpdir(), `creditdesk-${label.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
  const sup = new Supervisor(join(dir, 'logs'), { stopTimeoutMs: STOP_TIMEOUT_MS });
  const procs: Proc[] = [];
  const taken = new Map<string, number>();
  sup.on('exit', (c, info) => procs.find((p) => p.child === c)?.exitedWith({ code: info.code, signal: info.signal }));
  let stopping: Promise<void> | undefined;

  /** Child names are unique per supervisor (they name the log file): a second `worker-ocr` is `worker-ocr-2`. */
  const unique = (name: string) => {
    const n = (taken.get(name) ?? 0) + 1;
    taken.set(name, n);
    return n === 1 ? name : `${name}-${n}`;
  };

  const spawn: Processes['spawn'] = async (name, cmd, args, env = {}, o = {}) => {
    const timeoutMs = o.timeoutMs ?? 60_000;
    const child = sup.spawn(unique(name), cmd, args, env, {
      group: 'test',
      ...(o.readyUrl ? { readyUrl: o.readyUrl, readyTimeoutMs: timeoutMs } : {}),
    });
    const p = new Proc(child, sup);
    procs.push(p);
    try {
      await sup.whenUp(child);
      const line = o.readyLine;
      if (line !== undefined) {
        const printed = typeof line === 'string' ? () => p.output().includes(line) : () => line.test(p.output());
        await waitFor(`${child.name} to print ${typeof line === 'string' ? JSON.stringify(line) : String(line)}`, printed, {
          timeoutMs,
          intervalMs: 25,
          died: () => (p.exit ? `it exited (${describeExit(p.exit)})` : null),
        });
      }
    } catch (e) {
      await p.kill9();
      throw new Error(
        `${child.name} (${[cmd, ...args].join(' ')}) did not get ready: ${(e as Error).message}; last lines of ${child.logFile}:\n${tail(child.logFile, 30)}`,
      );
    }
    return p;
  };

  return {
    dir,
    supervisor: sup,
    spawn,
    node: (name, entry, env, o = {}) => spawn(name, process.execPath, ['--import', 'tsx', entry, ...(o.args ?? [])], env, o),
    died: () => procs.map((p) => p.died()).find((d) => d !== null) ?? null,
    stopAll: () =>
      (stopping ??= (async () => {
        for (const p of procs) p.expectExit();
        await sup.stopAll(TEARDOWN_TIMEOUT_MS);
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

/** One Processes per test file (or describe block), stopped in after(). */
export function processes(label = 'test'): Processes {
  const p = createProcesses(label);
  after(() => p.stopAll());
  return p;
}
