// The one way a test waits: poll a check until it returns something truthy, within a deadline.
// The deadline is a bound (a hung test fails with a message), never an assertion about speed.
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /** Pause between checks (default 50 ms). */
  intervalMs?: number;
  /**
   * Asked after every miss: null while the processes the wait depends on run, a description
   * (exit, last log lines) once one died, which ends the wait at once with that description.
   */
  died?: () => string | null;
}

const truthy = <T>(v: T): v is NonNullable<T> => Boolean(v);

function describe(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Resolves with the first truthy value `check` returns; throws naming `what` when the deadline passes or a watched process died. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await check();
    if (truthy(last)) return last;
    const dead = opts.died?.() ?? null;
    if (dead !== null) throw new Error(`gave up waiting for ${what}: ${dead}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${describe(last)})`);
    await sleep(opts.intervalMs ?? 50);
  }
}
