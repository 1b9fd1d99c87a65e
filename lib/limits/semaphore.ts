// A counting semaphore with a short, bounded wait queue, for work that must not pile up in one
// process (argon2 verifications: each holds ~19 MiB and a libuv thread for ~25 ms). A caller
// either gets a slot at once, waits in the queue (at most `queueMax` callers, each at most
// `waitMs`), or is refused at once — it never waits without bound (ADR 0028).

/** Gives the slot back; calling it again does nothing. */
export type Release = () => void;

export interface SemaphoreLimits {
  /** Slots: holders at once. */
  max: number;
  /** Callers that may wait for a slot; 0 = none (refused when every slot is taken). */
  queueMax: number;
  /** How long a waiting caller waits before it is refused. */
  waitMs: number;
}

interface Waiter {
  grant(release: Release): void;
  timer: NodeJS.Timeout;
}

export class Semaphore {
  private active = 0;
  private readonly waiters: Waiter[] = [];

  constructor(private readonly limits: SemaphoreLimits) {}

  /** Holders right now, and callers waiting. */
  stats(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiters.length };
  }

  /**
   * A slot (its release function), or `undefined` when refused: every slot taken and the queue
   * full, or the wait ran out. `waitMs` shortens the wait (never lengthens it): a caller that
   * already waited elsewhere gets only what is left of its budget; 0 = a free slot or nothing.
   */
  acquire(waitMs = this.limits.waitMs): Promise<Release | undefined> {
    if (this.active < this.limits.max) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    const wait = Math.min(waitMs, this.limits.waitMs);
    if (this.waiters.length >= this.limits.queueMax || wait <= 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve(undefined);
        }, wait),
      };
      this.waiters.push(waiter);
    });
  }

  /** The release function of one slot: hands the slot straight to the oldest waiter, or frees it. */
  private releaser(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiters.shift();
      if (next) {
        clearTimeout(next.timer);
        next.grant(this.releaser()); // the slot passes on: `active` is unchanged
      } else this.active--;
    };
  }
}
