// Wake-up hints for idle worker lanes: a change stream on `events` (new or re-queued pending
// events) and a slow poll for events that become due later and for when the stream drops.
// Parked lanes wait on a promise: no busy loop when idle.
import type { ChangeStream, Db } from 'mongodb';
import { eventsCollection } from './collection.js';

export class Parking {
  private waiters: Array<() => void> = [];
  private closed = false;

  /** Resolves on wake(); at once after close() (a stopping worker's lanes must not park). */
  park(): Promise<void> {
    return this.closed
      ? Promise.resolve()
      : new Promise((res) => {
          this.waiters.push(res);
        });
  }
  close(): void {
    this.closed = true;
    this.wakeAll();
  }
  get parked(): number {
    return this.waiters.length;
  }
  /** Wakes up to n parked lanes. */
  wake(n = 1): void {
    for (let i = 0; i < n && this.waiters.length > 0; i++) this.waiters.shift()!();
  }
  wakeAll(): void {
    this.wake(this.waiters.length);
  }
}

export interface WakeSourceOptions {
  db: Db;
  pollMs: number;
  onWake(): void;
  onError(e: unknown): void;
}

/** Starts the change stream (re-opened after errors, at most every second) and the poll timer. */
export function startWakeSources(o: WakeSourceOptions): { close(): Promise<void> } {
  let closed = false;
  let stream: ChangeStream | undefined;
  let reopen: NodeJS.Timeout | undefined;
  const poll = setInterval(o.onWake, o.pollMs);

  const open = () => {
    if (closed) return;
    stream = eventsCollection(o.db).watch([
      { $match: { $or: [{ operationType: 'insert' }, { operationType: 'update', 'updateDescription.updatedFields.state': 'pending' }] } },
      { $project: { operationType: 1 } },
    ]);
    stream.on('change', () => o.onWake());
    stream.once('error', (e) => {
      o.onError(e);
      void stream?.close().catch(() => {});
      stream = undefined;
      if (!closed) reopen = setTimeout(open, 1000);
      o.onWake();
    });
  };
  open();

  return {
    async close() {
      closed = true;
      clearInterval(poll);
      if (reopen) clearTimeout(reopen);
      await stream?.close().catch(() => {});
    },
  };
}
