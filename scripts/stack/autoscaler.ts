// Scales each worker role's processes with its backlog, on the launcher's own Supervisor.
//
// Every `intervalMs` it reads every scaled role's backlog with ONE aggregation (groupBacklog,
// lib/queue/backlog.ts: due + running events of the role's types, oldest due age) and asks
// decideScale (scale-decision.ts) how many processes each role should run. Adding spawns
// `worker-<role>-<n>` through `spawn` (n only grows: the supervisor keeps retired children by name);
// retiring stops the newest process with the supervisor's stopOne — its stop signal, SIGTERM, makes
// workers/main.ts drain: no new claims, in-flight events finish (until SHUTDOWN_TIMEOUT_MS), the rest
// are released, never abandoned. A retiring process no longer counts; stop() waits for it.
//
// Every change is logged (role, from → to, backlog, oldest due age, why), and so is the first
// decision that holds a change back (a cool-down), so an operator sees the count per role move.
// A process that exits on its own is the restart policy's business (npm start restarts it); one
// that ended for good (no policy, or crash-looped) no longer counts and is replaced when needed.
import type { Db } from 'mongodb';
import { type Backlog, groupBacklog } from '../../lib/queue/backlog.js';
import { decideScale, type ScaleMemory, type ScalePolicy } from './scale-decision.js';
import type { Child, Supervisor } from './supervisor.js';

export interface RoleScaling {
  role: string;
  /** The event types the role's processes handle (workers/role-events.ts). */
  types: readonly string[];
  policy: ScalePolicy;
}

export interface AutoscalerOptions {
  supervisor: Supervisor;
  /** The database whose `events` the roles consume. */
  db: Db;
  roles: RoleScaling[];
  /** The processes each role runs already (started by the stack: its minimum), oldest first. */
  initial: Readonly<Record<string, readonly Child[]>>;
  /** Starts one more process of `role` named `name` on the supervisor. */
  spawn: (role: string, name: string) => Child;
  /** How often the backlog is read. */
  intervalMs: number;
  log: (m: string) => void;
  /** Called once stop() has finished (e.g. to close the connection `db` came from). */
  close?: () => Promise<void>;
}

export interface RoleStatus {
  processes: number;
  backlog: Backlog;
  /** The last decision's reason. */
  reason: string;
}

interface RoleState extends ScaleMemory {
  scaling: RoleScaling;
  /** Counted processes, oldest first: the newest is retired first. */
  children: Child[];
  next: number;
  status: RoleStatus;
  /** The reason last logged for holding back, so a cool-down is logged once, not every poll. */
  held: string | undefined;
}

const ENDED = new Set(['stopping', 'stopped', 'exited', 'failed']);
const secs = (ms: number) => `${+(ms / 1000).toFixed(1)} s`;

export class Autoscaler {
  private readonly roles: RoleState[];
  private readonly retiring = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly o: AutoscalerOptions) {
    this.roles = o.roles.map((scaling) => {
      const children = [...(o.initial[scaling.role] ?? [])];
      return {
        scaling,
        children,
        next: children.length + 1,
        lastChangeAt: Number.NEGATIVE_INFINITY,
        lowSince: undefined,
        held: undefined,
        status: { processes: children.length, backlog: { due: 0, running: 0, oldestDueAgeMs: 0 }, reason: 'not read yet' },
      };
    });
  }

  /** Starts polling (the first read at once). */
  start(): this {
    const loop = () => {
      if (this.stopped) return;
      this.tick = this.step().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.o.intervalMs);
      });
    };
    loop();
    return this;
  }

  /** Per role: processes counted now, the last backlog read, the last reason. */
  status(): Record<string, RoleStatus> {
    return Object.fromEntries(this.roles.map((r) => [r.scaling.role, { ...r.status, processes: r.children.length }]));
  }

  /** Stops scaling and waits for the current poll and every retiring process (drained or killed at the supervisor's deadline); idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      clearTimeout(this.timer);
      await this.tick;
      await Promise.all(this.retiring);
      await this.o.close?.();
    })();
    return this.stopping;
  }

  /** One poll: read every role's backlog, decide, act. A failed read is logged and retried next poll. */
  private async step(): Promise<void> {
    let backlogs: Record<string, Backlog>;
    try {
      backlogs = await groupBacklog(this.o.db, Object.fromEntries(this.roles.map((r) => [r.scaling.role, r.scaling.types])));
    } catch (e) {
      this.o.log(`autoscale: reading the backlog failed (${(e as Error).message}); trying again in ${secs(this.o.intervalMs)}`);
      return;
    }
    if (this.stopped) return;
    const now = performance.now();
    for (const r of this.roles) this.scaleRole(r, backlogs[r.scaling.role]!, now);
  }

  private scaleRole(r: RoleState, b: Backlog, now: number): void {
    const ended = r.children.filter((c) => ENDED.has(c.state));
    for (const c of ended) this.o.log(`autoscale ${r.scaling.role}: ${c.name} ended on its own (${c.state}); no longer counted`);
    r.children = r.children.filter((c) => !ENDED.has(c.state));
    const from = r.children.length;
    const d = decideScale(r.scaling.policy, b, from, now, r);
    r.lowSince = d.lowSince;
    r.status = { processes: from, backlog: b, reason: d.reason };
    const role = r.scaling.role;
    const what = `backlog ${b.due + b.running} (${b.due} due + ${b.running} running), oldest due ${secs(b.oldestDueAgeMs)}`;
    if (d.desired === from) {
      // A change held back (a cool-down) is worth one line when it starts; a steady state is not.
      const holding = d.reason.includes('cool-down') ? 'up' : d.lowSince !== undefined ? 'down' : undefined;
      if (holding && holding !== r.held) this.o.log(`autoscale ${role}: stays at ${from}; ${what}: ${d.reason}`);
      r.held = holding;
      return;
    }
    r.held = undefined;
    try {
      while (r.children.length < d.desired) r.children.push(this.o.spawn(role, `worker-${role}-${r.next++}`));
    } catch (e) {
      // The supervisor is stopping: nothing more to start.
      this.o.log(`autoscale ${role}: cannot start a process (${(e as Error).message})`);
    }
    while (r.children.length > d.desired) this.retire(r.children.pop()!);
    r.lastChangeAt = now;
    r.status.processes = r.children.length;
    this.o.log(`autoscale ${role}: ${from} → ${r.children.length} processes; ${what}: ${d.reason}`);
  }

  /** SIGTERM → the worker drains; SIGKILL only at the supervisor's stop deadline. */
  private retire(c: Child): void {
    const done = this.o.supervisor.stopOne(c).then(
      (code) => this.o.log(`autoscale: ${c.name} retired (exit ${code ?? 'by signal'})`),
      (e: Error) => this.o.log(`autoscale: retiring ${c.name} failed (${e.message})`),
    );
    this.retiring.add(done);
    void done.finally(() => this.retiring.delete(done));
  }
}
